import { createSocket } from 'node:dgram';
import { connect } from 'node:net';
import * as dnsPacket from 'dns-packet';
import type { DecodedPacket, Packet } from 'dns-packet';

/** Small DNS clients over real sockets, for tests of the cluster DNS server. */

let nextId = 1;

export function query(name: string, type: dnsPacket.RecordType, extra: Partial<Packet> = {}): Packet {
  nextId = (nextId % 65535) + 1;
  return { type: 'query', id: nextId, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }], ...extra };
}

/** Sends raw bytes over UDP; resolves with the reply, or undefined after `timeoutMs`. */
export function udpRaw(port: number, msg: Buffer, timeoutMs = 2000): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    const finish = (buf?: Buffer): void => {
      clearTimeout(timer);
      sock.close();
      resolve(buf);
    };
    const timer = setTimeout(() => finish(), timeoutMs);
    sock.once('message', (m) => finish(m));
    sock.send(msg, port, '127.0.0.1');
  });
}

export async function udpQuery(port: number, packet: Packet): Promise<{ reply: DecodedPacket; size: number }> {
  const buf = await udpRaw(port, dnsPacket.encode(packet));
  if (!buf) throw new Error(`no UDP reply from 127.0.0.1:${port}`);
  return { reply: dnsPacket.decode(buf), size: buf.length };
}

/** Sends each message length-prefixed on one TCP connection; resolves with the replies in arrival order. */
export function tcpRaw(port: number, msgs: Buffer[], timeoutMs = 2000): Promise<Buffer[]> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port });
    const out: Buffer[] = [];
    let pending = Buffer.alloc(0);
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`TCP: ${out.length} of ${msgs.length} replies after ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('error', reject);
    sock.on('data', (chunk) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 2 && pending.length >= 2 + pending.readUInt16BE(0)) {
        out.push(pending.subarray(2, 2 + pending.readUInt16BE(0)));
        pending = pending.subarray(2 + pending.readUInt16BE(0));
      }
      if (out.length === msgs.length) {
        clearTimeout(timer);
        sock.end();
        resolve(out);
      }
    });
    // One write holding all queries: the server must split a segment into messages itself.
    sock.write(Buffer.concat(msgs.map((m) => Buffer.concat([Buffer.from([m.length >> 8, m.length & 0xff]), m]))));
  });
}

export async function tcpQuery(port: number, packet: Packet): Promise<DecodedPacket> {
  const [buf] = await tcpRaw(port, [dnsPacket.encode(packet)]);
  if (!buf) throw new Error('no TCP reply');
  return dnsPacket.decode(buf);
}

export function rcodeOf(p: DecodedPacket): number {
  return (p.flags ?? 0) & 0xf;
}

export function ips(p: DecodedPacket): string[] {
  return (p.answers ?? []).flatMap((a) => (a.type === 'A' || a.type === 'AAAA' ? [a.data] : [])).sort();
}
