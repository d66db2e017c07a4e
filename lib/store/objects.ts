/** Pure object logic shared by the back ends: merge patch, label selectors, change detection. */
import { isDeepStrictEqual } from 'node:util';
import { StoreError, type KubeObject } from './types.js';

export function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * RFC 7386 JSON merge patch: a patch object merges key by key, `null` removes a key, any other
 * value (arrays included) replaces. Neither argument is modified.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return structuredClone(patch);
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

/** Equality-based selection: every selector label must be present with that value. */
export function matchesSelector(labels: Record<string, string> | undefined, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (labels?.[k] !== v) return false;
  return true;
}

/** A field by dotted path (`spec.nodeName`) as the API server compares it: a string, '' when absent. */
export function fieldValue(obj: unknown, path: string): string {
  let v: unknown = obj;
  for (const part of path.split('.')) v = isPlainObject(v) ? v[part] : undefined;
  return v === undefined || v === null ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v);
}

/** Equality-based field selection (ListOptions.fieldSelector). */
export function matchesFields(obj: KubeObject, selector: Record<string, string> | undefined): boolean {
  if (!selector) return true;
  for (const [path, v] of Object.entries(selector)) if (fieldValue(obj, path) !== v) return false;
  return true;
}

/** Parses `app=echo,tier==web` (what `-l` takes on a command line) into a selector. */
export function parseLabelSelector(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(',')) {
    const part = raw.trim();
    if (!part) continue;
    const m = /^([^=!\s]+)\s*==?\s*([^=!\s]*)$/.exec(part);
    if (!m || m[1] === undefined || m[2] === undefined) {
      throw new StoreError('Invalid', `label selector "${text}": "${part}" is not key=value (only equality selectors are supported)`);
    }
    out[m[1]] = m[2];
  }
  return out;
}

/** Fields that are not "spec" for generation purposes: as on an API server, only the rest counts. */
const NOT_SPEC = new Set(['apiVersion', 'kind', 'metadata', 'status']);

export function specChanged(a: KubeObject, b: KubeObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  for (const k of keys) if (!NOT_SPEC.has(k) && !isDeepStrictEqual(a[k], b[k])) return true;
  return false;
}

/** True when `b` differs from `a` in anything a user could observe besides resourceVersion. */
export function contentChanged(a: KubeObject, b: KubeObject): boolean {
  const { resourceVersion: _ra, ...ma } = a.metadata;
  const { resourceVersion: _rb, ...mb } = b.metadata;
  return !isDeepStrictEqual({ ...a, apiVersion: '', metadata: ma }, { ...b, apiVersion: '', metadata: mb });
}

/** `pods "demo/web-1"`, as Kubernetes names an object in its errors. */
export function objectRef(plural: string, namespace: string | undefined, name: string): string {
  return `${plural} "${namespace ? `${namespace}/` : ''}${name}"`;
}
