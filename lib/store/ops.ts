/**
 * What create / apply / patch / delete do to an object, as pure decisions on (request, current
 * object): API-server semantics without any I/O, so every back end that stores objects itself can
 * share them and they can be tested in tables.
 */
import { randomUUID } from 'node:crypto';
import { apiVersionOf, kindInfo } from './kinds.js';
import { contentChanged, isPlainObject, mergePatch, objectRef, specChanged } from './objects.js';
import { describeObject, formatIssues, validateObject } from './schema.js';
import { StoreError, type KubeObject, type MergePatch, type ObjectKey } from './types.js';

/** The change to commit; `object` is owned by the caller from here on. NONE: nothing changes. */
export type Decision = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject } | { type: 'NONE'; object: KubeObject | undefined };

function ref(k: { apiVersion: string; kind: string; namespace?: string | undefined; name: string }): string {
  return objectRef(kindInfo(k).plural, k.namespace, k.name);
}

function refOf(o: KubeObject): string {
  return ref({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace, name: o.metadata.name });
}

/**
 * A deep copy as other processes will read it back from the journal (no undefined, Dates as
 * strings), so every process holds the same object.
 */
function jsonCopy<T>(v: T, subject: unknown): T {
  try {
    return JSON.parse(JSON.stringify(v)) as T;
  } catch (err) {
    throw new StoreError('Invalid', `${describeObject(subject)}: cannot be stored as JSON: ${(err as Error).message}`);
  }
}

/** Kubernetes writes timestamps to the second. */
export function timestamp(d = new Date()): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

function conflict(cur: KubeObject, want: string): StoreError {
  return new StoreError('Conflict', `${refOf(cur)} has been modified (resourceVersion is ${cur.metadata.resourceVersion ?? '?'}, not ${want}); read it again and retry`);
}

/**
 * Validates a user's object and puts it in storage form: a copy at the kind's preferred version,
 * namespaced kinds in `default` when no namespace is given, cluster-scoped ones without one.
 */
export function prepare(obj: KubeObject): KubeObject {
  const v = validateObject(obj);
  if (!v.ok) throw new StoreError('Invalid', formatIssues(describeObject(obj), v.issues));
  const info = kindInfo(obj);
  const c = jsonCopy(obj, obj);
  if (info.known) c.apiVersion = apiVersionOf(info);
  if (info.namespaced) c.metadata.namespace ??= 'default';
  else delete c.metadata.namespace;
  return c;
}

export function createOp(clean: KubeObject, cur: KubeObject | undefined): Decision {
  if (cur) throw new StoreError('AlreadyExists', `${refOf(clean)} already exists`);
  const m = clean.metadata;
  delete m.resourceVersion;
  delete m.deletionTimestamp;
  m.uid = randomUUID();
  m.creationTimestamp = timestamp();
  m.generation = 1;
  return { type: 'ADDED', object: clean };
}

function finish(cur: KubeObject, next: KubeObject): Decision {
  next.metadata.uid = cur.metadata.uid;
  next.metadata.creationTimestamp = cur.metadata.creationTimestamp;
  next.metadata.resourceVersion = cur.metadata.resourceVersion;
  next.metadata.generation = (cur.metadata.generation ?? 1) + (specChanged(cur, next) ? 1 : 0);
  return contentChanged(cur, next) ? { type: 'MODIFIED', object: next } : { type: 'NONE', object: cur };
}

/**
 * Create or replace. A replaced object keeps uid and creationTimestamp, and keeps its status when
 * the new one has none (status is the controllers', as with a status subresource). A
 * resourceVersion in the object is a precondition. Unchanged content is not a change.
 */
export function applyOp(clean: KubeObject, cur: KubeObject | undefined): Decision {
  if (!cur) return createOp(clean, undefined);
  const want = clean.metadata.resourceVersion;
  if (want !== undefined && want !== cur.metadata.resourceVersion) throw conflict(cur, want);
  if (!('status' in clean) && cur.status !== undefined) clean.status = structuredClone(cur.status);
  return finish(cur, clean);
}

/** RFC 7386 merge patch; `metadata.resourceVersion` in the patch is a precondition, as on an API server. */
export function patchOp(key: ObjectKey, cur: KubeObject | undefined, patch: MergePatch, resourceVersion?: string): Decision {
  if (!isPlainObject(patch)) throw new StoreError('Invalid', `patch of ${ref(key)} must be a JSON object`);
  if (!cur) throw new StoreError('NotFound', `${ref({ ...key, namespace: kindInfo(key).namespaced ? (key.namespace ?? 'default') : undefined })} not found`);
  const meta = isPlainObject(patch.metadata) ? patch.metadata : undefined;
  const want = resourceVersion ?? (typeof meta?.resourceVersion === 'string' ? meta.resourceVersion : undefined);
  if (want !== undefined && want !== cur.metadata.resourceVersion) throw conflict(cur, want);
  for (const f of ['name', 'namespace', 'uid'] as const) {
    if (meta && f in meta && meta[f] !== cur.metadata[f]) throw new StoreError('Invalid', `${refOf(cur)}: metadata.${f}: cannot be changed by a patch`);
  }
  if (patch.metadata === null) throw new StoreError('Invalid', `${refOf(cur)}: metadata: cannot be removed`);
  if (patch.kind !== undefined && patch.kind !== cur.kind) throw new StoreError('Invalid', `${refOf(cur)}: kind: cannot be changed by a patch`);
  const next = jsonCopy(mergePatch(cur, patch), cur) as KubeObject;
  next.apiVersion = cur.apiVersion;
  const v = validateObject(next);
  if (!v.ok) throw new StoreError('Invalid', formatIssues(describeObject(next), v.issues));
  return finish(cur, next);
}
