import { isIPv4 } from 'node:net';
import type { SrvData } from 'dns-packet';
import { canonicalIp, canonicalName, dashedIp, isDnsLabel, reverseName } from './names.js';

/**
 * The record set of the local cluster's DNS, built from Services, their ready endpoints and Pods,
 * with the names and answers of CoreDNS's `kubernetes` plugin. Pure: the server swaps snapshots.
 */

export interface PortInput {
  name?: string;
  port: number;
  /** TCP (default), UDP or SCTP. */
  protocol?: string;
}

export interface EndpointInput {
  ip: string;
  hostname?: string;
  podName?: string;
  /** The endpoint's (target) ports; a headless Service's SRV records use them. */
  ports?: PortInput[];
}

export interface ServiceInput {
  namespace: string;
  name: string;
  /** An address, or 'None' for a headless Service. Ignored when `externalName` is set. */
  clusterIP: string;
  ports: PortInput[];
  /** Ready endpoints only. */
  endpoints?: EndpointInput[];
  /** A Service of type ExternalName: answered with a CNAME to this name. */
  externalName?: string;
}

export interface PodInput {
  namespace: string;
  name: string;
  ip: string;
}

export interface ClusterData {
  services: ServiceInput[];
  pods: PodInput[];
}

export interface RecordOptions {
  zone: string;
  ttl: number;
  /** SOA serial; defaults to the build time in seconds. */
  serial?: number;
  /** Name headless endpoints after their pod rather than their dashed IP (CoreDNS `endpoint_pod_names`). */
  endpointPodNames: boolean;
  /** CoreDNS `pods`: verified answers only for a pod that exists; insecure answers any valid name. */
  pods: 'verified' | 'insecure' | 'disabled';
  /** This server's own address, for `ns.dns.<zone>` and as glue of the zone's NS record. */
  nameserver?: string;
}

export const DEFAULT_RECORD_OPTIONS: RecordOptions = {
  zone: 'cluster.local',
  ttl: 5,
  endpointPodNames: false,
  pods: 'verified',
};

/** What exists at one name; a name with no data is an empty non-terminal (answers NODATA). */
export interface NameEntry {
  a: string[];
  aaaa: string[];
  srv: SrvData[];
  txt: string[];
  cname?: string;
}

export interface DnsSnapshot {
  readonly options: Readonly<RecordOptions>;
  readonly zone: string;
  readonly serial: number;
  /** Canonical name (lower case, no trailing dot) → records; includes every ancestor up to the zone. */
  readonly names: ReadonlyMap<string, NameEntry>;
  /** Reverse name → PTR targets. */
  readonly ptr: ReadonlyMap<string, string[]>;
  /** `<namespace>|<ip>` of every pod, for verified pod records. */
  readonly podIps: ReadonlySet<string>;
  /** One line per input object that was skipped, naming the object and field. */
  readonly problems: string[];
}

const PROTOCOLS = new Set(['tcp', 'udp', 'sctp']);

class Builder {
  readonly names = new Map<string, NameEntry>();
  readonly ptr = new Map<string, string[]>();
  readonly podIps = new Set<string>();
  readonly problems: string[] = [];

  constructor(readonly zone: string) {}

  /** Returns the entry for `name`, creating it and every missing ancestor down from the zone. */
  entry(name: string): NameEntry {
    let e = this.names.get(name);
    if (e) return e;
    e = { a: [], aaaa: [], srv: [], txt: [] };
    this.names.set(name, e);
    if (name !== this.zone) this.entry(name.slice(name.indexOf('.') + 1));
    return e;
  }

  addIp(name: string, ip: string): void {
    const e = this.entry(name);
    const list = isIPv4(ip) ? e.a : e.aaaa;
    if (!list.includes(ip)) list.push(ip);
  }

  addPtr(ip: string, target: string): void {
    const rev = reverseName(ip);
    const list = this.ptr.get(rev) ?? [];
    if (!list.includes(target)) list.push(target);
    this.ptr.set(rev, list);
  }
}

export function buildSnapshot(data: ClusterData, opts: Partial<RecordOptions> = {}): DnsSnapshot {
  const given = Object.fromEntries(Object.entries(opts).filter(([, v]) => v !== undefined)) as Partial<RecordOptions>;
  const options: RecordOptions = { ...DEFAULT_RECORD_OPTIONS, ...given };
  options.zone = canonicalName(options.zone);
  const zone = options.zone;
  if (!zone.split('.').every(isDnsLabel)) throw new Error(`DNS zone '${zone}' is not a domain name (e.g. cluster.local)`);
  if (!Number.isInteger(options.ttl) || options.ttl < 0) throw new Error(`DNS ttl ${options.ttl} is not a whole number of seconds >= 0`);
  const b = new Builder(zone);
  b.entry(zone);
  b.entry(`dns-version.${zone}`).txt.push('1.1.0');
  const ns = options.nameserver === undefined ? undefined : canonicalIp(options.nameserver);
  if (ns) b.addIp(`ns.dns.${zone}`, ns);
  b.entry(`svc.${zone}`);
  b.entry(`pod.${zone}`);
  for (const svc of data.services) addService(b, svc, options);
  for (const pod of data.pods) addPod(b, pod);
  return {
    options,
    zone,
    serial: options.serial ?? Math.floor(Date.now() / 1000),
    names: b.names,
    ptr: b.ptr,
    podIps: b.podIps,
    problems: b.problems,
  };
}

function addService(b: Builder, svc: ServiceInput, options: RecordOptions): void {
  const where = `Service ${svc.namespace}/${svc.name}`;
  if (!isDnsLabel(svc.namespace) || !isDnsLabel(svc.name)) {
    b.problems.push(`${where}: metadata.name/namespace is not a DNS label; no DNS records`);
    return;
  }
  const svcName = `${svc.name}.${svc.namespace}.svc.${b.zone}`;
  b.entry(`${svc.namespace}.svc.${b.zone}`);
  if (svc.externalName !== undefined) {
    const target = canonicalName(svc.externalName);
    if (!target || target === '.') b.problems.push(`${where}: spec.externalName is empty; no DNS records`);
    else b.entry(svcName).cname = target;
    return;
  }
  const headless = svc.clusterIP === 'None';
  const vip = headless ? undefined : canonicalIp(svc.clusterIP);
  if (!headless && !vip) {
    b.problems.push(`${where}: spec.clusterIP '${svc.clusterIP}' is neither an address nor 'None'; no DNS records`);
    return;
  }
  const ports = validPorts(b, where, 'spec.ports', svc.ports);
  const endpoints = validEndpoints(b, where, svc.endpoints ?? []);
  const epName = (ep: EndpointInput & { ip: string }): string => {
    if (ep.hostname && isDnsLabel(ep.hostname)) return ep.hostname;
    if (options.endpointPodNames && ep.podName && isDnsLabel(ep.podName)) return ep.podName;
    return dashedIp(ep.ip);
  };
  // Every endpoint gets a name under its service, headless or not, and a PTR back to it.
  for (const ep of endpoints) {
    const name = `${epName(ep)}.${svcName}`;
    b.addIp(name, ep.ip);
    b.addPtr(ep.ip, name);
  }
  if (vip) {
    b.addIp(svcName, vip);
    b.addPtr(vip, svcName);
    addSrv(b, svcName, ports.map((p) => ({ port: p, target: svcName })));
    return;
  }
  // Headless without ready endpoints does not exist, as in CoreDNS.
  if (endpoints.length === 0) return;
  for (const ep of endpoints) b.addIp(svcName, ep.ip);
  const targets: Array<{ port: Required<PortInput>; target: string }> = [];
  for (const ep of endpoints) {
    const epPorts = ep.ports ? validPorts(b, where, `endpoints ${ep.ip} ports`, ep.ports) : ports;
    for (const p of epPorts) targets.push({ port: p, target: `${epName(ep)}.${svcName}` });
  }
  addSrv(b, svcName, targets);
}

/** SRV at `_<port>._<proto>.<svc>` for named ports, and every port at the service name itself. */
function addSrv(b: Builder, svcName: string, list: Array<{ port: Required<PortInput>; target: string }>): void {
  const weight = (n: number): number => Math.max(1, Math.floor(100 / n));
  const all = list.map(({ port, target }) => ({ priority: 0, weight: weight(list.length), port: port.port, target }));
  b.entry(svcName).srv.push(...all);
  const byName = new Map<string, SrvData[]>();
  for (const { port, target } of list) {
    if (!port.name) continue;
    const key = `_${port.name}._${port.protocol}.${svcName}`;
    const rrs = byName.get(key) ?? [];
    rrs.push({ priority: 0, weight: 0, port: port.port, target });
    byName.set(key, rrs);
  }
  for (const [key, rrs] of byName) {
    for (const rr of rrs) rr.weight = weight(rrs.length);
    b.entry(key).srv.push(...rrs);
  }
}

function validPorts(b: Builder, where: string, field: string, ports: PortInput[]): Array<Required<PortInput>> {
  const out: Array<Required<PortInput>> = [];
  ports.forEach((p, i) => {
    const protocol = (p.protocol ?? 'TCP').toLowerCase();
    const name = (p.name ?? '').toLowerCase();
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) {
      b.problems.push(`${where}: ${field}[${i}].port ${String(p.port)} is not a port number; no SRV record for it`);
    } else if (!PROTOCOLS.has(protocol)) {
      b.problems.push(`${where}: ${field}[${i}].protocol '${String(p.protocol)}' is not TCP, UDP or SCTP; no SRV record for it`);
    } else if (name && !isDnsLabel(name)) {
      b.problems.push(`${where}: ${field}[${i}].name '${name}' is not a DNS label; no SRV record for it`);
    } else {
      out.push({ name, port: p.port, protocol });
    }
  });
  return out;
}

function validEndpoints(b: Builder, where: string, eps: EndpointInput[]): Array<EndpointInput & { ip: string }> {
  const out: Array<EndpointInput & { ip: string }> = [];
  for (const ep of eps) {
    const ip = canonicalIp(ep.ip);
    if (ip) out.push({ ...ep, ip, hostname: ep.hostname?.toLowerCase() });
    else b.problems.push(`${where}: endpoint address '${ep.ip}' is not an IP address; skipped`);
  }
  return out;
}

function addPod(b: Builder, pod: PodInput): void {
  const ip = canonicalIp(pod.ip);
  if (!isDnsLabel(pod.namespace)) {
    b.problems.push(`Pod ${pod.namespace}/${pod.name}: metadata.namespace is not a DNS label; no DNS record`);
  } else if (!ip) {
    b.problems.push(`Pod ${pod.namespace}/${pod.name}: status.podIP '${pod.ip}' is not an IP address; no DNS record`);
  } else {
    b.podIps.add(`${pod.namespace}|${ip}`);
    b.entry(`${pod.namespace}.pod.${b.zone}`);
  }
}
