/**
 * What the waypoint's policy filters (authorization, rate limits) see of one HTTP request, and
 * the small helpers they share for reading it.
 */

export interface L7Request {
  /** Upper-case (`GET`). */
  method: string;
  /** As received, query included (`/api/x?y=1`); policies match the part before `?`. */
  path: string;
  /** The Host / `:authority` header, with or without a port. */
  host: string;
  /** The service port the request was sent to. */
  port: number;
  /** Lower-case names, as Node's http/http2 servers hand them out. */
  headers: Record<string, string | string[] | undefined>;
  sourceIp: string;
  /** The client's SPIFFE identity from its certificate, with or without `spiffe://`. */
  principal?: string;
  /** The client's namespace; derived from the principal when not given. */
  namespace?: string;
}

const SPIFFE = 'spiffe://';
const NAMESPACE = /^[^/]+\/ns\/([^/]+)\//;

/** The identity as Istio's policies name it: `cluster.local/ns/x/sa/y`, no scheme. */
export function principalOf(req: L7Request): string | undefined {
  const p = req.principal;
  if (!p) return undefined;
  return p.startsWith(SPIFFE) ? p.slice(SPIFFE.length) || undefined : p;
}

export function namespaceOf(req: L7Request): string | undefined {
  if (req.namespace) return req.namespace;
  const p = principalOf(req);
  return p ? NAMESPACE.exec(p)?.[1] : undefined;
}

/** The path without its query or fragment. */
export function pathOnly(path: string): string {
  const q = path.search(/[?#]/);
  return q < 0 ? path : path.slice(0, q);
}

/** One header's value as Envoy matches it: repeated headers joined by `,`. */
export function headerValue(req: L7Request, name: string): string | undefined {
  const v = req.headers[name];
  if (v === undefined) return undefined;
  return Array.isArray(v) ? (v.length ? v.join(',') : undefined) : v;
}
