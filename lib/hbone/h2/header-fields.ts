// Header objects ↔ HPACK field lists, and the message checks of RFC 9113 §8.2–8.5 (the subset an
// HBONE peer meets: CONNECT requests, ordinary requests answered 400, responses). Pure.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http2';
import type { HeaderField } from './hpack.js';

/** Connection-specific fields that HTTP/2 forbids (RFC 9113 §8.2.2). */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

/** Pseudo-headers first, names lower-cased; throws naming a bad field. */
export function toFields(h: OutgoingHttpHeaders): HeaderField[] {
  const pseudo: HeaderField[] = [];
  const regular: HeaderField[] = [];
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    const name = k.toLowerCase();
    if (CONNECTION_SPECIFIC.has(name)) throw new Error(`HTTP/2 header "${k}" is connection-specific and not allowed`);
    const into = name.startsWith(':') ? pseudo : regular;
    for (const one of Array.isArray(v) ? v : [v]) into.push([name, String(one)]);
  }
  return [...pseudo, ...regular];
}

/** A field list as a header object; repeated names are joined with ", " (cookie with "; "). */
export function fromFields(fields: readonly HeaderField[], statusAsNumber: boolean): IncomingHttpHeaders & { ':status'?: number } {
  const out: Record<string, string | number> = {};
  for (const [n, v] of fields) {
    const prev = out[n];
    if (prev === undefined) out[n] = statusAsNumber && n === ':status' ? Number(v) : v;
    else out[n] = `${prev}${n === 'cookie' ? '; ' : ', '}${v}`;
  }
  return out as IncomingHttpHeaders & { ':status'?: number };
}

const REQUEST_PSEUDO = new Set([':method', ':scheme', ':authority', ':path', ':protocol']);

/** Why a field list is a malformed message (a stream error PROTOCOL_ERROR), or undefined. */
export function malformed(fields: readonly HeaderField[], kind: 'request' | 'response' | 'trailers'): string | undefined {
  let regularSeen = false;
  const seen = new Set<string>();
  for (const [n, v] of fields) {
    if (n !== n.toLowerCase()) return `header name "${n}" is not lower case`;
    if (n.startsWith(':')) {
      if (regularSeen) return `pseudo-header ${n} after a regular header`;
      if (kind === 'trailers') return `pseudo-header ${n} in trailers`;
      if (seen.has(n)) return `pseudo-header ${n} repeated`;
      seen.add(n);
      if (kind === 'request' ? !REQUEST_PSEUDO.has(n) : n !== ':status') return `pseudo-header ${n} is not allowed in a ${kind}`;
    } else {
      regularSeen = true;
      if (CONNECTION_SPECIFIC.has(n)) return `connection-specific header ${n}`;
      if (n === 'te' && v !== 'trailers') return `header te: ${v}`;
    }
  }
  if (kind === 'response' && !seen.has(':status')) return 'response without :status';
  if (kind === 'request') {
    const method = fields.find(([n]) => n === ':method')?.[1];
    if (method === undefined) return 'request without :method';
    // CONNECT carries :authority only (RFC 9113 §8.5); others need :scheme and :path.
    if (method === 'CONNECT' && !seen.has(':protocol')) {
      if (!seen.has(':authority')) return 'CONNECT without :authority';
      if (seen.has(':scheme') || seen.has(':path')) return 'CONNECT with :scheme or :path';
    } else if (!seen.has(':scheme') || !seen.has(':path')) {
      return `${method} request without :scheme or :path`;
    }
  }
  return undefined;
}
