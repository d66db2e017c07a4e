// What the controller writes to bring one object to what it rendered, and which of its objects
// have lost their Gateway. Pure. Fields the cluster fills in (a Service's cluster IP, status) and
// labels or annotations others added are kept; an object without the `gateway.istio.io/managed`
// label is someone else's and is never changed.
import { isDeepStrictEqual } from 'node:util';
import type { KubeObject } from '../../lib/store/types.js';
import { GATEWAY, GATEWAY_LABELS, MANAGED_BY_MESH_CONTROLLER } from '../../lib/k8s/gateway.js';

export type ObjectAction = { action: 'create'; object: KubeObject } | { action: 'update'; object: KubeObject } | { action: 'none' } | { action: 'conflict' };

export function isManaged(o: KubeObject): boolean {
  return o.metadata.labels?.[GATEWAY_LABELS.managed] === MANAGED_BY_MESH_CONTROLLER;
}

/** `desired` with what the cluster and others put on `current`. */
export function mergeObserved(desired: KubeObject, current: KubeObject): KubeObject {
  const next: KubeObject = structuredClone(desired);
  next.metadata.labels = { ...(current.metadata.labels ?? {}), ...(desired.metadata.labels ?? {}) };
  const annotations = { ...(current.metadata.annotations ?? {}), ...(desired.metadata.annotations ?? {}) };
  if (Object.keys(annotations).length > 0) next.metadata.annotations = annotations;
  if (current.status !== undefined) next.status = current.status;
  if (desired.kind === 'Service') {
    const cur = (current.spec ?? {}) as { clusterIP?: string; clusterIPs?: string[] };
    const spec = next.spec as Record<string, unknown>;
    if (cur.clusterIP && spec.clusterIP === undefined) spec.clusterIP = cur.clusterIP;
    if (cur.clusterIPs && spec.clusterIPs === undefined) spec.clusterIPs = cur.clusterIPs;
  }
  return next;
}

const observable = (o: KubeObject) => ({ labels: o.metadata.labels ?? {}, annotations: o.metadata.annotations ?? {}, ownerReferences: o.metadata.ownerReferences ?? [], spec: o.spec });

export function planObject(desired: KubeObject, current: KubeObject | undefined): ObjectAction {
  if (!current) return { action: 'create', object: desired };
  if (!isManaged(current)) return { action: 'conflict' };
  const next = mergeObserved(desired, current);
  return isDeepStrictEqual(observable(next), observable(current)) ? { action: 'none' } : { action: 'update', object: next };
}

/**
 * Managed objects to delete: those owned by a Gateway that is gone (a Gateway of the same name
 * created again has another uid), and those of Gateways that are no longer deployed (`wanted`
 * holds `<kind>/<ns>/<name>` of every object rendered in this pass).
 */
export function orphans(managed: readonly KubeObject[], gatewayUids: ReadonlyMap<string, string | undefined>, wanted: ReadonlySet<string>): KubeObject[] {
  return managed.filter((o) => {
    if (!isManaged(o)) return false;
    const owner = o.metadata.ownerReferences?.find((r) => r.kind === GATEWAY.kind && r.apiVersion.startsWith('gateway.networking.k8s.io/'));
    if (!owner) return false;
    const key = `${o.metadata.namespace ?? ''}/${owner.name}`;
    if (!gatewayUids.has(key)) return true;
    const uid = gatewayUids.get(key);
    if (uid && owner.uid && uid !== owner.uid) return true;
    return !wanted.has(`${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`);
  });
}
