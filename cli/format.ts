// kubectl-style tables for `ambit get`, as pure functions of the objects.
import type { KubeObject } from '../lib/store/types.js';
import type { Pod, Service } from '../lib/k8s/types.js';

export function age(created: string | undefined, now = Date.now()): string {
  if (!created) return '<unknown>';
  const s = Math.max(0, Math.floor((now - Date.parse(created)) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 120) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join('').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

/** kubectl's STATUS column: a waiting/terminated reason wins over the phase. */
export function podStatus(p: Pod): string {
  if (p.metadata.deletionTimestamp) return 'Terminating';
  for (const cs of p.status?.containerStatuses ?? []) {
    const waiting = cs.state?.waiting as { reason?: string } | undefined;
    if (waiting?.reason && waiting.reason !== 'ContainerCreating') return waiting.reason;
    const term = cs.state?.terminated as { reason?: string } | undefined;
    if (term?.reason) return term.reason;
  }
  return p.status?.reason ?? p.status?.phase ?? 'Pending';
}

type Columns = { header: string[]; row: (o: KubeObject, now: number) => string[] };

const COLUMNS: Record<string, Columns> = {
  Pod: {
    header: ['NAME', 'READY', 'STATUS', 'RESTARTS', 'AGE', 'IP', 'NODE'],
    row: (o, now) => {
      const p = o as Pod;
      const cs = p.status?.containerStatuses ?? [];
      const ready = cs.filter((c) => c.ready).length;
      const restarts = cs.reduce((n, c) => n + (c.restartCount ?? 0), 0);
      return [p.metadata.name, `${ready}/${p.spec.containers.length}`, podStatus(p), String(restarts), age(p.metadata.creationTimestamp, now), p.status?.podIP ?? '<none>', p.spec.nodeName ?? '<none>'];
    },
  },
  Service: {
    header: ['NAME', 'TYPE', 'CLUSTER-IP', 'PORT(S)', 'AGE'],
    row: (o, now) => {
      const s = o as Service;
      const ports = (s.spec.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).join(',') || '<none>';
      return [s.metadata.name, s.spec.type ?? 'ClusterIP', s.spec.clusterIP ?? '<pending>', ports, age(s.metadata.creationTimestamp, now)];
    },
  },
  Node: {
    header: ['NAME', 'STATUS', 'AGE', 'INTERNAL-IP'],
    row: (o, now) => {
      const st = o.status as { conditions?: Array<{ type: string; status: string }>; addresses?: Array<{ type: string; address: string }> } | undefined;
      const ready = st?.conditions?.find((c) => c.type === 'Ready')?.status === 'True' ? 'Ready' : 'NotReady';
      return [o.metadata.name, ready, age(o.metadata.creationTimestamp, now), st?.addresses?.find((a) => a.type === 'InternalIP')?.address ?? '<none>'];
    },
  },
  Namespace: {
    header: ['NAME', 'STATUS', 'AGE', 'LABELS'],
    row: (o, now) => [o.metadata.name, 'Active', age(o.metadata.creationTimestamp, now), Object.entries(o.metadata.labels ?? {}).map(([k, v]) => `${k}=${v}`).join(',') || '<none>'],
  },
};

const GENERIC: Columns = { header: ['NAME', 'AGE'], row: (o, now) => [o.metadata.name, age(o.metadata.creationTimestamp, now)] };

export function formatTable(kind: string, objs: KubeObject[], opts: { allNamespaces?: boolean; now?: number } = {}): string {
  const cols = COLUMNS[kind] ?? GENERIC;
  const now = opts.now ?? Date.now();
  const header = opts.allNamespaces ? ['NAMESPACE', ...cols.header] : cols.header;
  const rows = objs.map((o) => (opts.allNamespaces ? [o.metadata.namespace ?? '', ...cols.row(o, now)] : cols.row(o, now)));
  return table(header, rows);
}

/** A kubectl-style `List` for `-o json|yaml`. */
export function asList(objs: KubeObject[]): KubeObject {
  return { apiVersion: 'v1', kind: 'List', metadata: { name: '' }, items: objs } as unknown as KubeObject;
}

/** Parses `key=value` and `key-` arguments of `ambit label`. */
export function parseLabelArgs(args: string[]): { set: Record<string, string>; remove: string[] } | { error: string } {
  const set: Record<string, string> = {};
  const remove: string[] = [];
  const keyRe = /^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
  const valRe = /^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$/;
  for (const a of args) {
    if (a.endsWith('-') && !a.includes('=')) {
      const k = a.slice(0, -1);
      if (!keyRe.test(k)) return { error: `invalid label key "${k}"` };
      remove.push(k);
      continue;
    }
    const i = a.indexOf('=');
    if (i <= 0) return { error: `invalid label "${a}": expected key=value or key-` };
    const k = a.slice(0, i);
    const v = a.slice(i + 1);
    if (!keyRe.test(k)) return { error: `invalid label key "${k}"` };
    if (!valRe.test(v)) return { error: `invalid label value "${v}" for key ${k}` };
    set[k] = v;
  }
  return { set, remove };
}
