// Where a pod goes, as kube-scheduler would decide for the pods `ambit up --kubernetes` runs
// (pure): the nodes matching spec.nodeSelector and the required node affinity (matchFields on
// metadata.name, as the DaemonSet controller writes, and matchExpressions on labels), then the one
// with the fewest pods, ties by name.
import type { Pod } from '../../../lib/k8s/types.js';

export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
}

interface Requirement {
  key: string;
  operator: string;
  values?: string[];
}

interface NodeSelectorTerm {
  matchExpressions?: Requirement[];
  matchFields?: Requirement[];
}

/** The pod's required node-affinity terms (any one must match), if it has any. */
function requiredTerms(pod: Pod): NodeSelectorTerm[] | undefined {
  const spec = pod.spec as { affinity?: { nodeAffinity?: { requiredDuringSchedulingIgnoredDuringExecution?: { nodeSelectorTerms?: NodeSelectorTerm[] } } } };
  return spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
}

/** One requirement against a value (undefined: the label is absent); an unknown operator is an error. */
export function requirementMatches(r: Requirement, value: string | undefined): boolean | { error: string } {
  const vals = r.values ?? [];
  switch (r.operator) {
    case 'In':
      return value !== undefined && vals.includes(value);
    case 'NotIn':
      return value === undefined || !vals.includes(value);
    case 'Exists':
      return value !== undefined;
    case 'DoesNotExist':
      return value === undefined;
    case 'Gt':
    case 'Lt': {
      const [a, b] = [Number(value), Number(vals[0])];
      if (value === undefined || !Number.isInteger(a) || !Number.isInteger(b)) return false;
      return r.operator === 'Gt' ? a > b : a < b;
    }
    default:
      return { error: `operator "${r.operator}" of key "${r.key}" is not a node selector operator (In, NotIn, Exists, DoesNotExist, Gt, Lt)` };
  }
}

function termMatches(t: NodeSelectorTerm, n: NodeInfo, where: string): boolean | { error: string } {
  const checks: Array<[Requirement, string | undefined, string]> = [
    ...(t.matchExpressions ?? []).map((r, i): [Requirement, string | undefined, string] => [r, n.labels[r.key], `${where}.matchExpressions[${i}]`]),
    ...(t.matchFields ?? []).map((r, i): [Requirement, string | undefined, string] => {
      if (r.key !== 'metadata.name') return [{ ...r, operator: `unsupported field "${r.key}"` }, undefined, `${where}.matchFields[${i}]`];
      return [r, n.name, `${where}.matchFields[${i}]`];
    }),
  ];
  for (const [r, v, at] of checks) {
    const m = requirementMatches(r, v);
    if (typeof m === 'object') return { error: `${at}: ${m.error}` };
    if (!m) return false;
  }
  // An empty term matches no node, as in Kubernetes.
  return checks.length > 0;
}

const AFFINITY = 'spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms';

export function placePod(pod: Pod, nodes: NodeInfo[], podCounts: ReadonlyMap<string, number>): string | { error: string } {
  const selector = pod.spec.nodeSelector ?? {};
  const terms = requiredTerms(pod);
  const fit: NodeInfo[] = [];
  for (const n of nodes) {
    if (!Object.entries(selector).every(([k, v]) => n.labels[k] === v)) continue;
    if (terms) {
      let any = false;
      for (const [i, t] of terms.entries()) {
        const m = termMatches(t, n, `${AFFINITY}[${i}]`);
        if (typeof m === 'object') return m;
        if (m) any = true;
      }
      if (!any) continue;
    }
    fit.push(n);
  }
  if (fit.length === 0) {
    const why = [Object.keys(selector).length ? `spec.nodeSelector ${JSON.stringify(selector)}` : '', terms ? 'the required node affinity' : ''].filter(Boolean).join(' and ');
    return { error: `no node of ${nodes.length} matches ${why || 'the pod'}` };
  }
  fit.sort((a, b) => (podCounts.get(a.name) ?? 0) - (podCounts.get(b.name) ?? 0) || a.name.localeCompare(b.name));
  return fit[0]!.name;
}
