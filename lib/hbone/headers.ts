// The HBONE request headers besides `:authority`: forwarded and baggage (traceparent is
// lib/telemetry/trace-context.ts). Pure builders and parsers.
// === forwarded ===

/** `for="<src ip:port>"`, plus `;host=<service FQDN>` when the intended service is known (RFC 7239 quoting). */
export function buildForwarded(forAddr: string, host?: string): string {
  const base = `for="${forAddr.replace(/["\\]/g, '')}"`;
  return host ? `${base};host=${host}` : base;
}

export interface Forwarded {
  for?: string;
  host?: string;
}

/** Reads the first element of a Forwarded header; unknown parameters are ignored. */
export function parseForwarded(value: string | undefined): Forwarded {
  const out: Forwarded = {};
  if (!value) return out;
  const first = value.split(',')[0] ?? '';
  for (const pair of first.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    const key = pair.slice(0, eq).trim().toLowerCase();
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    if (key === 'for') out.for = v;
    else if (key === 'host') out.host = v;
  }
  return out;
}

// === baggage ===

export type WorkloadType = 'deployment' | 'cronjob' | 'pod' | 'job';

/** What ztunnel says about the source (request) or destination (response) workload. */
export interface BaggageFields {
  clusterName?: string;
  namespace?: string;
  workloadType?: WorkloadType;
  workloadName?: string;
  serviceName?: string;
  serviceVersion?: string;
  region?: string;
  zone?: string;
}

const WORKLOAD_TYPES: readonly WorkloadType[] = ['deployment', 'cronjob', 'pod', 'job'];

// W3C baggage: values may hold any printable ASCII except space, '"', ',', ';' and '\'; the rest is percent-encoded.
function encodeValue(v: string): string {
  return Array.from(Buffer.from(v, 'utf8'))
    .map((b) => (b > 0x20 && b < 0x7f && b !== 0x22 && b !== 0x2c && b !== 0x3b && b !== 0x5c && b !== 0x25 ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`))
    .join('');
}

function decodeValue(v: string): string {
  try {
    return decodeURIComponent(v);
  } catch {
    return v;
  }
}

/** Items in ztunnel's order; empty fields are left out. */
export function buildBaggage(f: BaggageFields): string {
  const items: [string, string | undefined][] = [
    ['k8s.cluster.name', f.clusterName],
    ['k8s.namespace.name', f.namespace],
    [f.workloadType ? `k8s.${f.workloadType}.name` : '', f.workloadType ? f.workloadName : undefined],
    ['service.name', f.serviceName],
    ['service.version', f.serviceVersion],
    ['cloud.region', f.region],
    ['cloud.availability_zone', f.zone],
  ];
  return items
    .filter(([k, v]) => k !== '' && v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${encodeValue(v!)}`)
    .join(',');
}

/** Reads the keys ztunnel writes; other members and member properties (`;…`) are ignored. */
export function parseBaggage(value: string | undefined): BaggageFields {
  const out: BaggageFields = {};
  if (!value) return out;
  for (const member of value.split(',')) {
    const kv = member.split(';')[0] ?? '';
    const eq = kv.indexOf('=');
    if (eq < 0) continue;
    const key = kv.slice(0, eq).trim();
    const v = decodeValue(kv.slice(eq + 1).trim());
    if (v === '') continue;
    const wl = /^k8s\.([a-z]+)\.name$/.exec(key);
    if (key === 'k8s.cluster.name') out.clusterName = v;
    else if (key === 'k8s.namespace.name') out.namespace = v;
    else if (wl && (WORKLOAD_TYPES as readonly string[]).includes(wl[1]!)) {
      out.workloadType = wl[1] as WorkloadType;
      out.workloadName = v;
    } else if (key === 'service.name') out.serviceName = v;
    else if (key === 'service.version') out.serviceVersion = v;
    else if (key === 'cloud.region') out.region = v;
    else if (key === 'cloud.availability_zone') out.zone = v;
  }
  return out;
}
