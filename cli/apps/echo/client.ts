import { performance } from 'node:perf_hooks';
import { reconnectsOf, TransportError, type Conn, type Reply } from './conn.js';
import { GrpcConn } from './conn-grpc.js';
import { H2cConn, Http1Conn } from './conn-http.js';
import { TcpConn, tcpOneShot } from './conn-tcp.js';
import { LoadStats, scheduledOffsetMs, type LoadReport, type Sample } from './stats.js';
import { parseTarget, type Target } from './target.js';
import { echoField, parseEchoText, type ParsedEcho } from './text.js';

export type { LoadReport } from './stats.js';
export { TransportError } from './conn.js';

export type HeadersInput = Record<string, string> | Array<[string, string]>;

const toPairs = (h: HeadersInput | undefined): Array<[string, string]> => (h === undefined ? [] : Array.isArray(h) ? h : Object.entries(h));

function openConn(t: Target, headers: Array<[string, string]>): Conn {
  switch (t.protocol) {
    case 'http':
      return new Http1Conn(t);
    case 'h2c':
      return new H2cConn(t);
    case 'grpc':
      return new GrpcConn(t, headers.find(([k]) => k.toLowerCase() === 'host')?.[1]);
    case 'tcp':
      return new TcpConn(t);
  }
}

export interface LoadOptions {
  /** `http://h:p/path`, `h2c://h:p/path`, `grpc://h:p` or `tcp://h:p`. */
  url: string;
  /** Requests per second over all connections (open loop); 0 or absent = closed loop, as fast as possible. */
  qps?: number;
  /** Default 1. */
  connections?: number;
  /** Concurrent requests per connection; h2c and grpc only (they multiplex). Default 1. */
  streams?: number;
  /** Default 10 s unless `count` is given. */
  durationMs?: number;
  /** Stop after this many requests in all. */
  count?: number;
  /** Request payload bytes (HTTP: a POST body; gRPC: the message; TCP: the echoed bytes, default 64). */
  size?: number;
  headers?: HeadersInput;
  /** Per request; default 5 s. */
  timeoutMs?: number;
}

function positiveInt(v: number | undefined, field: string, dflt: number, min = 1): number {
  if (v === undefined) return dflt;
  if (!Number.isInteger(v) || v < min) throw new Error(`echo client: ${field} ${v} must be an integer >= ${min}`);
  return v;
}

/**
 * Runs load and reports. Every connection runs `streams` loops. Fixed rate (open loop, like
 * wrk2): loop j's k-th request is due at start + (k·loops + j)/qps, and its latency is measured
 * from that due time, so a slow answer that delays later sends shows up in their latency too
 * (no coordinated omission). Closed loop: each loop sends as soon as its previous answer arrived.
 */
export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  const t = parseTarget(opts.url);
  const qps = opts.qps ?? 0;
  if (!(qps >= 0) || !Number.isFinite(qps)) throw new Error(`echo client: qps ${opts.qps} must be a number >= 0`);
  const connections = positiveInt(opts.connections, 'connections', 1);
  const streams = positiveInt(opts.streams, 'streams', 1);
  if (streams > 1 && (t.protocol === 'http' || t.protocol === 'tcp')) {
    throw new Error(`echo client: streams ${streams}: only h2c and grpc multiplex; use more connections for ${t.protocol}`);
  }
  const count = opts.count === undefined ? undefined : positiveInt(opts.count, 'count', 1);
  const durationMs = opts.durationMs ?? (count === undefined ? 10_000 : undefined);
  if (durationMs !== undefined && !(durationMs > 0)) throw new Error(`echo client: duration ${durationMs} ms must be > 0`);
  const size = positiveInt(opts.size, 'size', t.protocol === 'tcp' ? 64 : 0, t.protocol === 'tcp' ? 1 : 0);
  const timeoutMs = positiveInt(opts.timeoutMs, 'timeoutMs', 5000);
  const headers = toPairs(opts.headers);
  const body = Buffer.alloc(size, 'x');
  const parse = t.protocol !== 'tcp';

  const conns = Array.from({ length: connections }, () => openConn(t, headers));
  const stats = new LoadStats();
  const loops = connections * streams;
  const start = performance.now();
  const end = durationMs === undefined ? Infinity : start + durationMs;
  let claimed = 0;

  const one = async (conn: Conn, due: number): Promise<void> => {
    let s: Sample;
    try {
      const r = await conn.send({ headers, body, timeoutMs });
      s = sampleOf(r, performance.now() - due, parse);
    } catch (e) {
      const kind = e instanceof TransportError ? e.kind : 'other';
      s = { error: kind, answered: false, latencyMs: performance.now() - due, bytesSent: 0, bytesReceived: 0 };
    }
    stats.record(s);
  };

  const fixedLoop = async (conn: Conn, j: number): Promise<void> => {
    for (let k = 0; ; k++) {
      const index = k * loops + j;
      const due = start + scheduledOffsetMs(k, j, loops, qps);
      if (due >= end || (count !== undefined && index >= count)) return;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      await one(conn, due);
    }
  };
  const closedLoop = async (conn: Conn): Promise<void> => {
    while (performance.now() < end && (count === undefined || claimed < count)) {
      claimed++;
      await one(conn, performance.now());
    }
  };

  try {
    const runs: Array<Promise<void>> = [];
    for (let j = 0; j < loops; j++) {
      const conn = conns[j % connections]!;
      runs.push(qps > 0 ? fixedLoop(conn, j) : closedLoop(conn));
    }
    await Promise.all(runs);
  } finally {
    for (const c of conns) c.close();
  }
  const header = { target: opts.url, protocol: t.protocol, mode: qps > 0 ? ('fixed-rate' as const) : ('closed-loop' as const), qps, connections, streams };
  return stats.report(header, performance.now() - start, reconnectsOf(conns));
}

function sampleOf(r: Reply, latencyMs: number, parse: boolean): Sample {
  const s: Sample = { answered: true, latencyMs, bytesSent: r.bytesSent, bytesReceived: r.bytesReceived };
  if (r.grpcCode !== undefined && r.grpcCode !== 0) s.error = `grpc:${r.grpcCodeName ?? r.grpcCode}`;
  else if (r.status >= 400) s.error = `status:${r.status}`;
  if (parse && r.body.length > 0) {
    const text = r.body.toString('utf8');
    const hostname = echoField(text, 'Hostname');
    const version = echoField(text, 'ServiceVersion');
    if (hostname !== undefined) s.hostname = hostname;
    if (version !== undefined) s.version = version;
  }
  return s;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export interface RequestOptions {
  /** Default GET, or POST when there is a body. */
  method?: string;
  headers?: HeadersInput;
  /** The payload; or `size` bytes of `x`. */
  body?: string | Buffer;
  size?: number;
  /** Default 5 s. */
  timeoutMs?: number;
  /** grpc only: send this many messages on one StreamEcho call instead of one Echo call. */
  stream?: number;
}

export interface EchoResult extends ParsedEcho {
  /** HTTP status; gRPC: mapped from the gRPC code (200 = OK); TCP: 0. */
  status: number;
  grpcCode?: number;
  headers: Record<string, string | string[]>;
  /** The body as UTF-8 text, and as bytes (byte-exact TCP checks). */
  body: string;
  raw: Buffer;
}

/**
 * One request, one fresh connection. Resolves with whatever status the server answered;
 * rejects with a {@link TransportError} (kind connect / timeout / reset) when none answered.
 */
export async function request(url: string, opts: RequestOptions = {}): Promise<EchoResult> {
  const t = parseTarget(url);
  const headers = toPairs(opts.headers);
  const body = opts.body !== undefined ? Buffer.from(opts.body) : Buffer.alloc(opts.size ?? 0, 'x');
  const timeoutMs = opts.timeoutMs ?? 5000;
  let r: Reply;
  if (opts.stream !== undefined && t.protocol !== 'grpc') throw new Error(`--stream needs a grpc:// URL, not ${url}`);
  if (t.protocol === 'tcp') {
    r = await tcpOneShot(t, body, timeoutMs);
  } else {
    const conn = openConn(t, headers);
    try {
      const o = { headers, body, timeoutMs, ...(opts.method ? { method: opts.method } : {}) };
      r = opts.stream !== undefined && conn instanceof GrpcConn ? await conn.stream(o, opts.stream) : await conn.send(o);
    } finally {
      conn.close();
    }
  }
  const text = r.body.toString('utf8');
  const out: EchoResult = { status: r.status, headers: r.headers, body: text, raw: r.body, ...parseEchoText(t.protocol === 'tcp' ? '' : text) };
  if (r.grpcCode !== undefined) out.grpcCode = r.grpcCode;
  return out;
}
