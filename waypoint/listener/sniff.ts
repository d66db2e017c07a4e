// Protocol detection on the first bytes of a tunnel: the HTTP/2 client preface (h2c with prior
// knowledge, as ztunnel and gRPC clients send it), an HTTP/1.x request line, or anything else
// (forwarded as TCP). Pure.
export type Detected = 'h2' | 'http1' | 'tcp';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** undefined: not enough bytes yet to tell. */
export function detectProtocol(head: Buffer): Detected | undefined {
  if (head.length === 0) return undefined;
  const n = Math.min(head.length, H2_PREFACE.length);
  if (head.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) return head.length >= H2_PREFACE.length ? 'h2' : undefined;
  const sp = head.indexOf(0x20);
  const token = head.subarray(0, sp < 0 ? Math.min(head.length, 8) : sp).toString('latin1');
  if (sp < 0) return METHODS.some((m) => m.startsWith(token)) ? undefined : 'tcp';
  return METHODS.includes(token) ? 'http1' : 'tcp';
}
