// `:authority` of an HBONE CONNECT and socket addresses: pure parsing and formatting.
import net from 'node:net';
import { formatHostPort } from '../net/host-port.js';
import type { SockAddr } from '../native/types.js';

export type { SockAddr };

export interface Authority {
  /** IP (IPv4, or IPv6 without brackets) or DNS host name. */
  host: string;
  port: number;
  kind: 'ipv4' | 'ipv6' | 'hostname';
}

// RFC 1123 labels; a trailing dot is tolerated and dropped.
const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/i;
const PORT_RE = /^[0-9]{1,5}$/;

/** IPv4-mapped IPv6 (a dual-stack listener's view of an IPv4 peer) as plain IPv4. */
export function canonicalIp(ip: string): string {
  const m = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return m && net.isIPv4(m[1]!) ? m[1]! : ip;
}

function parsePort(s: string): number | undefined {
  if (!PORT_RE.test(s)) return undefined;
  const n = Number(s);
  return n >= 1 && n <= 65535 ? n : undefined;
}

function isHostname(h: string): boolean {
  const name = h.endsWith('.') ? h.slice(0, -1) : h;
  if (name.length === 0 || name.length > 253) return false;
  return name.split('.').every((l) => LABEL_RE.test(l));
}

/** Parses `ip:port`, `[v6]:port` or `host:port`; returns a reason string when it is not one. */
export function parseAuthority(input: string): Authority | string {
  if (typeof input !== 'string' || input === '') return 'authority is empty';
  if (input.startsWith('[')) {
    const close = input.indexOf(']');
    if (close < 0 || input[close + 1] !== ':') return `authority "${input}": expected [ipv6]:port`;
    const ip = input.slice(1, close);
    if (!net.isIPv6(ip)) return `authority "${input}": "${ip}" is not an IPv6 address`;
    const port = parsePort(input.slice(close + 2));
    if (port === undefined) return `authority "${input}": port must be 1-65535`;
    const canon = canonicalIp(ip.toLowerCase());
    return { host: canon, port, kind: net.isIPv4(canon) ? 'ipv4' : 'ipv6' };
  }
  const colon = input.lastIndexOf(':');
  if (colon < 0) return `authority "${input}": missing ":port"`;
  const host = input.slice(0, colon);
  if (host.includes(':')) return `authority "${input}": an IPv6 address needs brackets, [addr]:port`;
  const port = parsePort(input.slice(colon + 1));
  if (port === undefined) return `authority "${input}": port must be 1-65535`;
  if (net.isIPv4(host)) return { host, port, kind: 'ipv4' };
  // Digits and dots only, but not an IPv4 address: a typo, not a host name.
  if (/^[0-9.]+$/.test(host)) return `authority "${input}": "${host}" is not a valid IPv4 address`;
  if (!isHostname(host)) return `authority "${input}": "${host}" is neither an IP address nor a DNS name`;
  return { host: (host.endsWith('.') ? host.slice(0, -1) : host).toLowerCase(), port, kind: 'hostname' };
}

// `ip:port` with brackets for IPv6 is the form `:authority` and pool keys use.
export { formatHostPort };

export function formatSockAddr(a: SockAddr): string {
  return formatHostPort(a.address, a.port);
}

/** The canonical address of one end of a socket, or undefined when it has none (closed). */
export function sockAddrOf(address: string | undefined, port: number | undefined): SockAddr | undefined {
  if (address === undefined || port === undefined) return undefined;
  const ip = canonicalIp(address);
  return { address: ip, port, family: net.isIPv6(ip) ? 6 : 4 };
}
