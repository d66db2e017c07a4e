// What routing looks at in a request, independent of HTTP/1.1 or HTTP/2.
export type HeaderValue = string | string[] | undefined;
export type Headers = Record<string, HeaderValue>;

export interface RouteRequest {
  /** Upper-case. */
  method: string;
  /** The path without the query, as sent (not decoded). */
  path: string;
  /** The raw query without `?`; empty when none. */
  query: string;
  /** Lower-case names. */
  headers: Headers;
  /** The service port the request arrived on. */
  port: number;
}

/** One value for comparisons: repeated headers joined with "," as HTTP allows. */
export function headerValue(h: Headers, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

/** Splits a request target into path and query. */
export function splitTarget(target: string): { path: string; query: string } {
  const i = target.indexOf('?');
  return i < 0 ? { path: target || '/', query: '' } : { path: target.slice(0, i) || '/', query: target.slice(i + 1) };
}
