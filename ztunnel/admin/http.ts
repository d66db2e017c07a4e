// A small HTTP server for ztunnel's admin, metrics and readiness ports: exact-path routes, JSON or
// text answers, port 0 supported (the bound address is returned).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/telemetry/log.js';

export interface ListenAddress {
  host: string;
  port: number;
}

export interface Reply {
  status?: number;
  contentType?: string;
  body: string;
}

export type Route = (req: http.IncomingMessage, url: URL) => Reply | Promise<Reply>;

export interface HttpServer {
  /** `host:port` as bound. */
  address: string;
  port: number;
  close(): Promise<void>;
}

export const json = (value: unknown, status = 200): Reply => ({ status, contentType: 'application/json', body: JSON.stringify(value, null, 2) + '\n' });
export const text = (body: string, status = 200): Reply => ({ status, contentType: 'text/plain; charset=utf-8', body });

export function formatAddress(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

export async function startHttpServer(name: string, at: ListenAddress, routes: Record<string, Route>, log: Logger): Promise<HttpServer> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://admin');
    const route = routes[url.pathname];
    const answer = (r: Reply): void => {
      res.writeHead(r.status ?? 200, { 'content-type': r.contentType ?? 'text/plain; charset=utf-8' });
      res.end(r.body);
    };
    if (!route) return answer(text(`no such path ${url.pathname}; try ${Object.keys(routes).join(', ')}\n`, 404));
    Promise.resolve()
      .then(() => route(req, url))
      .then(answer, (e: unknown) => {
        log.error({ path: url.pathname, err: (e as Error).message }, `${name}: handler failed`);
        answer(text(`${(e as Error).message}\n`, 500));
      });
  });
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e) => reject(new Error(`${name}: cannot listen on ${formatAddress(at.host, at.port)}: ${e.message}`)));
    server.listen(at.port, at.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  return {
    address: formatAddress(at.host, a.port),
    port: a.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
