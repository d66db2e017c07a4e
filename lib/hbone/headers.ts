// The HBONE request headers besides `:authority`: forwarded and baggage (traceparent is
// lib/telemetry/trace-context.ts). Pure builders and parsers.
import { namespaceProblem, serviceAccountProblem } from '../identity/spiffe.js';

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

/** A longer baggage header is ignored as a whole: Istio's own is a few hundred bytes. */
export const MAX_BAGGAGE_LENGTH = 2048;

// The values become metric labels, so each must look like what it names: Kubernetes namespaces are
// DNS-1123 labels, workload names DNS-1123 subdomains, the rest label values. Anything else (and
// every key Istio does not write) is dropped, so a peer cannot mint label values of its choosing.
const LABEL_VALUE_RE = /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;
const validName = (v: string): boolean => v.length <= 253 && serviceAccountProblem(v) === undefined;
const validLabel = (v: string): boolean => LABEL_VALUE_RE.test(v);
const validNamespace = (v: string): boolean => namespaceProblem(v) === undefined;

type FieldKey = Exclude<keyof BaggageFields, 'workloadType'>;
const KEYS: ReadonlyMap<string, { field: FieldKey; valid: (v: string) => boolean }> = new Map([
  ['k8s.cluster.name', { field: 'clusterName', valid: validLabel }],
  ['k8s.namespace.name', { field: 'namespace', valid: validNamespace }],
  ['service.name', { field: 'serviceName', valid: validLabel }],
  ['service.version', { field: 'serviceVersion', valid: validLabel }],
  ['cloud.region', { field: 'region', valid: validLabel }],
  ['cloud.availability_zone', { field: 'zone', valid: validLabel }],
]);

/**
 * Reads the keys ztunnel writes; other members and member properties (`;…`) are ignored, so is a
 * value that is not a valid name for its key (its label becomes "unknown") and a header longer
 * than MAX_BAGGAGE_LENGTH.
 */
export function parseBaggage(value: string | undefined): BaggageFields {
  const out: BaggageFields = {};
  if (!value || value.length > MAX_BAGGAGE_LENGTH) return out;
  for (const member of value.split(',')) {
    const kv = member.split(';')[0] ?? '';
    const eq = kv.indexOf('=');
    if (eq < 0) continue;
    const key = kv.slice(0, eq).trim();
    const v = decodeValue(kv.slice(eq + 1).trim());
    if (v === '') continue;
    const known = KEYS.get(key);
    if (known) {
      if (known.valid(v)) out[known.field] = v;
      continue;
    }
    const wl = /^k8s\.([a-z]+)\.name$/.exec(key);
    if (wl && (WORKLOAD_TYPES as readonly string[]).includes(wl[1]!) && validName(v)) {
      out.workloadType = wl[1] as WorkloadType;
      out.workloadName = v;
    }
  }
  return out;
}
