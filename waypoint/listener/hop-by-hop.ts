// Headers that belong to one connection and are never forwarded (RFC 9110 §7.6.1, plus the ones
// HTTP/2 forbids). Pure.
import type { Headers } from '../route/request.js';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'http2-settings', 'host']);

/** Forwardable request or response headers: pseudo-headers, hop-by-hop ones and those `connection` names removed; `te: trailers` kept. */
export function forwardable(h: Headers): Headers {
  const named = new Set<string>();
  const c = h.connection;
  for (const v of Array.isArray(c) ? c : c ? [c] : []) for (const n of v.split(',')) named.add(n.trim().toLowerCase());
  const out: Headers = {};
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined || k.startsWith(':') || HOP_BY_HOP.has(k) || named.has(k)) continue;
    out[k] = v;
  }
  const te = h.te;
  if (typeof te === 'string' && /(^|,)\s*trailers\s*(,|$)/i.test(te)) out.te = 'trailers';
  return out;
}
