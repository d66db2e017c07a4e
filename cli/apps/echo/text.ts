/**
 * The echo app's answer format, shared by server, client and tests: plain text, one
 * `Key=value` per line (like Istio's test echo), plus the request controls
 * (`?status=`, `?delay=`, `?size=`, `?headers=`) that tests use to shape an answer. Pure.
 */
import { parseDuration } from '../../../lib/config/duration.js';

/** What the server saw of one request; rendered by {@link buildEchoText}. */
export interface EchoFacts {
  serviceVersion: string;
  servicePort: number;
  host: string;
  hostname: string;
  namespace: string;
  ip: string;
  method: string;
  url: string;
  proto: string;
  statusCode: number;
  cluster?: string;
  /** Request headers in arrival order, pseudo-headers excluded. */
  requestHeaders: Array<[string, string]>;
  /** Headers the client asked the server to add to the response (`?headers=`). */
  responseHeaders?: Array<[string, string]>;
  /** gRPC only: the request message (Istio's echo answers it as `Echo=`). */
  echo?: string;
}

/** Go-style canonical header name (`x-request-id` → `X-Request-Id`), so HTTP/1.1 and HTTP/2 read alike. */
export function canonicalHeaderName(name: string): string {
  return name
    .toLowerCase()
    .split('-')
    .map((p) => (p.length > 0 ? p[0]!.toUpperCase() + p.slice(1) : p))
    .join('-');
}

/** Renders the answer; header lines are sorted by name (values keep their order) so output is stable. */
export function buildEchoText(f: EchoFacts): string {
  const lines = [
    `ServiceVersion=${f.serviceVersion}`,
    `ServicePort=${f.servicePort}`,
    `Host=${f.host}`,
    `Hostname=${f.hostname}`,
    `Namespace=${f.namespace}`,
    `IP=${f.ip}`,
    `Method=${f.method}`,
    `URL=${f.url}`,
    `Proto=${f.proto}`,
    `StatusCode=${f.statusCode}`,
  ];
  if (f.cluster) lines.push(`Cluster=${f.cluster}`);
  if (f.echo !== undefined && f.echo !== '') lines.push(`Echo=${f.echo}`);
  for (const [k, v] of sortByName(f.requestHeaders)) lines.push(`RequestHeader=${canonicalHeaderName(k)}:${v}`);
  for (const [k, v] of sortByName(f.responseHeaders ?? [])) lines.push(`ResponseHeader=${canonicalHeaderName(k)}:${v}`);
  return lines.join('\n') + '\n';
}

function sortByName(h: Array<[string, string]>): Array<[string, string]> {
  return h
    .map((e, i) => ({ e, i, k: e[0].toLowerCase() }))
    .sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.i - b.i))
    .map((x) => x.e);
}

/** A parsed answer: the single-valued fields (first occurrence wins) and the header lines by lower-case name. */
export interface ParsedEcho {
  fields: Record<string, string>;
  requestHeaders: Record<string, string[]>;
  responseHeaders: Record<string, string[]>;
}

/** Parses an echo answer; lines without `=` (such as `?size=` padding) are ignored. */
export function parseEchoText(text: string): ParsedEcho {
  const out: ParsedEcho = { fields: {}, requestHeaders: {}, responseHeaders: {} };
  for (const line of text.split('\n')) {
    const eq = line.indexOf('=');
    if (eq <= 0) continue;
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1).replace(/\r$/, '');
    if (key === 'RequestHeader' || key === 'ResponseHeader') {
      const colon = value.indexOf(':');
      if (colon <= 0) continue;
      const map = key === 'RequestHeader' ? out.requestHeaders : out.responseHeaders;
      const name = value.slice(0, colon).toLowerCase();
      (map[name] ??= []).push(value.slice(colon + 1));
    } else if (!(key in out.fields)) {
      out.fields[key] = value;
    }
  }
  return out;
}

/** Reads one field without parsing the whole answer; the load client calls it per response. */
export function echoField(text: string, key: string): string | undefined {
  const needle = `${key}=`;
  let start: number;
  if (text.startsWith(needle)) {
    start = needle.length;
  } else {
    const at = text.indexOf(`\n${needle}`);
    if (at < 0) return undefined;
    start = at + 1 + needle.length;
  }
  const end = text.indexOf('\n', start);
  return text.slice(start, end < 0 ? undefined : end).replace(/\r$/, '');
}

/** What a request asks the server to do with its answer. */
export interface EchoControls {
  status: number;
  delayMs: number;
  size: number;
  headers: Array<[string, string]>;
}

export const MAX_DELAY_MS = 300_000;
export const MAX_SIZE = 64 * 1024 * 1024;

/** Parses `k:v,k2:v2` (the `?headers=` control and the CLI's header lists). */
export function parseHeaderList(input: string, field: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const item of input.split(',')) {
    if (item.trim() === '') continue;
    out.push(parseHeaderPair(item, field));
  }
  return out;
}

/** Parses one `name:value` pair (e.g. a `-H` flag). */
export function parseHeaderPair(item: string, field: string): [string, string] {
  const colon = item.indexOf(':');
  const name = colon > 0 ? item.slice(0, colon).trim() : '';
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) {
    throw new Error(`${field}: '${item}' is not name:value with a valid header name`);
  }
  return [name, item.slice(colon + 1).trim()];
}

/**
 * Reads the controls from the query string, falling back to `x-echo-status`, `x-echo-delay`,
 * `x-echo-size` and `x-echo-headers` request headers (the query wins). Throws a message naming
 * the control on bad input.
 */
export function parseControls(query: URLSearchParams, header: (name: string) => string | undefined): EchoControls {
  const get = (k: string): [string, string] | undefined => {
    const q = query.get(k);
    if (q !== null) return [q, `?${k}`];
    const h = header(`x-echo-${k}`);
    return h !== undefined ? [h, `x-echo-${k}`] : undefined;
  };
  const c: EchoControls = { status: 200, delayMs: 0, size: 0, headers: [] };
  const status = get('status');
  if (status) {
    const n = Number(status[0]);
    if (!/^\d{3}$/.test(status[0].trim()) || n < 100 || n > 599) throw new Error(`${status[1]}: '${status[0]}' is not a status code 100..599`);
    c.status = n;
  }
  const delay = get('delay');
  if (delay) {
    c.delayMs = parseDuration(delay[0], delay[1]);
    if (c.delayMs > MAX_DELAY_MS) throw new Error(`${delay[1]}: '${delay[0]}' is longer than the ${MAX_DELAY_MS / 1000}s limit`);
  }
  const size = get('size');
  if (size) {
    const n = Number(size[0]);
    if (!/^\d+$/.test(size[0].trim()) || n > MAX_SIZE) throw new Error(`${size[1]}: '${size[0]}' is not a byte count 0..${MAX_SIZE}`);
    c.size = n;
  }
  const headers = get('headers');
  if (headers) c.headers = parseHeaderList(headers[0], headers[1]);
  return c;
}

/** `::ffff:10.0.0.1` → `10.0.0.1`: the address a v4 client actually has. */
export function plainAddress(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** gRPC peers look like `ipv4:1.2.3.4:5`, `ipv6:[::1]:5`, `1.2.3.4:5` or `[::1]:5`; returns the address. */
export function grpcPeerAddress(peer: string): string {
  const p = peer.replace(/^ipv[46]:/, '');
  const v6 = /^\[([^\]]+)\](?::\d+)?$/.exec(p);
  if (v6) return plainAddress(v6[1]);
  const colon = p.lastIndexOf(':');
  return plainAddress(colon > 0 ? p.slice(0, colon) : p);
}
