/**
 * The services the L7 compiler routes to and the waypoint each is bound to, reusing the L4
 * model's parsing and its `istio.io/use-waypoint` resolution so both halves always agree on
 * which waypoint serves a service. Problems of these objects are the L4 model's to report.
 */
import { useWaypoint } from '../labels.js';
import { Problems, readMeta } from '../objects.js';
import { parseServices, type ParsedPort, type ParsedService } from '../services.js';
import { bindService, buildWaypoints, type Waypoint } from '../waypoints.js';
import type { ResolvedOptions } from '../types.js';
import type { L7Snapshot } from './types.js';

export interface ServiceInfo {
  /** `<ns>/<hostname>`: the name of the service's L7 resources. */
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  ports: ParsedPort[];
  /** `<ns>/<name>` of the waypoint serving it, when one is bound and ready. */
  waypoint?: string;
}

export interface ServiceIndex {
  byHostname: Map<string, ServiceInfo>;
  waypoints: Map<string, Waypoint>;
  namespaceLabels: Map<string, Record<string, string>>;
  opts: ResolvedOptions;
}

export function indexServices(snapshot: L7Snapshot, opts: ResolvedOptions): ServiceIndex {
  const quiet = new Problems();
  const namespaceLabels = new Map<string, Record<string, string>>();
  for (const o of snapshot.namespaces ?? []) {
    const meta = readMeta(o, 'Namespace', false, quiet);
    if (meta && !namespaceLabels.has(meta.name)) namespaceLabels.set(meta.name, meta.labels);
  }
  const parsed: ParsedService[] = parseServices(snapshot.services ?? [], opts, quiet);
  const waypoints = buildWaypoints(snapshot.gateways ?? [], parsed.map((s) => s.meta), opts, quiet);
  const byHostname = new Map<string, ServiceInfo>();
  for (const s of parsed) {
    const nsLabels = namespaceLabels.get(s.meta.namespace) ?? {};
    const binding = bindService(s.meta, nsLabels, waypoints);
    let waypoint: string | undefined;
    if (binding.waypoint) {
      const use = useWaypoint(s.meta.labels, s.meta.namespace, nsLabels);
      if (use.kind === 'ref') waypoint = `${use.namespace}/${use.name}`;
    }
    byHostname.set(s.hostname, { key: s.key, name: s.meta.name, namespace: s.meta.namespace, hostname: s.hostname, ports: s.ports, waypoint });
  }
  return { byHostname, waypoints, namespaceLabels, opts };
}

/** A Service by namespace and name. */
export function serviceNamed(index: ServiceIndex, namespace: string, name: string): ServiceInfo | undefined {
  return index.byHostname.get(`${name}.${namespace}.svc.${index.opts.domainSuffix}`);
}

/**
 * An Istio host as written in `namespace`: a short name (`reviews`) is that namespace's Service;
 * anything with a dot, and `*` (every host), is taken as written.
 */
export function resolveHost(host: string, namespace: string, opts: ResolvedOptions): string {
  return host.includes('.') || host === '*' ? host : `${host}.${namespace}.svc.${opts.domainSuffix}`;
}

/** Whether a VirtualService host (maybe `*.example.com` or `*`) covers a service hostname. */
export function hostCovers(pattern: string, hostname: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return hostname.endsWith(pattern.slice(1));
  return pattern === hostname;
}
