// The route table of an admin/metrics port and the answers it gives, as pure functions: which
// handler a request goes to, or the 404/405 it gets instead. The I/O is in server.ts.
import type { IncomingMessage } from 'node:http';

export interface Reply {
  /** 200 when absent. */
  status?: number;
  /** text/plain when absent. */
  contentType?: string;
  body: string;
  headers?: Record<string, string>;
}

export type Handler = (url: URL, req: IncomingMessage) => Reply | Promise<Reply>;

/** A handler with its methods; a bare handler answers GET (and HEAD). */
export interface RouteSpec {
  methods: readonly string[];
  handler: Handler;
}

/** Exact path → handler; a key ending in `/*` takes every path below it (the longest one wins). */
export type Routes = Record<string, Handler | RouteSpec>;

const TEXT = 'text/plain; charset=utf-8';

export const json = (value: unknown, status = 200): Reply => ({ status, contentType: 'application/json', body: JSON.stringify(value, null, 2) + '\n' });
export const text = (body: string, status = 200): Reply => ({ status, contentType: TEXT, body });

/** Anything that serves Prometheus text, as a prom-client Registry does. */
export interface MetricsSource {
  readonly contentType: string;
  metrics(): Promise<string>;
}

export function metricsRoute(registry: MetricsSource): Handler {
  return async () => ({ contentType: registry.contentType, body: await registry.metrics() });
}

export interface Readiness {
  ready: boolean;
  /** Why not, each a short phrase; joined with "; " in the 503 body. */
  reasons: string[];
}

/**
 * `/healthz/ready` as Istio's components answer it: 200 with a short body when ready, 503 with
 * the reasons otherwise, so that `curl` on the port says what is still missing.
 */
export function readinessRoute(check: () => Readiness, readyBody = 'ready\n'): Handler {
  return () => {
    const r = check();
    if (r.ready) return text(readyBody);
    return text(`not ready: ${r.reasons.length ? r.reasons.join('; ') : 'starting'}\n`, 503);
  };
}

/**
 * Whether a peer address is the host's own loopback: 127.0.0.0/8, ::1, or 127.x written as an
 * IPv4-mapped IPv6 address (how a dual-stack listener reports an IPv4 peer).
 */
export function isLoopbackAddress(address: string | undefined): boolean {
  if (!address) return false;
  const a = address.toLowerCase();
  if (a === '::1') return true;
  const v4 = a.startsWith('::ffff:') ? a.slice('::ffff:'.length) : a;
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}

/**
 * A handler that answers loopback peers only; any other peer gets 403 with a body that says how
 * to reach it. For dumps that must not be readable by every pod that can reach the port.
 */
export function loopbackOnly(handler: Handler, hint: string): Handler {
  return (url, req) => {
    const peer = req.socket.remoteAddress;
    if (isLoopbackAddress(peer)) return handler(url, req);
    return text(`${url.pathname} answers only loopback peers (127.0.0.1, ::1), not ${peer ?? 'an unknown address'}; ${hint}\n`, 403);
  };
}

/** The methods a route answers, HEAD included wherever GET is. */
export function allowedMethods(route: Handler | RouteSpec): string[] {
  const methods = typeof route === 'function' ? ['GET'] : route.methods.map((m) => m.toUpperCase());
  return methods.includes('GET') && !methods.includes('HEAD') ? [...methods, 'HEAD'] : methods;
}

export type Dispatch = { kind: 'handler'; handler: Handler } | { kind: 'reply'; reply: Reply };

/** The longest `/*` route that `path` lies under. */
function prefixRoute(routes: Routes, path: string): Handler | RouteSpec | undefined {
  let best: string | undefined;
  for (const key of Object.keys(routes)) {
    if (key.endsWith('/*') && path.startsWith(key.slice(0, -1)) && path.length > key.length - 1 && (best === undefined || key.length > best.length)) best = key;
  }
  return best === undefined ? undefined : routes[best];
}

/** Where a request goes: its handler, or the 404 (listing the paths) or 405 (with Allow) it gets. */
export function dispatch(routes: Routes, method: string, path: string): Dispatch {
  const route = Object.hasOwn(routes, path) ? routes[path] : prefixRoute(routes, path);
  if (route === undefined) {
    return { kind: 'reply', reply: text(`no route ${path}; try ${Object.keys(routes).sort().join(', ')}\n`, 404) };
  }
  const allowed = allowedMethods(route);
  if (!allowed.includes(method)) {
    const reply = text(`method ${method} not allowed on ${path}; use ${allowed.join(', ')}\n`, 405);
    return { kind: 'reply', reply: { ...reply, headers: { allow: allowed.join(', ') } } };
  }
  return { kind: 'handler', handler: typeof route === 'function' ? route : route.handler };
}

/**
 * `/logging[?level=L]`: shows the level, or sets it. GET as well as POST (Istio's proxies take POST)
 * so that a browser or plain curl can set it.
 */
export function loggingRoute(log: { level: string; info(obj: object, msg: string): void }, levels: readonly string[]): RouteSpec {
  return {
    methods: ['GET', 'POST'],
    handler: (url) => {
      const level = url.searchParams.get('level');
      if (level !== null) {
        if (!levels.includes(level)) return text(`unknown level "${level}"; use one of ${levels.join(', ')}\n`, 400);
        log.level = level;
        log.info({ level }, 'log level changed');
      }
      return json({ level: log.level });
    },
  };
}

/** Prometheus on the proxies' 15020: `/metrics` and Envoy's `/stats/prometheus`. */
export function proxyMetricsRoutes(registry: MetricsSource): Routes {
  const scrape = metricsRoute(registry);
  return { '/metrics': scrape, '/stats/prometheus': scrape };
}

/** Readiness on the proxies' 15021: `/healthz/ready`. */
export function healthzRoutes(ready: () => Readiness): Routes {
  return { '/healthz/ready': readinessRoute(ready) };
}
