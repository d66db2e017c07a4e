// One HTTP request through the waypoint (HTTP/1.1 or HTTP/2, Node's compatibility API for both):
// L7 authorization, rate limits, route selection, fault injection, then the route's action —
// redirect, direct response, or forwarding with header mutations, rewrites, retries, timeouts and
// mirrors — and the response streamed back with its trailers. Telemetry records every request.
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import type http2 from 'node:http2';
import type { Destination, Route } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { Logger } from '../../lib/telemetry/log.js';
import type { L7Request, PolicyEngines } from '../engines.js';
import { decideFault } from '../filters/fault.js';
import { durationMs } from '../filters/duration.js';
import { mutateHeaders } from '../filters/headers.js';
import { mirrorsFor } from '../filters/mirror.js';
import { pickDestination } from '../route/destination.js';
import { selectRoute } from '../route/match.js';
import { splitTarget, type Headers } from '../route/request.js';
import { applyRewrite, redirectLocation } from '../route/rewrite.js';
import type { ServiceInfo, WaypointView } from '../state/types.js';
import type { RequestRecord, RequestTelemetry } from '../telemetry/request-telemetry.js';
import { nextTrace, TRACE_HEADERS } from '../../lib/telemetry/trace-context.js';
import type { Tracer } from '../../lib/telemetry/tracing.js';
import { requestSpan } from '../telemetry/request-span.js';
import { UpstreamError, type UpstreamClient, type UpstreamProtocol, type UpstreamResponse } from '../upstream/client.js';
import type { ClusterManager } from '../upstream/cluster.js';
import { forward } from '../upstream/forwarder.js';
import { ReplayBody } from '../upstream/replay-body.js';
import { forwardable } from './hop-by-hop.js';
import { isGrpc, localReply } from './local-reply.js';

export type DownstreamRequest = http.IncomingMessage | http2.Http2ServerRequest;
export type DownstreamResponse = http.ServerResponse | http2.Http2ServerResponse;

/** What the tunnel a request arrived on says about it. */
export interface ConnContext {
  service: ServiceInfo;
  /** The service port (from the HBONE :authority). */
  port: number;
  /** SPIFFE id of the HBONE client. */
  peerIdentity: string;
  /** The original client's IP (HBONE `forwarded`, else the peer's address). */
  sourceIp: string;
  downstream: 'HTTP/1.1' | 'HTTP/2';
  /** The HBONE CONNECT's traceparent: the parent of requests that carry no trace context. */
  tunnelTraceparent?: string;
}

export interface HandlerDeps {
  view: WaypointView;
  clusters: ClusterManager;
  client: UpstreamClient;
  engines: PolicyEngines;
  telemetry: RequestTelemetry;
  random: () => number;
  log: Logger;
  /** Bodies up to this size are kept for retries and mirrors. */
  replayLimitBytes: number;
  /** Absent when tracing is off. */
  tracer?: Tracer;
}

const REPLAY_DEFAULT = 1024 * 1024;

/** The catch-all route when no RouteConfig arrived (yet) for a service: to the service itself. */
function defaultRoute(service: ServiceInfo): Route {
  return { name: 'default', matches: [], action: { case: 'forward', value: { destinations: [{ hostname: service.hostname, namespace: service.namespace, port: 0, subset: '', subsetLabels: {}, weight: 1, failureStatus: 0 }] } }, mirrors: [] } as unknown as Route;
}

function headerBytes(h: Headers): number {
  let n = 0;
  for (const [k, v] of Object.entries(h)) {
    if (v === undefined) continue;
    for (const x of Array.isArray(v) ? v : [v]) n += k.length + x.length + 4;
  }
  return n;
}

/**
 * A response whose headers end the stream, as gRPC sends errors (grpc-status in the only HEADERS
 * frame); gRPC clients read the status there only when END_STREAM is on that frame, which the
 * compatibility API's writeHead + end does not do.
 */
function trailersOnly(res: DownstreamResponse, status: number, headers: Headers): void {
  const h: http2.OutgoingHttpHeaders = { ':status': status };
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) h[k] = v;
  (res as http2.Http2ServerResponse).stream.respond(h, { endStream: true });
}

function hostOf(authority: string): string {
  const m = /^(\[[^\]]+\]|[^:]*)(?::\d+)?$/.exec(authority);
  return m ? m[1]! : authority;
}

export class RequestHandler {
  constructor(private readonly d: HandlerDeps) {}

  handle(ctx: ConnContext, req: DownstreamRequest, res: DownstreamResponse): void {
    void this.#handle(ctx, req, res).catch((e: unknown) => {
      this.d.log.error({ err: (e as Error).message, path: req.url }, 'request handling failed');
      if (!res.headersSent) {
        res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error in the waypoint\n');
      } else res.destroy();
    });
  }

  async #handle(ctx: ConnContext, req: DownstreamRequest, res: DownstreamResponse): Promise<void> {
    const startedAt = performance.now();
    const inHeaders = req.headers as Headers;
    const method = (req.method ?? 'GET').toUpperCase();
    const { path, query } = splitTarget(req.url ?? '/');
    const authority = String(inHeaders[':authority'] ?? inHeaders.host ?? `${ctx.service.hostname}:${ctx.port}`);
    const grpc = isGrpc(inHeaders['content-type']);
    const tracer = this.d.tracer;
    const trace = nextTrace(inHeaders, { fallbackParent: ctx.tunnelTraceparent, ...(tracer ? { sample: tracer.sample } : {}) });
    const requestId = typeof inHeaders['x-request-id'] === 'string' && inHeaders['x-request-id'] ? inHeaders['x-request-id'] : randomUUID();
    const rec: RequestRecord = {
      startedAt,
      method,
      path,
      authority,
      protocol: grpc ? 'grpc' : 'http',
      downstream: ctx.downstream,
      status: 0,
      flags: [],
      sourceIp: ctx.sourceIp,
      sourcePrincipal: ctx.peerIdentity,
      source: this.d.view.workloadByIp(ctx.sourceIp),
      service: ctx.service,
      endpoint: undefined,
      route: undefined,
      requestBytes: headerBytes(inHeaders),
      responseBytes: 0,
      traceId: trace.traceId,
      requestId,
      tries: 0,
    };
    let recorded = false;
    // Set once forwarding starts; its byte count is only final when the request is over.
    const sent: { body?: ReplayBody } = {};
    const finish = (): void => {
      if (recorded) return;
      recorded = true;
      if (sent.body) rec.requestBytes += sent.body.bytes;
      this.d.telemetry.record(rec);
      if (tracer && trace.sampled) tracer.record(requestSpan(rec, trace, performance.now(), ctx.service.hostname, ctx.port));
    };
    res.once('close', finish);
    const gone = new AbortController();
    res.once('close', () => {
      if (!res.writableFinished) gone.abort();
    });

    const reply = (status: number, body: string, o: { flags?: string[]; grpcStatus?: number; headers?: Record<string, string> } = {}): void => {
      const r = localReply(status, body, { grpc, ...(o.grpcStatus !== undefined ? { grpcStatus: o.grpcStatus } : {}), ...(o.headers ? { headers: o.headers } : {}) });
      rec.status = r.status;
      if (r.grpcStatus !== undefined) rec.grpcStatus = r.grpcStatus;
      rec.flags.push(...(o.flags ?? []));
      rec.detail = body;
      const payload = Buffer.from(r.body);
      rec.responseBytes = payload.length;
      if (res.headersSent) return void res.end();
      if (payload.length === 0 && ctx.downstream === 'HTTP/2') trailersOnly(res, r.status, r.headers);
      else {
        res.writeHead(r.status, { ...r.headers, 'content-length': String(payload.length) });
        res.end(payload);
      }
      // Nobody will read the rest of a body we answered before forwarding.
      req.resume();
    };

    const hostname = ctx.service.hostname;
    const principal = ctx.peerIdentity.replace(/^spiffe:\/\//, '');
    const l7: L7Request = {
      method,
      path,
      host: hostOf(authority),
      port: ctx.port,
      headers: inHeaders,
      sourceIp: ctx.sourceIp,
      principal,
      ...(/\/ns\/([^/]+)\//.exec(principal) ? { namespace: /\/ns\/([^/]+)\//.exec(principal)![1]! } : {}),
    };

    const policies = this.d.view.authorizations(hostname);
    if (policies.length > 0) {
      const decision = this.d.engines.authorize(policies, l7);
      if (!decision.allow) return reply(403, 'RBAC: access denied', { flags: ['UAEX'] });
    }

    const limits = this.d.view.rateLimits(hostname);
    if (limits.length > 0) {
      const rl = await this.d.engines.limiter(hostname).check(l7);
      if (!rl.allowed) {
        const headers = { 'x-ratelimit-limit': String(rl.limit), 'x-ratelimit-remaining': String(rl.remaining), 'x-ratelimit-reset': String(rl.resetSeconds), 'x-envoy-ratelimited': 'true' };
        return reply(429, 'Too Many Requests', { flags: ['RL'], headers });
      }
    }

    const routes = this.d.view.routeConfig(hostname)?.routes ?? [defaultRoute(ctx.service)];
    const sel = selectRoute(routes, { method, path, query, headers: inHeaders, port: ctx.port });
    if (!sel) return reply(404, 'route not found', { flags: ['NR'] });
    const route = sel.route;
    rec.route = route.name;

    const fault = decideFault(route.fault, this.d.random);
    if (fault.delayMs !== undefined) {
      rec.flags.push('DI');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, fault.delayMs);
        gone.signal.addEventListener('abort', () => (clearTimeout(t), resolve()), { once: true });
      });
      if (gone.signal.aborted) return;
    }
    if (fault.abort) {
      const a = fault.abort;
      if ('grpcStatus' in a) return reply(200, 'fault filter abort', { flags: ['FI'], grpcStatus: a.grpcStatus });
      return reply(a.httpStatus, 'fault filter abort', { flags: ['FI'] });
    }

    switch (route.action.case) {
      case 'redirect': {
        const r = redirectLocation(route.action.value, { scheme: 'http', authority, path, query }, sel.match);
        rec.status = r.status;
        res.writeHead(r.status, mutateHeaders({ location: r.location, 'content-length': '0' }, route.responseHeaders) as http.OutgoingHttpHeaders);
        res.end();
        req.resume();
        return;
      }
      case 'directResponse': {
        const body = Buffer.from(route.action.value.body);
        rec.status = route.action.value.status;
        rec.responseBytes = body.length;
        res.writeHead(rec.status, mutateHeaders({ 'content-type': 'text/plain', 'content-length': String(body.length) }, route.responseHeaders) as http.OutgoingHttpHeaders);
        res.end(body);
        req.resume();
        return;
      }
      case 'forward':
        break;
      default:
        return reply(500, `route ${route.name} has no action`, { flags: ['NR'] });
    }

    const dest = pickDestination(route.action.value.destinations, this.d.random);
    if (!dest) return reply(503, 'no healthy upstream', { flags: ['UH'] });
    if (dest.failureStatus) return reply(dest.failureStatus, `the backend of route ${route.name} does not exist`, { flags: ['NC'] });
    const target = this.d.view.serviceByHostname(dest.hostname);
    if (!target) return reply(503, `no service ${dest.hostname}`, { flags: ['NC'] });
    rec.service = target;
    const port = dest.port || ctx.port;
    const cluster = this.d.clusters.get(target, port, dest.subset, dest.subsetLabels);
    rec.upstreamCluster = `outbound|${port}|${dest.subset}|${target.hostname}`;

    const rw = applyRewrite(route.rewrite, path, sel.match);
    const upstreamAuthority = rw.host ?? authority;
    const outHeaders = mutateHeaders(forwardable(inHeaders), route.requestHeaders, dest.requestHeaders);
    for (const h of TRACE_HEADERS) delete outHeaders[h];
    Object.assign(outHeaders, trace.headers);
    outHeaders['x-request-id'] = requestId;
    outHeaders['x-forwarded-proto'] ??= 'http';
    const upstreamPath = query ? `${rw.path}?${query}` : rw.path;

    const hasBody = this.#hasBody(req, ctx);
    const mirrors = mirrorsFor(route.mirrors, this.d.random);
    const keep = route.retry || mirrors.length > 0 ? this.d.replayLimitBytes || REPLAY_DEFAULT : 0;
    const body = hasBody ? new ReplayBody(req, keep) : undefined;
    if (body) sent.body = body;
    const protocol = this.#protocol(ctx, target, port);
    const tunnel = { forwarded: `for=${ctx.sourceIp}`, traceparent: trace.traceparent };
    const request = { method, path: upstreamPath, authority: upstreamAuthority, headers: outHeaders, tunnel };

    // Envoy marks mirrored requests by appending -shadow to the host.
    for (const m of mirrors) this.#mirror(m, ctx, port, protocol, { ...request, authority: `${hostOf(upstreamAuthority)}-shadow` }, body);

    const result = await forward({
      cluster,
      view: this.d.view,
      client: this.d.client,
      protocol,
      request,
      body,
      retry: route.retry,
      timeoutMs: durationMs(route.timeout) || undefined,
      pick: { headers: inHeaders, sourceIp: ctx.sourceIp, path: req.url ?? '/' },
      signal: gone.signal,
      random: this.d.random,
    });
    rec.tries = result.tries;
    rec.endpoint = result.endpoint;
    if (result.kind === 'failure') {
      if (result.status === 499) {
        rec.flags.push(...result.flags);
        return;
      }
      return reply(result.status, result.message, { flags: result.flags });
    }
    rec.flags.push(...result.flags);
    this.#respond(result.response, res, rec, route, dest, ctx, result.release);
  }

  #hasBody(req: DownstreamRequest, ctx: ConnContext): boolean {
    if (ctx.downstream === 'HTTP/2') return !(req as http2.Http2ServerRequest).stream.endAfterHeaders;
    const h = req.headers;
    return h['transfer-encoding'] !== undefined || (h['content-length'] !== undefined && h['content-length'] !== '0');
  }

  /**
   * As Istio: a port declared HTTP/1.1 is spoken HTTP/1.1 and one declared HTTP2 or GRPC HTTP/2,
   * whatever the client spoke; an undeclared port gets the client's protocol.
   */
  #protocol(ctx: ConnContext, service: ServiceInfo, port: number): UpstreamProtocol {
    const p = service.ports.find((x) => x.port === port)?.appProtocol;
    if (p === 'HTTP11') return 'http1';
    if (p === 'HTTP2' || p === 'GRPC') return 'h2';
    return ctx.downstream === 'HTTP/2' ? 'h2' : 'http1';
  }

  #respond(up: UpstreamResponse, res: DownstreamResponse, rec: RequestRecord, route: Route, dest: Destination, ctx: ConnContext, release: () => void): void {
    rec.status = up.status;
    const gs = up.headers['grpc-status'];
    if (typeof gs === 'string') rec.grpcStatus = Number(gs);
    const headers = mutateHeaders(forwardable(up.headers), dest.responseHeaders, route.responseHeaders);
    rec.responseBytes = headerBytes(headers);
    if (up.endAfterHeaders && ctx.downstream === 'HTTP/2') {
      trailersOnly(res, up.status, headers);
      up.body.resume();
      release();
      return;
    }
    res.writeHead(up.status, headers as http.OutgoingHttpHeaders);
    let done = false;
    const end = (): void => {
      if (done) return;
      done = true;
      release();
    };
    up.body.on('data', (c: Buffer) => {
      rec.responseBytes += c.length;
      if (!(res as http.ServerResponse).write(c)) {
        up.body.pause();
        res.once('drain', () => up.body.resume());
      }
    });
    up.body.once('end', () => {
      void up.trailers.then((t) => {
        const trailers = forwardable(t);
        if (Object.keys(trailers).length > 0) {
          // HTTP/1.1 clients do not ask for trailers; gRPC (which needs them) is HTTP/2 only.
          if (ctx.downstream === 'HTTP/2') res.addTrailers(trailers as http.OutgoingHttpHeaders);
          const g = trailers['grpc-status'];
          if (typeof g === 'string') rec.grpcStatus = Number(g);
        }
        res.end();
        end();
      });
    });
    up.body.once('error', () => {
      rec.flags.push('UC');
      res.destroy();
      end();
    });
    up.body.once('close', () => {
      if (!up.body.readableEnded) {
        rec.flags.push('UC');
        res.destroy();
      }
      end();
    });
    res.once('close', () => {
      if (!up.body.readableEnded) up.body.destroy();
      end();
    });
  }

  #mirror(dest: Destination, ctx: ConnContext, port: number, protocol: UpstreamProtocol, request: { method: string; path: string; authority: string; headers: Headers; tunnel: { forwarded: string; traceparent: string } }, body: ReplayBody | undefined): void {
    const svc = this.d.view.serviceByHostname(dest.hostname);
    if (!svc || (body && !body.replayable)) return;
    const cluster = this.d.clusters.get(svc, dest.port || port, dest.subset, dest.subsetLabels);
    const picked = cluster.pick(this.d.view, { headers: request.headers, sourceIp: ctx.sourceIp });
    if (!picked) return;
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(), 30_000);
    void this.d.client.send(picked.target, protocol, { ...request, body: body?.stream(false) }, ac.signal, cluster).then(
      (r) => {
        picked.done(r.status >= 500 ? '5xx' : 'success');
        r.body.resume();
        r.body.once('close', () => clearTimeout(t));
      },
      (e: unknown) => {
        clearTimeout(t);
        picked.done(e instanceof UpstreamError && e.kind === 'overflow' ? undefined : 'connect-failure');
      },
    );
  }
}
