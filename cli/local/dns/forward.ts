import { createSocket } from 'node:dgram';
import { connect, isIP, isIPv6 } from 'node:net';

/** Relays a query, byte for byte, to upstream resolvers: UDP over UDP, TCP over TCP. */

export interface Upstream {
  host: string;
  port: number;
}

/** Parses `1.2.3.4`, `1.2.3.4:5353`, `::1`, `[::1]:5353`; throws an error naming the bad entry. */
export function parseUpstream(s: string): Upstream {
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
  let host = s;
  let port = '53';
  if (bracket) {
    host = bracket[1] ?? '';
    port = bracket[2] ?? '53';
  } else if (isIP(s) === 0 && s.includes(':')) {
    const i = s.lastIndexOf(':');
    host = s.slice(0, i);
    port = s.slice(i + 1);
  }
  const n = Number(port);
  if (isIP(host) === 0 || !/^\d+$/.test(port) || n < 1 || n > 65535) {
    throw new Error(`DNS upstream '${s}' is not an address or address:port (e.g. 10.0.0.2, 10.0.0.2:53, [fd00::2]:53)`);
  }
  return { host, port: n };
}

/** Tries each upstream in turn; throws when none answered within `timeoutMs` each. */
export async function forward(query: Buffer, upstreams: Upstream[], transport: 'udp' | 'tcp', timeoutMs: number): Promise<Buffer> {
  const errors: string[] = [];
  for (const u of upstreams) {
    try {
      return await (transport === 'udp' ? viaUdp(query, u, timeoutMs) : viaTcp(query, u, timeoutMs));
    } catch (err) {
      errors.push(`${u.host}:${u.port}: ${(err as Error).message}`);
    }
  }
  throw new Error(`no upstream answered (${errors.join('; ')})`);
}

function sameId(query: Buffer, reply: Buffer): boolean {
  return reply.length >= 12 && reply.readUInt16BE(0) === query.readUInt16BE(0) && (reply.readUInt8(2) & 0x80) !== 0;
}

function viaUdp(query: Buffer, u: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // A socket per query: its random port and the id check keep replies from being confused.
    const sock = createSocket(isIPv6(u.host) ? 'udp6' : 'udp4');
    let finished = false;
    const done = (err: Error | undefined, buf?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.close();
      if (buf) resolve(buf);
      else reject(err ?? new Error('no reply'));
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('message', (msg, rinfo) => {
      if (rinfo.port === u.port && sameId(query, msg)) done(undefined, msg);
    });
    sock.send(query, u.port, u.host);
  });
}

function viaTcp(query: Buffer, u: Upstream, timeoutMs: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: u.host, port: u.port });
    let buf = Buffer.alloc(0);
    let finished = false;
    const done = (err: Error | undefined, msg?: Buffer): void => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      if (msg) resolve(msg);
      else reject(err ?? new Error('connection closed before a reply'));
    };
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms`)), timeoutMs);
    sock.on('error', (err) => done(err));
    sock.on('close', () => done(undefined));
    sock.on('data', (chunk) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2) return;
      const len = buf.readUInt16BE(0);
      if (buf.length < 2 + len) return;
      const msg = buf.subarray(2, 2 + len);
      if (sameId(query, msg)) done(undefined, msg);
      else done(new Error('reply id does not match the query'));
    });
    const len = Buffer.alloc(2);
    len.writeUInt16BE(query.length);
    sock.write(Buffer.concat([len, query]));
  });
}
