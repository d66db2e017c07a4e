import type { KubeObject } from '../../../lib/store/types.js';
import type { ClusterData, EndpointInput, PodInput, PortInput, ServiceInput } from './records.js';

/**
 * Kubernetes objects → the record inputs. Pure and forgiving: a malformed object becomes a
 * problem line naming it and the field, never an exception.
 */

type Rec = Record<string, unknown>;

function rec(x: unknown): Rec | undefined {
  return typeof x === 'object' && x !== null && !Array.isArray(x) ? (x as Rec) : undefined;
}
function list(x: unknown): unknown[] {
  return Array.isArray(x) ? x : [];
}
function str(x: unknown): string | undefined {
  return typeof x === 'string' && x !== '' ? x : undefined;
}

function ports(x: unknown): PortInput[] {
  const out: PortInput[] = [];
  for (const p of list(x)) {
    const r = rec(p);
    if (!r) continue;
    out.push({ name: str(r.name), port: typeof r.port === 'number' ? r.port : Number.NaN, protocol: str(r.protocol) });
  }
  return out;
}

function key(o: KubeObject): string {
  return `${o.metadata.namespace ?? 'default'}/${o.metadata.name}`;
}

/** Ready addresses of an Endpoints object, each with its subset's ports. */
export function endpointsFromKube(ep: KubeObject): EndpointInput[] {
  const out: EndpointInput[] = [];
  for (const s of list(ep.subsets)) {
    const subset = rec(s);
    if (!subset) continue;
    const subsetPorts = ports(subset.ports);
    for (const a of list(subset.addresses)) {
      const addr = rec(a);
      const ip = str(addr?.ip);
      if (!addr || !ip) continue;
      out.push({ ip, hostname: str(addr.hostname), podName: str(rec(addr.targetRef)?.name), ports: subsetPorts });
    }
  }
  return out;
}

export function serviceFromKube(svc: KubeObject, endpoints: KubeObject | undefined): ServiceInput | string {
  const where = `Service ${key(svc)}`;
  const spec = rec(svc.spec);
  if (!spec) return `${where}: spec is missing; no DNS records`;
  const base = {
    namespace: svc.metadata.namespace ?? 'default',
    name: svc.metadata.name,
    ports: ports(spec.ports),
    endpoints: endpoints ? endpointsFromKube(endpoints) : [],
  };
  if (spec.type === 'ExternalName') {
    const externalName = str(spec.externalName);
    if (!externalName) return `${where}: spec.externalName is required for type ExternalName; no DNS records`;
    return { ...base, clusterIP: 'None', externalName };
  }
  const clusterIP = str(spec.clusterIP);
  if (!clusterIP) return `${where}: spec.clusterIP is not set (not allocated yet?); no DNS records`;
  return { ...base, clusterIP };
}

/** One input per pod address; pods that finished give none (their IPs get reused). */
export function podsFromKube(pod: KubeObject): PodInput[] {
  const status = rec(pod.status);
  if (!status || status.phase === 'Succeeded' || status.phase === 'Failed') return [];
  const ips = new Set<string>();
  const primary = str(status.podIP);
  if (primary) ips.add(primary);
  for (const p of list(status.podIPs)) {
    const ip = str(rec(p)?.ip);
    if (ip) ips.add(ip);
  }
  return [...ips].map((ip) => ({ namespace: pod.metadata.namespace ?? 'default', name: pod.metadata.name, ip }));
}

export function clusterDataFromKube(
  services: Iterable<KubeObject>,
  endpoints: Iterable<KubeObject>,
  pods: Iterable<KubeObject>,
): { data: ClusterData; problems: string[] } {
  const eps = new Map<string, KubeObject>();
  for (const e of endpoints) eps.set(key(e), e);
  const data: ClusterData = { services: [], pods: [] };
  const problems: string[] = [];
  for (const s of services) {
    const r = serviceFromKube(s, eps.get(key(s)));
    if (typeof r === 'string') problems.push(r);
    else data.services.push(r);
  }
  for (const p of pods) data.pods.push(...podsFromKube(p));
  return { data, problems };
}
