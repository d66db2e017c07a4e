// The Endpoints controller as a pure function: a Service's selector over pods, with Ready pods in
// `addresses` and the rest in `notReadyAddresses`, and named target ports resolved per pod (pods
// that name a port differently land in different subsets, as in Kubernetes).
import type { EndpointAddress, EndpointSubset, Pod, Service } from '../../../lib/k8s/types.js';
import { isPodReady, selectorMatches } from '../../../lib/k8s/types.js';

function resolveTargetPort(pod: Pod, target: number | string | undefined, port: number): number | undefined {
  if (target === undefined) return port;
  if (typeof target === 'number') return target;
  if (/^\d+$/.test(target)) return Number(target);
  for (const c of pod.spec.containers) {
    const p = c.ports?.find((cp) => cp.name === target);
    if (p) return p.containerPort;
  }
  return undefined;
}

export function buildEndpoints(svc: Service, pods: Pod[]): EndpointSubset[] {
  const ports = svc.spec.ports ?? [];
  const bySignature = new Map<string, EndpointSubset>();
  for (const pod of pods) {
    if (pod.metadata.namespace !== svc.metadata.namespace) continue;
    if (!selectorMatches(svc.spec.selector, pod.metadata.labels)) continue;
    const ip = pod.status?.podIP;
    if (!ip || pod.metadata.deletionTimestamp) continue;
    if (pod.status?.phase === 'Succeeded' || pod.status?.phase === 'Failed') continue;
    const resolved = ports.map((p) => ({ name: p.name, port: resolveTargetPort(pod, p.targetPort, p.port), protocol: p.protocol ?? 'TCP' }));
    const usable = resolved.filter((p): p is { name: string | undefined; port: number; protocol: 'TCP' | 'UDP' | 'SCTP' } => p.port !== undefined);
    if (usable.length === 0 && ports.length > 0) continue;
    const sig = JSON.stringify(usable);
    let subset = bySignature.get(sig);
    if (!subset) {
      subset = { ports: usable.map((p) => ({ ...(p.name ? { name: p.name } : {}), port: p.port, protocol: p.protocol })) };
      bySignature.set(sig, subset);
    }
    const addr: EndpointAddress = {
      ip,
      ...(pod.spec.nodeName ? { nodeName: pod.spec.nodeName } : {}),
      targetRef: { kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}) },
    };
    if (isPodReady(pod)) (subset.addresses ??= []).push(addr);
    else (subset.notReadyAddresses ??= []).push(addr);
  }
  const subsets = [...bySignature.values()];
  for (const s of subsets) {
    s.addresses?.sort((a, b) => a.ip.localeCompare(b.ip));
    s.notReadyAddresses?.sort((a, b) => a.ip.localeCompare(b.ip));
  }
  return subsets;
}
