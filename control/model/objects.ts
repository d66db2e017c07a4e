/**
 * Defensive reading of untrusted Kubernetes-shaped objects: every accessor either returns a value
 * of the expected type or records a Problem naming the object and the field.
 */
import type { Problem } from './types.js';

export class Problems {
  readonly list: Problem[] = [];
  add(object: string, field: string, message: string): void {
    this.list.push({ object, field, message });
  }
}

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `Kind ns/name`, or `Kind name` for cluster-scoped objects. */
export function objectId(kind: string, namespace: string | undefined, name: string | undefined): string {
  const n = name || '<no name>';
  return namespace ? `${kind} ${namespace}/${n}` : `${kind} ${n}`;
}

export interface Meta {
  /** `Kind ns/name`, for problem entries. */
  id: string;
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  creationTimestamp: string;
  deletionTimestamp?: string;
  ownerReferences: Array<{ kind: string; name: string; controller: boolean }>;
}

const EMPTY: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A string→string map (labels, selectors). `undefined` when absent; `null` when malformed. */
export function stringMap(v: unknown): Record<string, string> | undefined | null {
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) return null;
  for (const x of Object.values(v)) if (typeof x !== 'string') return null;
  return v as Record<string, string>;
}

/**
 * The metadata of an object, or undefined (with a problem) when it is unusable: no name, no
 * namespace for a namespaced kind, labels that are not a string map.
 */
export function readMeta(obj: unknown, kind: string, namespaced: boolean, problems: Problems): Meta | undefined {
  const md = isRecord(obj) && isRecord(obj.metadata) ? obj.metadata : undefined;
  const name = typeof md?.name === 'string' ? md.name : '';
  const namespace = typeof md?.namespace === 'string' ? md.namespace : '';
  const id = objectId(kind, namespaced ? namespace || '<no namespace>' : undefined, name);
  if (!md) {
    problems.add(id, 'metadata', 'metadata is missing or not an object');
    return undefined;
  }
  if (!name) {
    problems.add(id, 'metadata.name', 'a name is required');
    return undefined;
  }
  if (namespaced && !namespace) {
    problems.add(id, 'metadata.namespace', 'a namespace is required');
    return undefined;
  }
  const labels = stringMap(md.labels);
  if (labels === null) {
    problems.add(id, 'metadata.labels', 'labels must map strings to strings');
    return undefined;
  }
  const annotations = stringMap(md.annotations);
  if (annotations === null) {
    problems.add(id, 'metadata.annotations', 'annotations must map strings to strings');
    return undefined;
  }
  const owners = Array.isArray(md.ownerReferences) ? md.ownerReferences : [];
  return {
    id,
    name,
    namespace,
    labels: labels ?? EMPTY,
    annotations: annotations ?? EMPTY,
    creationTimestamp: typeof md.creationTimestamp === 'string' ? md.creationTimestamp : '',
    deletionTimestamp: typeof md.deletionTimestamp === 'string' && md.deletionTimestamp ? md.deletionTimestamp : undefined,
    ownerReferences: owners.filter(isRecord).flatMap((o) =>
      typeof o.kind === 'string' && typeof o.name === 'string' ? [{ kind: o.kind, name: o.name, controller: o.controller === true }] : [],
    ),
  };
}

/** `spec` as a record; absent → `{}`; malformed → undefined with a problem. */
export function readSpec(obj: unknown, id: string, problems: Problems): Record<string, unknown> | undefined {
  const spec = isRecord(obj) ? obj.spec : undefined;
  if (spec === undefined || spec === null) return {};
  if (!isRecord(spec)) {
    problems.add(id, 'spec', 'spec must be an object');
    return undefined;
  }
  return spec;
}

/** Oldest first (creationTimestamp, then name): Istio's tie-break when several policies compete. */
export function byAge(a: Meta, b: Meta): number {
  const ta = a.creationTimestamp || '\uffff';
  const tb = b.creationTimestamp || '\uffff';
  return ta < tb ? -1 : ta > tb ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** A TCP/UDP port number given as a number or a decimal string; undefined when invalid. */
export function parsePort(v: unknown): number | undefined {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,5}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) && n >= 1 && n <= 65535 ? n : undefined;
}
