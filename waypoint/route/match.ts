// Which Route of a RouteConfig takes a request: routes in order, the first whose matches accept it
// (RouteConfig's contract: matches OR-ed, the fields of one match AND-ed, no matches = all). Pure.
import type { HeaderMatch, PathMatch, QueryParamMatch, Route, RouteMatch } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { compileRe2 } from '../../lib/regex/re2.js';
import { headerValue, type RouteRequest } from './request.js';

const regexCache = new Map<string, RegExp | null>();

/**
 * RE2 patterns matched against the whole value, compiled as the control plane judged them
 * (lib/regex); a pattern that cannot be compiled matches nothing.
 */
export function fullMatch(pattern: string, value: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    const c = compileRe2(pattern);
    re = typeof c === 'string' ? null : c;
    if (regexCache.size > 10_000) regexCache.clear();
    regexCache.set(pattern, re);
  }
  return re !== null && re.test(value);
}

/** Gateway API PathPrefix: whole segments, a trailing `/` of the prefix ignored. */
export function segmentPrefixMatches(prefix: string, path: string): boolean {
  const p = prefix.length > 1 && prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  if (p === '/' || p === '') return true;
  return path === p || path.startsWith(`${p}/`);
}

export function pathMatches(m: PathMatch | undefined, path: string): boolean {
  const k = m?.kind;
  if (!k || k.case === undefined) return true;
  switch (k.case) {
    case 'exact':
      return path === k.value;
    case 'prefix':
      return segmentPrefixMatches(k.value, path);
    case 'plainPrefix':
      return path.startsWith(k.value);
    case 'regex':
      return fullMatch(k.value, path);
  }
}

export function headerMatches(m: HeaderMatch, req: RouteRequest): boolean {
  const v = headerValue(req.headers, m.name);
  let ok: boolean;
  switch (m.kind.case) {
    case 'exact':
      ok = v === m.kind.value;
      break;
    case 'prefix':
      ok = v !== undefined && v.startsWith(m.kind.value);
      break;
    case 'regex':
      ok = v !== undefined && fullMatch(m.kind.value, v);
      break;
    case 'present':
      ok = (v !== undefined) === m.kind.value;
      break;
    default:
      ok = v !== undefined;
  }
  return m.invert ? !ok : ok;
}

/** The first value of each query parameter, decoded. */
export function queryParams(query: string): Map<string, string> {
  const out = new Map<string, string>();
  if (!query) return out;
  for (const [k, v] of new URLSearchParams(query)) if (!out.has(k)) out.set(k, v);
  return out;
}

export function queryMatches(m: QueryParamMatch, params: ReadonlyMap<string, string>): boolean {
  const v = params.get(m.name);
  switch (m.kind.case) {
    case 'exact':
      return v === m.kind.value;
    case 'prefix':
      return v !== undefined && v.startsWith(m.kind.value);
    case 'regex':
      return v !== undefined && fullMatch(m.kind.value, v);
    case 'present':
      return (v !== undefined) === m.kind.value;
    default:
      return v !== undefined;
  }
}

export function routeMatchAccepts(m: RouteMatch, req: RouteRequest, params: ReadonlyMap<string, string>): boolean {
  if (m.method && m.method !== req.method) return false;
  if (m.port && m.port !== req.port) return false;
  if (!pathMatches(m.path, req.path)) return false;
  for (const h of m.headers) if (!headerMatches(h, req)) return false;
  for (const q of m.queryParams) if (!queryMatches(q, params)) return false;
  return true;
}

export interface RouteSelection {
  route: Route;
  index: number;
  /** The match that accepted the request; undefined for a route without matches. */
  match: RouteMatch | undefined;
}

export function selectRoute(routes: readonly Route[], req: RouteRequest): RouteSelection | undefined {
  const params = queryParams(req.query);
  for (const [index, route] of routes.entries()) {
    if (route.matches.length === 0) return { route, index, match: undefined };
    const match = route.matches.find((m) => routeMatchAccepts(m, req, params));
    if (match) return { route, index, match };
  }
  return undefined;
}
