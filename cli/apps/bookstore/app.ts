// The demo's bookstore services (`ambit bookstore`): one small HTTP server per service that answers
// JSON about itself and, per its configuration, calls its downstreams and nests their answers —
// productpage → details and reviews; reviews v2/v3 → ratings, as Istio's Bookinfo is shaped. A
// failed downstream call is shown in the answer (status and error) rather than failing the page,
// so a fault or a denied call is visible while the page still loads.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../../lib/telemetry/log.js';

export interface Downstream {
  /** The key of its answer in ours (`details`, `reviews`, `ratings`). */
  name: string;
  url: string;
}

export interface BookstoreConfig {
  service: string;
  version: string;
  pod: string;
  namespace: string;
  port: number;
  host: string;
  calls: Downstream[];
  /** Static fields of the answer (`stars=black`). */
  fields: Record<string, string>;
  /** Per downstream call. */
  timeoutMs: number;
}

/** The request headers a service forwards to its downstreams, so traces and user routing work. */
export const PROPAGATED = ['x-request-id', 'traceparent', 'tracestate', 'b3', 'x-b3-traceid', 'x-b3-spanid', 'x-b3-parentspanid', 'x-b3-sampled', 'x-b3-flags', 'baggage', 'end-user', 'user-agent', 'cookie'];

/** `name=url` of `--call`, checked. */
export function parseCall(v: string): Downstream {
  const i = v.indexOf('=');
  const name = v.slice(0, i);
  const url = v.slice(i + 1);
  if (i <= 0 || !/^[a-z][a-z0-9-]*$/.test(name)) throw new Error(`--call: "${v}" is not NAME=URL (NAME in lowercase letters, digits and '-')`);
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`--call ${name}: "${url}" is not a URL`);
  }
  if (u.protocol !== 'http:') throw new Error(`--call ${name}: only http:// URLs are supported, got ${u.protocol}`);
  return { name, url };
}

/** `key=value` of `--field`, checked. */
export function parseField(v: string): [string, string] {
  const i = v.indexOf('=');
  if (i <= 0) throw new Error(`--field: "${v}" is not KEY=VALUE`);
  return [v.slice(0, i), v.slice(i + 1)];
}

export type CallResult = { status: number; body: unknown } | { status: number; error: string };

/** What the service answers: who it is, its fields, then each downstream's answer or failure. */
export function answer(cfg: Pick<BookstoreConfig, 'service' | 'version' | 'pod' | 'namespace' | 'fields'>, results: Array<[string, CallResult]>): Record<string, unknown> {
  const out: Record<string, unknown> = { service: cfg.service, version: cfg.version, pod: cfg.pod, namespace: cfg.namespace, ...cfg.fields };
  for (const [name, r] of results) out[name] = 'body' in r && r.status < 400 ? r.body : r;
  return out;
}

export function forwardedHeaders(h: http.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of PROPAGATED) {
    const v = h[k];
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}

async function call(d: Downstream, headers: Record<string, string>, timeoutMs: number): Promise<CallResult> {
  try {
    const res = await fetch(d.url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    const text = await res.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (a proxy's own answer, e.g. a fault's "fault filter abort"): keep the text.
    }
    return res.status < 400 ? { status: res.status, body } : { status: res.status, error: typeof body === 'string' ? body.trim() : JSON.stringify(body) };
  } catch (e) {
    const err = e as Error & { cause?: Error };
    return { status: 0, error: `${d.url}: ${err.cause?.message ?? err.message}` };
  }
}

export interface BookstoreServer {
  port: number;
  close(): Promise<void>;
}

export async function startBookstore(cfg: BookstoreConfig, log: Logger): Promise<BookstoreServer> {
  const server = http.createServer((req, res) => {
    const start = Date.now();
    if (req.url === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    const headers = forwardedHeaders(req.headers);
    void Promise.all(cfg.calls.map(async (d) => [d.name, await call(d, headers, cfg.timeoutMs)] as [string, CallResult])).then((results) => {
      const body = JSON.stringify(answer(cfg, results)) + '\n';
      res.writeHead(200, { 'content-type': 'application/json' }).end(body);
      log.info({ method: req.method, url: req.url, status: 200, calls: Object.fromEntries(results.map(([n, r]) => [n, r.status])), durationMs: Date.now() - start }, 'request');
    });
  });
  // Callers (the load client, waypoints) keep connections alive; do not cut them first.
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`bookstore ${cfg.service}: cannot listen on ${cfg.host}:${cfg.port}: ${e.message}`)));
    server.listen(cfg.port, cfg.host, resolve);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ service: cfg.service, version: cfg.version, port, calls: cfg.calls }, 'bookstore service listening');
  return {
    port,
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
