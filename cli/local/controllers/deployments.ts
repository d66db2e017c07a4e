// The Deployment controller of the local cluster, as a pure function: given a Deployment and the
// pods it owns, which pods to create and which to delete. Rolling updates surge: new pods are
// created first, old ones are deleted once enough new ones are Ready.
import { createHash, randomBytes } from 'node:crypto';
import type { Deployment, Pod } from '../../../lib/k8s/types.js';
import { isPodReady, selectorMatches } from '../../../lib/k8s/types.js';

export const TEMPLATE_HASH_LABEL = 'pod-template-hash';

export function templateHash(dep: Deployment): string {
  return createHash('sha256').update(JSON.stringify(dep.spec.template)).digest('hex').slice(0, 10);
}

export interface DeploymentPlan {
  create: Pod[];
  delete: string[];
  status: { replicas: number; readyReplicas: number; updatedReplicas: number; availableReplicas: number; observedGeneration?: number };
}

/** Problems that make a Deployment unusable, each naming the field. */
export function validateDeployment(dep: Deployment): string[] {
  const errs: string[] = [];
  const spec = dep.spec as Deployment['spec'] | undefined;
  if (!spec) return ['spec: required'];
  if (spec.replicas !== undefined && (!Number.isInteger(spec.replicas) || spec.replicas < 0)) errs.push('spec.replicas: must be a non-negative integer');
  const containers = spec.template?.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0) errs.push('spec.template.spec.containers: at least one container is required');
  const sel = spec.selector?.matchLabels;
  if (!sel || Object.keys(sel).length === 0) errs.push('spec.selector.matchLabels: required');
  else if (!selectorMatches(sel, spec.template?.metadata?.labels)) errs.push('spec.template.metadata.labels: must match spec.selector.matchLabels');
  return errs;
}

function newPod(dep: Deployment, hash: string, suffix: string): Pod {
  const tpl = dep.spec.template;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${dep.metadata.name}-${hash.slice(0, 10)}-${suffix}`,
      namespace: dep.metadata.namespace,
      labels: { ...(tpl.metadata?.labels ?? {}), [TEMPLATE_HASH_LABEL]: hash },
      annotations: { ...(tpl.metadata?.annotations ?? {}) },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: dep.metadata.name, uid: dep.metadata.uid ?? '', controller: true }],
    },
    spec: structuredClone(tpl.spec),
    status: { phase: 'Pending' },
  };
}

export function ownedBy(dep: Deployment, pod: Pod): boolean {
  return pod.metadata.ownerReferences?.some((r) => r.kind === 'Deployment' && r.name === dep.metadata.name && (!dep.metadata.uid || r.uid === dep.metadata.uid)) ?? false;
}

export function planDeployment(dep: Deployment, pods: Pod[], suffix: () => string = () => randomBytes(3).toString('hex').slice(0, 5)): DeploymentPlan {
  const want = dep.spec.replicas ?? 1;
  const hash = templateHash(dep);
  const owned = pods.filter((p) => ownedBy(dep, p) && !p.metadata.deletionTimestamp);
  const current = owned.filter((p) => p.metadata.labels?.[TEMPLATE_HASH_LABEL] === hash);
  const old = owned.filter((p) => p.metadata.labels?.[TEMPLATE_HASH_LABEL] !== hash);
  const create: Pod[] = [];
  const del: string[] = [];
  for (let i = current.length; i < want; i++) create.push(newPod(dep, hash, suffix()));
  if (current.length > want) {
    // Scale down: drop pods that are not ready first, then the newest.
    const ranked = [...current].sort((a, b) => Number(isPodReady(a)) - Number(isPodReady(b)) || (b.metadata.creationTimestamp ?? '').localeCompare(a.metadata.creationTimestamp ?? ''));
    del.push(...ranked.slice(0, current.length - want).map((p) => p.metadata.name));
  }
  const readyCurrent = current.filter(isPodReady).length;
  if (readyCurrent >= want || want === 0) del.push(...old.map((p) => p.metadata.name));
  const ready = owned.filter(isPodReady).length;
  return {
    create,
    delete: del,
    status: {
      replicas: owned.length,
      readyReplicas: ready,
      availableReplicas: ready,
      updatedReplicas: current.length,
      ...(dep.metadata.generation !== undefined ? { observedGeneration: dep.metadata.generation } : {}),
    },
  };
}
