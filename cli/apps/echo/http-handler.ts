import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Logger } from '../../../lib/telemetry/log.js';
import type { ResolvedEchoConfig } from './config.js';
import { FailureCounter } from './failure.js';
import { buildEchoText, parseControls, plainAddress, type EchoControls } from './text.js';

export type EchoRequest = IncomingMessage | Http2ServerRequest;
export type EchoResponse = ServerResponse | Http2ServerResponse;

/** Mutable server state the handler reads: readiness (flipped by tests) and shutdown. */
export interface EchoState {
  ready: boolean;
  closing: boolean;
}

export interface HttpContext {
  cfg: ResolvedEchoConfig;
  log: Logger;
  state: EchoState;
}

/** The handler both the HTTP/1.1 and the h2c server run; the compat API makes them look alike. */
export function createHttpHandler(ctx: HttpContext): (req: EchoRequest, res: EchoResponse) => void {
  const failures = new FailureCounter(ctx.cfg.failure);
  return (req, res) => {
    const start = process.hrtime.bigint();
    // Read now: an h2 stream's socket proxy forgets the peer once the session is gone.
    const src = plainAddress(req.socket?.remoteAddress);
    let bytesIn = 0;
    req.on('data', (c: Buffer) => (bytesIn += c.length));
    req.on('error', () => undefined);
    res.on('error', () => undefined);
    // Lets tests (and a curious operator at debug level) see a request arrive, not just finish.
    ctx.log.debug({ method: req.method, url: req.url }, 'request started');
    if (ctx.state.closing && req.httpVersionMajor === 1) res.setHeader('connection', 'close');
    if (ctx.cfg.accessLog) {
      res.on('close', () => {
        ctx.log.info(
          {
            method: req.method,
            url: req.url,
            proto: `HTTP/${req.httpVersion}`,
            status: res.statusCode,
            src,
            bytesIn,
            durationMs: Number(process.hrtime.bigint() - start) / 1e6,
            completed: res.writableFinished,
          },
          'request',
        );
      });
    }
    req.on('end', () => answer(ctx, failures, req, res));
    req.resume();
  };
}

function send(res: EchoResponse, status: number, body: string | Buffer): void {
  res.statusCode = status;
  res.setHeader('content-type', 'text/plain; charset=utf-8');
  res.setHeader('content-length', Buffer.byteLength(body));
  res.end(body);
}

function answer(ctx: HttpContext, failures: FailureCounter, req: EchoRequest, res: EchoResponse): void {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://echo.invalid');
  } catch {
    send(res, 400, `Error=request URL '${req.url}' cannot be parsed\n`);
    return;
  }
  if (url.pathname === '/healthz') {
    send(res, ctx.state.ready ? 200 : 503, ctx.state.ready ? 'ok\n' : 'not ready\n');
    return;
  }
  if (url.pathname === '/ready' && req.method !== 'GET') {
    const s = url.searchParams.get('state');
    if (s !== 'true' && s !== 'false') {
      send(res, 400, `Error=/ready: ?state must be true or false, got '${s ?? ''}'\n`);
      return;
    }
    ctx.state.ready = s === 'true';
    send(res, 200, `Ready=${ctx.state.ready}\n`);
    return;
  }
  const failWith = failures.next();
  if (failWith !== undefined) {
    res.setHeader('x-echo-failure', `every ${ctx.cfg.failure.every}`);
    send(res, failWith, `Error=injected failure (--fail-every ${ctx.cfg.failure.every})\nHostname=${ctx.cfg.name}\nServiceVersion=${ctx.cfg.version}\n`);
    return;
  }
  let controls: EchoControls;
  try {
    controls = parseControls(url.searchParams, (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    });
  } catch (e) {
    send(res, 400, `Error=${(e as Error).message}\n`);
    return;
  }
  if (controls.delayMs <= 0) {
    respond(ctx, req, res, controls);
    return;
  }
  const timer = setTimeout(() => respond(ctx, req, res, controls), controls.delayMs);
  res.on('close', () => clearTimeout(timer));
}

const H2_FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function respond(ctx: HttpContext, req: EchoRequest, res: EchoResponse, c: EchoControls): void {
  if (res.writableEnded || res.destroyed) return;
  const requestHeaders: Array<[string, string]> = [];
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    if (!raw[i]!.startsWith(':')) requestHeaders.push([raw[i]!, raw[i + 1]!]);
  }
  const authority = req.headers[':authority'];
  const text = buildEchoText({
    serviceVersion: ctx.cfg.version,
    servicePort: req.socket?.localPort ?? 0,
    host: (typeof authority === 'string' ? authority : undefined) ?? req.headers.host ?? '',
    hostname: ctx.cfg.name,
    namespace: ctx.cfg.namespace,
    ip: plainAddress(req.socket?.remoteAddress),
    method: req.method ?? '',
    url: req.url ?? '',
    proto: `HTTP/${req.httpVersion}`,
    statusCode: c.status,
    cluster: ctx.cfg.cluster,
    requestHeaders,
    responseHeaders: c.headers,
  });
  try {
    for (const [k, v] of c.headers) {
      // HTTP/2 has no connection-specific headers; node would drop them with a warning.
      if (req.httpVersionMajor === 2 && H2_FORBIDDEN.has(k.toLowerCase())) continue;
      res.setHeader(k, v);
    }
  } catch (e) {
    for (const name of res.getHeaderNames()) res.removeHeader(name);
    send(res, 400, `Error=?headers: ${(e as Error).message}\n`);
    return;
  }
  const body = c.size > 0 ? Buffer.concat([Buffer.from(text), Buffer.alloc(c.size, 'x')]) : text;
  send(res, c.status, body);
}
