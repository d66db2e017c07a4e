// Rewrites (path, host) before forwarding and the Location of a redirect. Pure.
import type { Redirect, Rewrite, RouteMatch } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { segmentPrefixMatches } from './match.js';

/** The prefix the request's path matched, for prefix replacement (Gateway API ReplacePrefixMatch). */
function matchedPrefix(match: RouteMatch | undefined): { prefix: string; segment: boolean } | undefined {
  const k = match?.path?.kind;
  if (k?.case === 'prefix') return { prefix: k.value, segment: true };
  if (k?.case === 'plainPrefix') return { prefix: k.value, segment: false };
  return undefined;
}

/** Replaces the matched prefix of `path` with `replacement`; without a prefix match, the whole path is the prefix `/`. */
export function replacePrefix(path: string, match: RouteMatch | undefined, replacement: string): string {
  const m = matchedPrefix(match) ?? { prefix: '/', segment: true };
  if (!m.segment) return path.startsWith(m.prefix) ? replacement + path.slice(m.prefix.length) : path;
  if (!segmentPrefixMatches(m.prefix, path)) return path;
  const p = m.prefix.length > 1 && m.prefix.endsWith('/') ? m.prefix.slice(0, -1) : m.prefix;
  let rest = p === '/' ? path : path.slice(p.length);
  if (rest !== '' && !rest.startsWith('/')) rest = `/${rest}`;
  const base = replacement.endsWith('/') ? replacement.slice(0, -1) : replacement;
  const out = base + rest;
  return out === '' ? '/' : out;
}

export interface Rewritten {
  path: string;
  /** undefined: keep the request's host. */
  host: string | undefined;
}

export function applyRewrite(rw: Rewrite | undefined, path: string, match: RouteMatch | undefined): Rewritten {
  if (!rw) return { path, host: undefined };
  let p = path;
  if (rw.path.case === 'fullPath') p = rw.path.value;
  else if (rw.path.case === 'prefix') p = replacePrefix(path, match, rw.path.value);
  return { path: p, host: rw.host || undefined };
}

export interface RedirectInput {
  scheme: string;
  /** The Host / :authority of the request, possibly with a port. */
  authority: string;
  path: string;
  query: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

function splitAuthority(a: string): { host: string; port: number | undefined } {
  const m = /^(\[[^\]]+\]|[^:]*)(?::(\d+))?$/.exec(a);
  if (!m) return { host: a, port: undefined };
  return { host: m[1]!, port: m[2] === undefined ? undefined : Number(m[2]) };
}

/** Status and Location of a redirect action. */
export function redirectLocation(r: Redirect, req: RedirectInput, match: RouteMatch | undefined): { status: number; location: string } {
  const scheme = r.scheme || req.scheme;
  const orig = splitAuthority(req.authority);
  const host = r.host || orig.host;
  // A changed scheme without a port goes to that scheme's default port.
  const port = r.port || (r.scheme && r.scheme !== req.scheme ? undefined : orig.port);
  const portText = port === undefined || port === DEFAULT_PORTS[scheme] ? '' : `:${port}`;
  let path = req.path;
  if (r.path.case === 'fullPath') path = r.path.value;
  else if (r.path.case === 'prefix') path = replacePrefix(req.path, match, r.path.value);
  const query = req.query ? `?${req.query}` : '';
  return { status: r.statusCode || 302, location: `${scheme}://${host}${portText}${path}${query}` };
}
