// The pure half of `ambit ztunnel-config`: the tables `istioctl ztunnel-config` prints, made from
// ztunnel's admin `/config_dump` (ztunnel/admin). The shapes below are that dump's JSON, read as
// loosely as a client of another process must: missing fields print as Istio prints them.

/** A waypoint or gateway reference as the dump writes it. */
export type DumpGateway =
  | { kind: 'hostname'; namespace: string; hostname: string; hbonePort: number }
  | { kind: 'address'; network: string; ip: string; hbonePort: number };

export interface DumpWorkload {
  uid: string;
  name: string;
  namespace: string;
  addresses?: string[];
  node?: string;
  tunnelProtocol?: string;
  waypoint?: DumpGateway;
  status?: string;
  /** `<ns>/<hostname>` → service port → target port. */
  services?: Record<string, Record<string, number>>;
}

export interface DumpService {
  key: string;
  name: string;
  namespace: string;
  hostname: string;
  vips?: Array<{ network: string; ip: string }>;
  waypoint?: DumpGateway;
}

export interface DumpPolicy {
  key: string;
  name: string;
  namespace: string;
  scope?: string;
  action?: string;
}

export interface DumpCertificate {
  identity: string;
  state?: string;
  serialNumber?: string;
  notBefore?: string;
  notAfter?: string;
}

export interface DumpConnection {
  direction?: string;
  srcIp: string;
  srcPort?: number;
  srcIdentity?: string;
  dstIp: string;
  dstPort: number;
  originalDst?: string;
  /** The local workload's uid. */
  workload: string;
  protocol?: string;
}

export interface ConfigDump {
  workloads?: DumpWorkload[];
  services?: DumpService[];
  policies?: DumpPolicy[];
  certificates?: DumpCertificate[];
  connections?: DumpConnection[];
}

export const SECTIONS = ['workloads', 'services', 'policies', 'certificates', 'connections'] as const;
export type Section = (typeof SECTIONS)[number];

export function parseSection(v: string): Section {
  // istioctl takes the singular too (`workload`, `service`, …).
  const s = (SECTIONS as readonly string[]).find((x) => x === v || x === `${v}s`);
  if (!s) throw new Error(`ztunnel-config: unknown type "${v}"; use one of ${SECTIONS.join(', ')}`);
  return s as Section;
}

export interface Table {
  header: string[];
  rows: string[][];
}

/** The waypoint column: the waypoint's name (its Service's first label), as istioctl prints it. */
export function waypointName(g: DumpGateway | undefined): string {
  if (!g) return 'None';
  if (g.kind === 'hostname') return g.hostname.split('.')[0] ?? g.hostname;
  return g.ip;
}

const byNsName = (a: { namespace: string; name: string }, b: { namespace: string; name: string }) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name);

export function workloadsTable(d: ConfigDump): Table {
  const ws = [...(d.workloads ?? [])].sort(byNsName);
  return {
    header: ['NAMESPACE', 'POD NAME', 'ADDRESS', 'NODE', 'WAYPOINT', 'PROTOCOL'],
    rows: ws.map((w) => [w.namespace, w.name, (w.addresses ?? []).join(',') || 'None', w.node || 'None', waypointName(w.waypoint), w.tunnelProtocol === 'HBONE' ? 'HBONE' : 'TCP']),
  };
}

/** `healthy/total` endpoints of a service: the workloads that list it. */
export function endpointCount(svc: DumpService, workloads: DumpWorkload[]): string {
  const eps = workloads.filter((w) => w.services && svc.key in w.services);
  const healthy = eps.filter((w) => (w.status ?? 'HEALTHY') === 'HEALTHY').length;
  return `${healthy}/${eps.length}`;
}

export function servicesTable(d: ConfigDump): Table {
  const ss = [...(d.services ?? [])].sort((a, b) => a.namespace.localeCompare(b.namespace) || a.hostname.localeCompare(b.hostname));
  return {
    header: ['NAMESPACE', 'SERVICE NAME', 'SERVICE VIP', 'WAYPOINT', 'ENDPOINTS'],
    rows: ss.map((s) => [s.namespace, s.name, (s.vips ?? []).map((v) => v.ip).join(',') || 'None', waypointName(s.waypoint), endpointCount(s, d.workloads ?? [])]),
  };
}

const SCOPES: Record<string, string> = { GLOBAL: 'Global', NAMESPACE: 'Namespace', WORKLOAD_SELECTOR: 'WorkloadSelector' };

export function policiesTable(d: ConfigDump): Table {
  const ps = [...(d.policies ?? [])].sort(byNsName);
  return {
    header: ['NAMESPACE', 'POLICY NAME', 'ACTION', 'SCOPE'],
    rows: ps.map((p) => [p.namespace, p.name, p.action === 'DENY' ? 'Deny' : 'Allow', SCOPES[p.scope ?? ''] ?? p.scope ?? 'Unknown']),
  };
}

const STATES: Record<string, string> = { available: 'Available', initializing: 'Initializing', unavailable: 'Unavailable' };

export function certificatesTable(d: ConfigDump, now = Date.now()): Table {
  const cs = [...(d.certificates ?? [])].sort((a, b) => a.identity.localeCompare(b.identity));
  return {
    header: ['CERTIFICATE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'],
    rows: cs.map((c) => {
      const valid = c.notBefore !== undefined && c.notAfter !== undefined && Date.parse(c.notBefore) <= now && now < Date.parse(c.notAfter);
      return [c.identity, 'Leaf', STATES[c.state ?? ''] ?? c.state ?? 'Unknown', String(valid), c.serialNumber ?? 'None', c.notAfter ?? 'None', c.notBefore ?? 'None'];
    }),
  };
}

const hostPort = (ip: string, port: number) => (ip.includes(':') ? `[${ip}]:${port}` : `${ip}:${port}`);

/**
 * Live connections. Inbound: LOCAL is the workload's address and port, REMOTE the client, REMOTE
 * TARGET the client's identity (HBONE) or `None` (plain TCP). Outbound: LOCAL is the app's socket,
 * REMOTE what it dialled (a Service VIP, say), REMOTE TARGET where ztunnel sent it (an endpoint or
 * a waypoint).
 */
export function connectionsTable(d: ConfigDump): Table {
  const names = new Map((d.workloads ?? []).map((w) => [w.uid, `${w.name}.${w.namespace}`]));
  const rows = (d.connections ?? []).map((c) => {
    const workload = names.get(c.workload) ?? c.workload;
    const protocol = c.protocol ?? (c.srcIdentity ? 'HBONE' : 'TCP');
    const src = c.srcPort !== undefined ? hostPort(c.srcIp, c.srcPort) : c.srcIp;
    if (c.direction === 'outbound') return [workload, 'Outbound', src, c.originalDst ?? hostPort(c.dstIp, c.dstPort), hostPort(c.dstIp, c.dstPort), protocol];
    return [workload, 'Inbound', hostPort(c.dstIp, c.dstPort), src, c.srcIdentity ?? 'None', protocol];
  });
  rows.sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
  return { header: ['WORKLOAD', 'DIRECTION', 'LOCAL', 'REMOTE', 'REMOTE TARGET', 'PROTOCOL'], rows };
}

export function sectionTable(section: Section, d: ConfigDump, now = Date.now()): Table {
  switch (section) {
    case 'workloads':
      return workloadsTable(d);
    case 'services':
      return servicesTable(d);
    case 'policies':
      return policiesTable(d);
    case 'certificates':
      return certificatesTable(d, now);
    case 'connections':
      return connectionsTable(d);
  }
}

/** Per-node sections (certificates, connections) are shown for every node, with a NODE column. */
export const PER_NODE: ReadonlySet<Section> = new Set(['certificates', 'connections']);

/** Tables of several nodes' dumps as one, with NODE first. */
export function mergeNodes(tables: Array<{ node: string; table: Table }>): Table {
  const header = ['NODE', ...(tables[0]?.table.header ?? [])];
  return { header, rows: tables.flatMap((t) => t.table.rows.map((r) => [t.node, ...r])) };
}

/** The admin forward of each node, from the names `ambit up` gives its port-forwards. */
export function ztunnelAdmins(forwards: Record<string, string>): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, addr] of Object.entries(forwards)) {
    const m = /^ztunnel (\S+) admin\b/.exec(name);
    if (m) out.set(m[1]!, addr);
  }
  return out;
}
