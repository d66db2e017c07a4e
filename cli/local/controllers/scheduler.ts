// Picks a node for a pod: an explicit spec.nodeName wins, then nodeSelector on the
// kubernetes.io/hostname label, then the node with the fewest pods (ties by name).
import type { Pod } from '../../../lib/k8s/types.js';

export const HOSTNAME_LABEL = 'kubernetes.io/hostname';

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

export function schedule(pod: Pod, nodes: NodeInfo[], podCounts: Map<string, number>): string | { error: string } {
  if (pod.spec.nodeName) {
    if (nodes.some((n) => n.name === pod.spec.nodeName)) return pod.spec.nodeName;
    return { error: `spec.nodeName: node ${pod.spec.nodeName} does not exist` };
  }
  const selector = pod.spec.nodeSelector ?? {};
  const fit = nodes.filter((n) => Object.entries(selector).every(([k, v]) => n.labels[k] === v));
  if (fit.length === 0) return { error: `spec.nodeSelector: no node matches ${JSON.stringify(selector)}` };
  const sorted = [...fit].sort((a, b) => (podCounts.get(a.name) ?? 0) - (podCounts.get(b.name) ?? 0) || a.name.localeCompare(b.name));
  return sorted[0]!.name;
}
