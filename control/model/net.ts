// IP and CIDR text ↔ canonical text and wire bytes (4 or 16), strict: no zones, no short forms.
import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { CidrModel } from './types.js';

/** Canonical text of an IP address, or undefined when `s` is not one. */
export function canonicalIp(s: unknown): string | undefined {
  if (typeof s !== 'string') return undefined;
  if (isIPv4(s)) return s;
  if (isIPv6(s) && !s.includes('%')) return ipaddr.IPv6.parse(s).toRFC5952String();
  return undefined;
}

/** `10.0.0.0/8`, `fd00::/8`, or a bare address (→ /32 or /128); undefined when invalid. */
export function parseCidr(s: unknown): CidrModel | undefined {
  if (typeof s !== 'string') return undefined;
  const slash = s.indexOf('/');
  const ip = canonicalIp(slash < 0 ? s : s.slice(0, slash));
  if (!ip) return undefined;
  const max = ip.includes(':') ? 128 : 32;
  if (slash < 0) return { ip, length: max };
  const lenText = s.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  return length <= max ? { ip, length } : undefined;
}

export function isV6(ip: string): boolean {
  return ip.includes(':');
}

/** Wire bytes of a canonical IP (as produced by canonicalIp). */
export function ipBytes(ip: string): Uint8Array {
  if (!isV6(ip)) {
    const out = new Uint8Array(4);
    let i = 0;
    for (const part of ip.split('.')) out[i++] = Number(part);
    return out;
  }
  return Uint8Array.from(ipaddr.IPv6.parse(ip).toByteArray());
}
