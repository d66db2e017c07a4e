/**
 * Gateway API's precedence between the matches of all routes for one service: an exact path
 * first, then a regular expression, then the longest path prefix; then a method match; then more
 * header matches; then more query parameter matches (a match without a path is the default
 * prefix "/"); ties go to the oldest route, then to the
 * alphabetical `<namespace>/<name>`, then to rule and match order within the route.
 */
import type { RouteMatchModel } from './types.js';

export interface OrderKey {
  created: string;
  id: string;
  rule: number;
  match: number;
}

function pathRank(m: RouteMatchModel | undefined): [number, number] {
  const p = m?.path;
  // No path (a match of headers only, or no match at all) is Gateway API's default PathPrefix "/".
  if (!p) return [1, 1];
  if ('exact' in p) return [3, p.exact.length];
  if ('regex' in p) return [2, p.regex.length];
  return [1, 'prefix' in p ? p.prefix.length : p.plainPrefix.length];
}

/** Negative when `a` takes precedence. */
export function compareMatches(a: RouteMatchModel | undefined, b: RouteMatchModel | undefined, ka: OrderKey, kb: OrderKey): number {
  const [ra, la] = pathRank(a);
  const [rb, lb] = pathRank(b);
  if (ra !== rb) return rb - ra;
  if (la !== lb) return lb - la;
  const ma = a?.method ? 1 : 0;
  const mb = b?.method ? 1 : 0;
  if (ma !== mb) return mb - ma;
  const ha = a?.headers?.length ?? 0;
  const hb = b?.headers?.length ?? 0;
  if (ha !== hb) return hb - ha;
  const qa = a?.queryParams?.length ?? 0;
  const qb = b?.queryParams?.length ?? 0;
  if (qa !== qb) return qb - qa;
  // A creation time sorts before none (objects not yet stored by an API server).
  const ca = ka.created || '\uffff';
  const cb = kb.created || '\uffff';
  if (ca !== cb) return ca < cb ? -1 : 1;
  if (ka.id !== kb.id) return ka.id < kb.id ? -1 : 1;
  return ka.rule - kb.rule || ka.match - kb.match;
}
