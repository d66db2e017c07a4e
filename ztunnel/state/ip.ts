// IP text in one canonical form (v4 dotted, v6 RFC 5952, v4-mapped v6 → v4) so that index keys
// built from xDS bytes and lookups built from socket addresses agree.
import { isIPv4 } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Canonical text of an IP, or undefined when `s` is not one. */
export function canonicalIp(s: string): string | undefined {
  if (isIPv4(s)) return s;
  if (!ipaddr.IPv6.isValid(s) || s.includes('%')) return undefined;
  const a = ipaddr.process(s);
  return a.kind() === 'ipv4' ? a.toString() : (a as ipaddr.IPv6).toRFC5952String();
}

/** Text of 4 or 16 wire bytes; undefined for any other length. */
export function ipFromBytes(b: Uint8Array): string | undefined {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  if (b.length !== 16) return undefined;
  const a = ipaddr.fromByteArray([...b]) as ipaddr.IPv6;
  return a.isIPv4MappedAddress() ? a.toIPv4Address().toString() : a.toRFC5952String();
}

export function isV6(ip: string): boolean {
  return ip.includes(':');
}

/** Index key of an address on a network. */
export function netKey(network: string, ip: string): string {
  return `${network}/${ip}`;
}

/** Whether `ip` lies in `cidr/bits` (families must agree). */
export function inCidr(ip: string, cidr: string, bits: number): boolean {
  const a = ipaddr.parse(ip);
  const r = ipaddr.parse(cidr);
  return a.kind() === r.kind() && a.match(r, bits);
}
