/**
 * Where a kind lives on an API server, from the kind registry alone (group, version, plural,
 * scope): no discovery round trip, and the same table as the File back end, so both agree on what
 * a kind is. Pure.
 */
import { kindInfo, splitApiVersion } from './kinds.js';
import { StoreError, type Kind } from './types.js';

export interface PathOptions {
  namespace?: string | undefined;
  name?: string | undefined;
  subresource?: 'status' | undefined;
}

/**
 * `/api/v1/namespaces/demo/pods/web-1`, `/apis/security.istio.io/v1/authorizationpolicies`.
 * A namespaced kind without a namespace is every namespace when listing and `default` when a name
 * is given, as the File back end reads a missing namespace.
 */
export function resourcePath(kind: Kind, opts: PathOptions = {}): string {
  const info = kindInfo(kind);
  const { group, version } = splitApiVersion(kind.apiVersion);
  if (!version) throw new StoreError('Invalid', `${kind.kind}: apiVersion "${kind.apiVersion}" has no version; use e.g. "v1" or "apps/v1"`);
  const root = group ? `/apis/${group}/${version}` : `/api/${version}`;
  const namespace = info.namespaced ? (opts.namespace ?? (opts.name !== undefined ? 'default' : undefined)) : undefined;
  let p = namespace !== undefined ? `${root}/namespaces/${encodeURIComponent(namespace)}/${info.plural}` : `${root}/${info.plural}`;
  if (opts.name !== undefined) p += `/${encodeURIComponent(opts.name)}`;
  if (opts.subresource) {
    if (opts.name === undefined) throw new StoreError('Invalid', `${kind.kind}: the ${opts.subresource} subresource needs an object name`);
    p += `/${opts.subresource}`;
  }
  return p;
}

/** `{ app: 'web', tier: 'front' }` → `app=web,tier=front` (equality selectors, as ListOptions has). */
export function labelSelectorText(selector: Record<string, string> | undefined): string | undefined {
  if (!selector) return undefined;
  const parts = Object.entries(selector).map(([k, v]) => {
    if (!k || /[,=!\s]/.test(k) || /[,=!\s]/.test(v)) {
      throw new StoreError('Invalid', `label selector ${JSON.stringify(selector)}: "${k}=${v}" is not a valid key=value pair`);
    }
    return `${k}=${v}`;
  });
  return parts.length ? parts.join(',') : undefined;
}

/** `{ 'spec.nodeName': 'n1' }` → `spec.nodeName=n1`; the value may not hold the selector's own syntax. */
export function fieldSelectorText(selector: Record<string, string> | undefined): string | undefined {
  if (!selector) return undefined;
  const parts = Object.entries(selector).map(([k, v]) => {
    if (!/^[A-Za-z0-9_.-]+$/.test(k) || /[,=!\\\s]/.test(v)) {
      throw new StoreError('Invalid', `field selector ${JSON.stringify(selector)}: "${k}=${v}" is not a valid path=value pair`);
    }
    return `${k}=${v}`;
  });
  return parts.length ? parts.join(',') : undefined;
}

/** `?a=1&b=2` without undefined values, or '' when there are none. */
export function queryString(params: Record<string, string | number | boolean | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return s ? `?${s}` : '';
}
