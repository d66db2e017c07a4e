/**
 * Pods → `istio.workload.Workload` (resource name = uid `<cluster>//Pod/<ns>/<name>`). Every pod
 * with an IP becomes a workload, enrolled or not: enrolment only shows in `tunnel_protocol`.
 */
import { A, canonicalOf, L, workloadOf, type SelectorIndex } from './labels.js';
import { canonicalIp } from './net.js';
import { isRecord, readMeta, readSpec, type Problems } from './objects.js';
import type { PeerAuthResult } from './peerauth.js';
import type { SelectorPolicy } from './policies.js';
import { NO_NAMESPACE, type NamespaceInfo, type ParsedService } from './services.js';
import { bindWorkload, type Waypoint } from './waypoints.js';
import type { ResolvedOptions, WorkloadModel } from './types.js';

export interface WorkloadContext {
  opts: ResolvedOptions;
  namespaces: ReadonlyMap<string, NamespaceInfo>;
  /** Services with a selector, by namespace. */
  servicesByNs: ReadonlyMap<string, SelectorIndex<ParsedService>>;
  waypoints: Map<string, Waypoint>;
  /** Selector-scoped policies, by namespace. */
  selectorPolicies: ReadonlyMap<string, SelectorIndex<SelectorPolicy>>;
  peerAuth: PeerAuthResult;
  localities: ReadonlyMap<string, { region: string; zone: string; subzone: string }>;
}

interface ContainerPortInfo {
  name: string;
  port: number;
  protocol: string;
}

function containerPorts(spec: Record<string, unknown>): ContainerPortInfo[] {
  const out: ContainerPortInfo[] = [];
  const containers = Array.isArray(spec.containers) ? spec.containers : [];
  for (const c of containers) {
    const ports = isRecord(c) && Array.isArray(c.ports) ? c.ports : [];
    for (const p of ports) {
      if (isRecord(p) && typeof p.name === 'string' && typeof p.containerPort === 'number') {
        out.push({ name: p.name, port: p.containerPort, protocol: typeof p.protocol === 'string' ? p.protocol : 'TCP' });
      }
    }
  }
  return out;
}

/** Pod IPs in canonical form; undefined (with a problem) when one is malformed. */
function podIps(status: Record<string, unknown>, id: string, problems: Problems): string[] | undefined {
  const raw: Array<[string, unknown]> = Array.isArray(status.podIPs)
    ? status.podIPs.map((p, i) => [`status.podIPs[${i}].ip`, isRecord(p) ? p.ip : p])
    : status.podIP !== undefined && status.podIP !== '' ? [['status.podIP', status.podIP]] : [];
  const out: string[] = [];
  for (const [field, v] of raw) {
    const ip = canonicalIp(v);
    if (!ip) return void problems.add(id, field, `${JSON.stringify(v)} is not an IP address`);
    if (!out.includes(ip)) out.push(ip);
  }
  return out;
}

function isReady(status: Record<string, unknown>): boolean {
  const conds = Array.isArray(status.conditions) ? status.conditions : [];
  return conds.some((c) => isRecord(c) && c.type === 'Ready' && c.status === 'True');
}

function servicePorts(svc: ParsedService, cports: readonly ContainerPortInfo[]): Array<{ servicePort: number; targetPort: number }> {
  const out: Array<{ servicePort: number; targetPort: number }> = [];
  for (const p of svc.ports) {
    if (typeof p.target === 'number') out.push({ servicePort: p.port, targetPort: p.target });
    else {
      // A name this pod does not declare means the service port has no endpoint on this pod.
      const cp = cports.find((c) => c.name === p.target && c.protocol === p.protocol);
      if (cp) out.push({ servicePort: p.port, targetPort: cp.port });
    }
  }
  return out;
}

export function buildWorkloads(pods: readonly unknown[], ctx: WorkloadContext, problems: Problems): Map<string, WorkloadModel> {
  const out = new Map<string, WorkloadModel>();
  const { opts } = ctx;
  for (const pod of pods) {
    const meta = readMeta(pod, 'Pod', true, problems);
    if (!meta || !isRecord(pod)) continue;
    const spec = readSpec(pod, meta.id, problems);
    if (!spec) continue;
    const status = isRecord(pod.status) ? pod.status : {};
    if (status.phase === 'Succeeded' || status.phase === 'Failed') continue;
    const addresses = podIps(status, meta.id, problems);
    if (!addresses || addresses.length === 0) continue;
    const uid = `${opts.clusterId}//Pod/${meta.namespace}/${meta.name}`;
    if (out.has(uid)) {
      problems.add(meta.id, 'metadata.name', 'duplicate Pod; the first one is used');
      continue;
    }
    const ns = ctx.namespaces.get(meta.namespace) ?? NO_NAMESPACE;
    const owner = workloadOf(meta);
    const canonical = canonicalOf(meta.labels, owner.name);
    const nativeTunnel = (meta.labels[L.tunnel] ?? '').includes('http');
    const hbone = meta.annotations[A.redirection] === 'enabled' || nativeTunnel;

    const cports = containerPorts(spec);
    const services: WorkloadModel['services'] = {};
    for (const svc of ctx.servicesByNs.get(meta.namespace)?.matching(meta.labels) ?? []) services[svc.key] = servicePorts(svc, cports);

    const policies = new Set<string>(ctx.peerAuth.forPod(meta.namespace, meta.labels));
    const scopes = meta.namespace === opts.rootNamespace ? [meta.namespace] : [meta.namespace, opts.rootNamespace];
    for (const scope of scopes) {
      for (const p of ctx.selectorPolicies.get(scope)?.matching(meta.labels) ?? []) policies.add(p.key);
    }

    const sa = [spec.serviceAccountName, spec.serviceAccount].find((v): v is string => typeof v === 'string' && v !== '');
    const node = typeof spec.nodeName === 'string' ? spec.nodeName : '';
    out.set(uid, {
      uid,
      name: meta.name,
      namespace: meta.namespace,
      addresses,
      network: opts.network,
      tunnelProtocol: hbone ? 'HBONE' : 'NONE',
      nativeTunnel,
      trustDomain: opts.trustDomain === 'cluster.local' ? '' : opts.trustDomain,
      serviceAccount: sa ?? 'default',
      waypoint: bindWorkload(meta, ns.labels, ctx.waypoints),
      node,
      canonicalName: canonical.name,
      canonicalRevision: canonical.revision,
      workloadType: owner.type,
      workloadName: owner.name,
      services,
      authorizationPolicies: [...policies].sort(),
      status: isReady(status) && !meta.deletionTimestamp ? 'HEALTHY' : 'UNHEALTHY',
      clusterId: opts.clusterId,
      locality: ctx.localities.get(node),
      networkMode: spec.hostNetwork === true ? 'HOST_NETWORK' : 'STANDARD',
    });
  }
  return out;
}
