import * as dnsPacket from 'dns-packet';
import type { Answer, DecodedPacket, OptAnswer, Packet } from 'dns-packet';
import { lookup } from './lookup.js';
import type { DnsSnapshot } from './records.js';

/** Wire-level handling of one query: decode, answer from a snapshot, size to the transport. Pure. */

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5 } as const;
export type Rcode = keyof typeof RCODE;

/** Classic DNS-over-UDP limit when the client sent no EDNS size. */
export const UDP_DEFAULT_SIZE = 512;
/** Largest UDP answer we send even if the client offers more (fragmentation is worse than TCP). */
export const UDP_MAX_SIZE = 4096;
/** What we advertise in our own OPT record (the DNS Flag Day 2020 figure). */
export const EDNS_ADVERTISED_SIZE = 1232;
export const TCP_MAX_SIZE = 65535;

const QR = 0x8000;
const HEADER_SIZE = 12;

export type ParseResult =
  | { ok: true; query: DecodedPacket }
  /** `reply` is a FORMERR/NOTIMP when the header could be read; undefined means drop silently. */
  | { ok: false; reason: string; reply?: Buffer };

export function parseQuery(buf: Buffer): ParseResult {
  if (buf.length < 12) return { ok: false, reason: `${buf.length}-byte packet is shorter than a DNS header` };
  const flags = buf.readUInt16BE(2);
  // Never answer a response: that is how reflection loops start.
  if (flags & QR) return { ok: false, reason: 'packet is a response, not a query' };
  const opcode = (flags >> 11) & 0xf;
  if (opcode !== 0) return { ok: false, reason: `opcode ${opcode} is not QUERY`, reply: headerReply(buf, RCODE.NOTIMP) };
  let query: DecodedPacket;
  try {
    query = dnsPacket.decode(buf);
  } catch (err) {
    return { ok: false, reason: `cannot decode: ${(err as Error).message}`, reply: headerReply(buf, RCODE.FORMERR) };
  }
  if (query.questions?.length !== 1) {
    return { ok: false, reason: `${query.questions?.length ?? 0} questions (need exactly 1)`, reply: headerReply(buf, RCODE.FORMERR) };
  }
  return { ok: true, query };
}

/** A bare reply header: same id, opcode and RD as the query, no sections. */
function headerReply(query: Buffer, rcode: number): Buffer {
  const out = Buffer.alloc(12);
  out.writeUInt16BE(query.readUInt16BE(0), 0);
  out.writeUInt16BE(QR | (query.readUInt16BE(2) & 0x7900) | rcode, 2);
  return out;
}

export function clientOpt(query: DecodedPacket): OptAnswer | undefined {
  return query.additionals?.find((a): a is OptAnswer => a.type === 'OPT');
}

/** The largest answer this client takes over this transport. */
export function maxSize(query: DecodedPacket, transport: 'udp' | 'tcp'): number {
  if (transport === 'tcp') return TCP_MAX_SIZE;
  const opt = clientOpt(query);
  if (!opt) return UDP_DEFAULT_SIZE;
  return Math.min(UDP_MAX_SIZE, Math.max(UDP_DEFAULT_SIZE, opt.udpPayloadSize));
}

export type AnswerResult = { action: 'reply'; reply: Buffer; rcode: Rcode; truncated: boolean } | { action: 'forward'; otherwise: Rcode };

export function answerQuery(snap: DnsSnapshot, query: DecodedPacket, transport: 'udp' | 'tcp', recursion: boolean): AnswerResult {
  const q = query.questions?.[0];
  if (!q) return reply(query, transport, 'FORMERR', {}, recursion);
  if (q.class !== undefined && q.class !== 'IN' && q.class !== 'ANY') return reply(query, transport, 'REFUSED', {}, recursion);
  if (q.type === 'AXFR' || q.type === 'IXFR') return reply(query, transport, 'REFUSED', {}, recursion);
  const r = lookup(snap, q);
  if (r.kind === 'forward') return { action: 'forward', otherwise: r.otherwise };
  return reply(query, transport, r.rcode, { aa: true, answers: r.answers, authorities: r.authorities, additionals: r.additionals }, recursion);
}

interface Sections {
  aa?: boolean;
  answers?: Answer[];
  authorities?: Answer[];
  additionals?: Answer[];
}

/** Builds a response; over the size limit it keeps whole records that fit and sets TC (as CoreDNS does). */
export function reply(
  query: DecodedPacket,
  transport: 'udp' | 'tcp',
  rcode: Rcode,
  s: Sections,
  recursion: boolean,
): Extract<AnswerResult, { action: 'reply' }> {
  let flags = RCODE[rcode] | ((query.flags ?? 0) & dnsPacket.RECURSION_DESIRED);
  if (s.aa) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
  if (recursion) flags |= dnsPacket.RECURSION_AVAILABLE;
  const opt: Answer[] = clientOpt(query)
    ? [{ name: '.', type: 'OPT', udpPayloadSize: EDNS_ADVERTISED_SIZE, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }]
    : [];
  const packet: Packet = {
    type: 'response',
    id: query.id ?? 0,
    flags,
    questions: query.questions ?? [],
    answers: s.answers ?? [],
    authorities: s.authorities ?? [],
    additionals: [...(s.additionals ?? []), ...opt],
  };
  const limit = maxSize(query, transport);
  let truncated = false;
  if (dnsPacket.encodingLength(packet) > limit) {
    truncated = true;
    packet.flags = flags | dnsPacket.TRUNCATED_RESPONSE;
    packet.additionals = opt;
    packet.authorities = [];
    const all = packet.answers ?? [];
    packet.answers = [];
    let size = dnsPacket.encodingLength(packet);
    for (const a of all) {
      size += dnsPacket.encodingLength({ answers: [a] }) - HEADER_SIZE;
      if (size > limit) break;
      packet.answers.push(a);
    }
  }
  return { action: 'reply', reply: dnsPacket.encode(packet), rcode, truncated };
}
