import { isIPv4, isIPv6 } from 'node:net';
import ipaddr from 'ipaddr.js';

/** Pure helpers for DNS names and the IP ↔ name encodings Kubernetes DNS uses. */

const LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A DNS-1123 label: what Kubernetes requires of namespace, service and pod-hostname labels. */
export function isDnsLabel(s: string): boolean {
  return s.length <= 63 && LABEL.test(s);
}

/** Lower-cases and strips the trailing dot, so names compare as DNS does (case-insensitively). */
export function canonicalName(name: string): string {
  const n = name.toLowerCase();
  return n.endsWith('.') && n.length > 1 ? n.slice(0, -1) : n;
}

/** RFC 5952 text for v6, dotted quad for v4; undefined when `ip` is not an address. */
export function canonicalIp(ip: string): string | undefined {
  if (isIPv4(ip)) return ip;
  if (isIPv6(ip)) return ipaddr.IPv6.parse(ip).toString();
  return undefined;
}

/** `10.244.1.5` → `10-244-1-5`, `fd00::1` → `fd00--1`: the label CoreDNS uses for an address. */
export function dashedIp(ip: string): string {
  return ip.replace(/[.:]/g, '-');
}

/** Inverse of dashedIp, accepting any spelling of a v6 address; undefined when not an address. */
export function ipFromDashed(label: string): string | undefined {
  const v4 = label.replace(/-/g, '.');
  if (isIPv4(v4)) return v4;
  return canonicalIp(label.replace(/-/g, ':'));
}

/** The `in-addr.arpa` / `ip6.arpa` name of an address (lower case, no trailing dot). */
export function reverseName(ip: string): string {
  if (isIPv4(ip)) return `${ip.split('.').reverse().join('.')}.in-addr.arpa`;
  const nibbles: string[] = [];
  for (const byte of ipaddr.IPv6.parse(ip).toByteArray()) {
    nibbles.push((byte >> 4).toString(16), (byte & 0xf).toString(16));
  }
  return `${nibbles.reverse().join('.')}.ip6.arpa`;
}

export function isReverseName(name: string): boolean {
  return name === 'in-addr.arpa' || name === 'ip6.arpa' || name.endsWith('.in-addr.arpa') || name.endsWith('.ip6.arpa');
}

/** True when `name` is `zone` or below it (both canonical). */
export function inZone(name: string, zone: string): boolean {
  return name === zone || name.endsWith(`.${zone}`);
}
