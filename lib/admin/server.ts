// The one HTTP server of every component's admin, metrics and readiness ports: exact-path routes
// (routes.ts), the same 404/405/HEAD/500 behaviour everywhere, port 0 supported (the bound
// address is returned), and a close that lets answers in flight finish.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { formatHostPort } from '../net/host-port.js';
import type { Logger } from '../telemetry/log.js';
import { dispatch, text, type Reply, type Routes } from './routes.js';

export interface AdminServerOptions {
  /** Names the port in logs and errors, e.g. "metrics" or "readiness". */
  name: string;
  host: string;
  /** 0 picks a free port. */
  port: number;
  routes: Routes;
  log: Logger;
  /** Added to the error when the port is taken, e.g. which flag moves it. */
  inUseHint?: string;
  /** How long close() waits for answers in flight before it drops their connections. */
  closeGraceMs?: number;
}

export interface AdminServer {
  /** `host:port` as bound, IPv6 in brackets. */
  address: string;
  host: string;
  port: number;
  close(): Promise<void>;
}

const CLOSE_GRACE_MS = 2_000;

function send(req: http.IncomingMessage, res: http.ServerResponse, r: Reply): void {
  res.writeHead(r.status ?? 200, { ...r.headers, 'content-type': r.contentType ?? 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(r.body) });
  res.end(req.method === 'HEAD' ? undefined : r.body);
}

export async function startAdminServer(o: AdminServerOptions): Promise<AdminServer> {
  const server = http.createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(`http://admin${req.url ?? '/'}`);
    } catch {
      return send(req, res, text(`cannot parse the request target ${JSON.stringify(req.url)}\n`, 400));
    }
    const d = dispatch(o.routes, req.method ?? 'GET', url.pathname);
    if (d.kind === 'reply') return send(req, res, d.reply);
    // A handler that throws or rejects answers 500 and the server keeps serving.
    Promise.resolve()
      .then(() => d.handler(url, req))
      .then(
        (r) => send(req, res, r),
        (e: unknown) => {
          const message = e instanceof Error ? e.message : String(e);
          o.log.error({ server: o.name, path: url.pathname, err: message }, `${o.name}: handler for ${url.pathname} failed`);
          send(req, res, text(`internal error: ${message}\n`, 500));
        },
      );
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      const hint = e.code === 'EADDRINUSE' && o.inUseHint ? ` (${o.inUseHint})` : '';
      reject(new Error(`${o.name}: cannot listen on ${formatHostPort(o.host, o.port)}: ${e.message}${hint}`));
    });
    server.listen(o.port, o.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  let closing: Promise<void> | undefined;
  return {
    address: formatHostPort(o.host, port),
    host: o.host,
    port,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        const force = setTimeout(() => server.closeAllConnections(), o.closeGraceMs ?? CLOSE_GRACE_MS);
        server.close(() => {
          clearTimeout(force);
          resolve();
        });
        server.closeIdleConnections();
      })),
  };
}
