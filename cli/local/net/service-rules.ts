// Service VIPs as kube-proxy's iptables mode builds them, with our own chain names; pure.
//
// Choices: a VIP port without endpoints is REJECTed in the filter table (the client fails at once
// with "connection refused" instead of timing out), as kube-proxy does. Headless Services
// (clusterIP None or empty) get no rules. Named targetPorts are resolved by the caller's Endpoints
// builder: an endpoint lists its ports by service port name, and one with no `ports` uses the
// service port's numeric targetPort.
import { createHash } from 'node:crypto';
import ipaddr from 'ipaddr.js';

export type Protocol = 'TCP' | 'UDP';

export interface ServicePortSpec {
  /** Required (and unique) when a Service has several ports, as in Kubernetes. */
  name?: string;
  port: number;
  protocol?: Protocol;
  targetPort: number;
}

export interface ServiceSpec {
  namespace: string;
  name: string;
  clusterIP: string;
  ports: ServicePortSpec[];
}

/** An endpoint port, matched to the service port of the same name (and protocol). */
export interface EndpointPortSpec {
  name?: string;
  port: number;
  protocol?: Protocol;
}

export interface EndpointSpec {
  ip: string;
  /** Omitted: every service port, on its targetPort. */
  ports?: EndpointPortSpec[];
}

/** Endpoints keyed by `namespace/name` of their Service. */
export type EndpointsByService = ReadonlyMap<string, readonly EndpointSpec[]> | Readonly<Record<string, readonly EndpointSpec[]>>;

export const CHAIN_SERVICES = 'AMBIT-SERVICES';
export const CHAIN_POSTROUTING = 'AMBIT-POSTROUTING';
export const CHAIN_MARK_MASQ = 'AMBIT-MARK-MASQ';
export const CHAIN_PREFIX = 'AMBIT-';
export const MASQ_MARK = '0x4000';

/** One VIP port after resolution: what the rules and the conntrack clean-up are built from. */
export interface ResolvedPort {
  service: string;
  portName: string;
  vip: string;
  port: number;
  protocol: Protocol;
  chain: string;
  endpoints: { ip: string; port: number; chain: string }[];
}

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const PORT_NAME = /^[a-z0-9]([-a-z0-9]{0,13}[a-z0-9])?$/;

function isPort(n: unknown): boolean {
  return Number.isInteger(n) && (n as number) >= 1 && (n as number) <= 65535;
}

function isIPv4(s: string): boolean {
  return ipaddr.IPv4.isValidFourPartDecimal(s);
}

export function isHeadless(s: ServiceSpec): boolean {
  return s.clusterIP === 'None' || s.clusterIP === '';
}

/** Problems with a Service, each naming the object and the field; empty when it is usable. */
export function validateService(s: ServiceSpec): string[] {
  const id = `Service ${s.namespace}/${s.name}`;
  const errs: string[] = [];
  if (!DNS_LABEL.test(s.namespace ?? '')) errs.push(`${id}: metadata.namespace is not a DNS-1123 label`);
  if (!DNS_LABEL.test(s.name ?? '')) errs.push(`${id}: metadata.name is not a DNS-1123 label`);
  if (!isHeadless(s) && !isIPv4(s.clusterIP ?? '')) errs.push(`${id}: spec.clusterIP ${JSON.stringify(s.clusterIP)} is not an IPv4 address`);
  const names = new Set<string>();
  (s.ports ?? []).forEach((p, i) => {
    const f = `${id}: spec.ports[${i}]`;
    if (!isPort(p.port)) errs.push(`${f}.port: ${p.port} is not a port number (1-65535)`);
    if (!isPort(p.targetPort)) errs.push(`${f}.targetPort: ${p.targetPort} is not a port number (resolve named ports in the Endpoints)`);
    if (p.protocol !== undefined && p.protocol !== 'TCP' && p.protocol !== 'UDP') errs.push(`${f}.protocol: ${String(p.protocol)} is not supported (TCP or UDP)`);
    if (p.name !== undefined && !PORT_NAME.test(p.name)) errs.push(`${f}.name: ${JSON.stringify(p.name)} is not a valid port name`);
    const key = p.name ?? '';
    if (names.has(key)) errs.push(`${f}.name: ${key ? `duplicate name ${key}` : 'required when a Service has more than one port'}`);
    names.add(key);
  });
  return errs;
}

/** Problems with one endpoint of a Service; empty when it is usable. */
export function validateEndpoint(service: string, e: EndpointSpec, i: number): string[] {
  const f = `Endpoints ${service}: endpoints[${i}]`;
  const errs: string[] = [];
  if (!isIPv4(e.ip ?? '')) errs.push(`${f}.ip: ${JSON.stringify(e.ip)} is not an IPv4 address`);
  (e.ports ?? []).forEach((p, j) => {
    if (!isPort(p.port)) errs.push(`${f}.ports[${j}].port: ${p.port} is not a port number (1-65535)`);
  });
  return errs;
}

function ipNum(ip: string): number {
  return ipaddr.IPv4.parse(ip).toByteArray().reduce((n, b) => n * 256 + b, 0);
}

function hash16(s: string): string {
  return createHash('sha256').update(s).digest('hex').slice(0, 16).toUpperCase();
}

export function endpointsOf(all: EndpointsByService, key: string): readonly EndpointSpec[] {
  if (all instanceof Map) return all.get(key) ?? [];
  return Object.prototype.hasOwnProperty.call(all, key) ? ((all as Record<string, readonly EndpointSpec[]>)[key] ?? []) : [];
}

/** Services × endpoints → VIP ports with their backends. Throws on invalid input (see validateService). */
export function resolveServices(services: readonly ServiceSpec[], endpoints: EndpointsByService): ResolvedPort[] {
  const out: ResolvedPort[] = [];
  for (const s of services) {
    const errs = validateService(s);
    if (errs.length > 0) throw new Error(errs.join('; '));
    if (isHeadless(s)) continue;
    const key = `${s.namespace}/${s.name}`;
    const eps = endpointsOf(endpoints, key);
    eps.forEach((e, i) => {
      const bad = validateEndpoint(key, e, i);
      if (bad.length > 0) throw new Error(bad.join('; '));
    });
    for (const sp of s.ports) {
      const protocol = sp.protocol ?? 'TCP';
      const portName = sp.name ?? '';
      const spn = `${key}:${portName}`;
      const seen = new Set<string>();
      const backends: ResolvedPort['endpoints'] = [];
      for (const e of eps) {
        const port = e.ports === undefined ? sp.targetPort : e.ports.find((p) => (p.name ?? '') === portName && (p.protocol ?? 'TCP') === protocol)?.port;
        if (port === undefined || seen.has(`${e.ip}:${port}`)) continue;
        seen.add(`${e.ip}:${port}`);
        backends.push({ ip: e.ip, port, chain: `AMBIT-SEP-${hash16(`${spn}/${protocol}/${e.ip}:${port}`)}` });
      }
      backends.sort((a, b) => ipNum(a.ip) - ipNum(b.ip) || a.port - b.port);
      out.push({ service: key, portName, vip: s.clusterIP, port: sp.port, protocol, chain: `AMBIT-SVC-${hash16(`${spn}/${protocol}`)}`, endpoints: backends });
    }
  }
  return out;
}

/** Rules already in a namespace, as far as the renderer cares: our chains, and built-in chains' jumps into them. */
export interface ExistingRules {
  /** Chains named AMBIT-* per table. */
  chains: Record<string, string[]>;
  /** `table/CHAIN/TARGET` for each rule of a built-in chain that jumps to one of ours. */
  jumps: string[];
}

const JUMPS: { table: string; chain: string; target: string; match: string }[] = [
  { table: 'nat', chain: 'PREROUTING', target: CHAIN_SERVICES, match: '-m comment --comment "ambit service portals"' },
  { table: 'nat', chain: 'OUTPUT', target: CHAIN_SERVICES, match: '-m comment --comment "ambit service portals"' },
  { table: 'nat', chain: 'POSTROUTING', target: CHAIN_POSTROUTING, match: '-m comment --comment "ambit postrouting rules"' },
  { table: 'filter', chain: 'FORWARD', target: CHAIN_SERVICES, match: '-m conntrack --ctstate NEW -m comment --comment "ambit service portals"' },
  { table: 'filter', chain: 'OUTPUT', target: CHAIN_SERVICES, match: '-m conntrack --ctstate NEW -m comment --comment "ambit service portals"' },
];

function proto(p: Protocol): string {
  const l = p.toLowerCase();
  return `-p ${l} -m ${l}`;
}

export interface RenderOptions {
  existing?: ExistingRules;
  /** Masquerade VIP traffic whose source is outside this CIDR (kube-proxy's --cluster-cidr). */
  clusterCIDR?: string;
}

/**
 * iptables-restore input (for `--noflush`) that rebuilds our chains in the nat and filter tables
 * in one transaction: every AMBIT-* chain is declared (which flushes it), stale ones are deleted,
 * and the jumps from built-in chains are inserted only when missing. Nobody else's rules are touched.
 */
export function renderServiceRules(services: readonly ServiceSpec[], endpoints: EndpointsByService, opts: RenderOptions = {}): string {
  return renderResolved(resolveServices(services, endpoints), opts);
}

export function renderResolved(ports: readonly ResolvedPort[], opts: RenderOptions = {}): string {
  const existing = opts.existing ?? { chains: {}, jumps: [] };
  const out: string[] = [];
  for (const table of ['nat', 'filter']) {
    const chains = table === 'nat' ? [CHAIN_SERVICES, CHAIN_POSTROUTING, CHAIN_MARK_MASQ] : [CHAIN_SERVICES];
    const rules: string[] = [];
    for (const j of JUMPS.filter((x) => x.table === table)) {
      if (!existing.jumps.includes(`${j.table}/${j.chain}/${j.target}`)) rules.push(`-I ${j.chain} 1 ${j.match} -j ${j.target}`);
    }
    if (table === 'nat') {
      rules.push(
        `-A ${CHAIN_MARK_MASQ} -j MARK --or-mark ${MASQ_MARK}`,
        `-A ${CHAIN_POSTROUTING} -m mark ! --mark ${MASQ_MARK}/${MASQ_MARK} -j RETURN`,
        // Clear the bit so a packet that is re-routed through here is not masqueraded twice.
        `-A ${CHAIN_POSTROUTING} -j MARK --xor-mark ${MASQ_MARK}`,
        `-A ${CHAIN_POSTROUTING} -m comment --comment "ambit service traffic requiring SNAT" -j MASQUERADE`,
      );
    }
    for (const p of ports) {
      const dst = `-d ${p.vip}/32 ${proto(p.protocol)} --dport ${p.port}`;
      const name = `${p.service}${p.portName ? ':' + p.portName : ''}`;
      if (table === 'filter') {
        if (p.endpoints.length === 0) rules.push(`-A ${CHAIN_SERVICES} ${dst} -m comment --comment "${name} has no endpoints" -j REJECT --reject-with icmp-port-unreachable`);
        continue;
      }
      if (p.endpoints.length === 0) continue;
      chains.push(p.chain);
      rules.push(`-A ${CHAIN_SERVICES} ${dst} -m comment --comment "${name} cluster IP" -j ${p.chain}`);
      if (opts.clusterCIDR) rules.push(`-A ${p.chain} ! -s ${opts.clusterCIDR} ${dst} -j ${CHAIN_MARK_MASQ}`);
      p.endpoints.forEach((e, i) => {
        const n = p.endpoints.length - i;
        const pick = n > 1 ? ` -m statistic --mode random --probability ${(1 / n).toFixed(10)}` : '';
        rules.push(`-A ${p.chain} -m comment --comment "${name} -> ${e.ip}:${e.port}"${pick} -j ${e.chain}`);
        chains.push(e.chain);
        // Hairpin: an endpoint reaching itself through the VIP must see the reply come from elsewhere.
        rules.push(`-A ${e.chain} -s ${e.ip}/32 -j ${CHAIN_MARK_MASQ}`);
        rules.push(`-A ${e.chain} ${proto(p.protocol)} -j DNAT --to-destination ${e.ip}:${e.port}`);
      });
    }
    const unique = [...new Set(chains)];
    const stale = (existing.chains[table] ?? []).filter((c) => c.startsWith(CHAIN_PREFIX) && !unique.includes(c));
    out.push(`*${table}`, ...[...unique, ...stale].map((c) => `:${c} - [0:0]`), ...rules, ...stale.map((c) => `-X ${c}`), 'COMMIT');
  }
  return out.join('\n') + '\n';
}
