// What varies between pods: address families, DNS capture, ingress mode, virtual interfaces.
// Validated once here so that renderers can trust their input.
import net from 'node:net';
import { PROBE_SNAT_V4, PROBE_SNAT_V6, type Family } from './constants.js';

export interface RedirectOptions {
  /** Render IPv4 rules (default true). */
  ipv4?: boolean;
  /** Render IPv6 rules (default false): set it when the pod has an IPv6 address. */
  ipv6?: boolean;
  /** Capture DNS (UDP and TCP port 53) to ztunnel's 15053 (default true, as Istio's REDIRECT_DNS). */
  dnsCapture?: boolean;
  /** Istio's `ambient.istio.io/bypass-inbound-capture`: inbound plaintext is not captured. */
  bypassInboundCapture?: boolean;
  /** Istio's `istio.io/reroute-virtual-interfaces`: TCP arriving on these is sent to 15001. */
  virtualInterfaces?: readonly string[];
  probeSnatV4?: string;
  probeSnatV6?: string;
}

export interface RedirectConfig {
  families: Family[];
  dnsCapture: boolean;
  bypassInboundCapture: boolean;
  virtualInterfaces: string[];
  probeSnatV4: string;
  probeSnatV6: string;
}

const IFNAME = /^[A-Za-z0-9_.:@-]{1,15}$/;

/** Checks and fills in defaults; throws naming the field on bad input. */
export function redirectConfig(o: RedirectOptions = {}): RedirectConfig {
  const families: Family[] = [];
  if (o.ipv4 ?? true) families.push(4);
  if (o.ipv6 ?? false) families.push(6);
  if (families.length === 0) throw new Error('redirect options: ipv4 and ipv6 are both false; a pod needs at least one family');
  const vifs = [...(o.virtualInterfaces ?? [])];
  for (const [i, v] of vifs.entries()) {
    if (typeof v !== 'string' || !IFNAME.test(v) || v === 'lo') {
      throw new Error(`redirect options: virtualInterfaces[${i}] ${JSON.stringify(v)} is not an interface name`);
    }
  }
  const probeSnatV4 = o.probeSnatV4 ?? PROBE_SNAT_V4;
  const probeSnatV6 = o.probeSnatV6 ?? PROBE_SNAT_V6;
  if (!net.isIPv4(probeSnatV4)) throw new Error(`redirect options: probeSnatV4 ${JSON.stringify(probeSnatV4)} is not an IPv4 address`);
  if (!net.isIPv6(probeSnatV6)) throw new Error(`redirect options: probeSnatV6 ${JSON.stringify(probeSnatV6)} is not an IPv6 address`);
  return {
    families,
    dnsCapture: o.dnsCapture ?? true,
    bypassInboundCapture: o.bypassInboundCapture ?? false,
    virtualInterfaces: vifs,
    probeSnatV4,
    probeSnatV6,
  };
}

/** The families to redirect for a pod with these addresses (CIDR suffixes allowed, as in a CNI result). */
export function familiesOf(addresses: readonly string[]): { ipv4: boolean; ipv6: boolean } {
  const fams = addresses.map((a) => net.isIP(a.split('/')[0] ?? ''));
  return { ipv4: fams.includes(4) || !fams.includes(6), ipv6: fams.includes(6) };
}

export function loopback(f: Family): string {
  return f === 4 ? '127.0.0.1/32' : '::1/128';
}

export function probeSnat(c: RedirectConfig, f: Family): string {
  return f === 4 ? c.probeSnatV4 : c.probeSnatV6;
}
