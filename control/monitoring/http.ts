// A tiny HTTP server for metrics, debug and readiness: a table of GET routes, each returning a
// status and a body. Errors in a handler answer 500 and are logged; unknown paths list the routes.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/telemetry/log.js';
import { formatAddress, type ListenAddress } from '../config.js';

export interface HttpReply {
  status: number;
  contentType: string;
  body: string;
}

export type Route = (url: URL) => HttpReply | Promise<HttpReply>;

export const json = (value: unknown, status = 200): HttpReply => ({ status, contentType: 'application/json', body: JSON.stringify(value, null, 2) + '\n' });
export const text = (body: string, status = 200): HttpReply => ({ status, contentType: 'text/plain; charset=utf-8', body });

export interface HttpEndpoint {
  /** host:port actually bound. */
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function listenHttp(addr: ListenAddress, routes: Record<string, Route>, log: Logger): Promise<HttpEndpoint> {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const route = routes[url.pathname];
    const send = (r: HttpReply): void => {
      res.writeHead(r.status, { 'content-type': r.contentType, 'content-length': Buffer.byteLength(r.body) });
      res.end(req.method === 'HEAD' ? undefined : r.body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(text(`method ${req.method} not allowed; use GET\n`, 405));
    if (!route) return send(text(`no route ${url.pathname}; try ${Object.keys(routes).join(', ')}\n`, 404));
    Promise.resolve()
      .then(() => route(url))
      .then(send, (err: unknown) => {
        log.error({ path: url.pathname, err: (err as Error).message }, 'HTTP handler failed');
        send(text(`internal error: ${(err as Error).message}\n`, 500));
      });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => reject(new Error(`cannot listen on ${formatAddress(addr)}: ${err.message}${err.code === 'EADDRINUSE' ? ' (is another control plane running?)' : ''}`)));
    server.listen(addr.port, addr.host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    address: formatAddress({ host: addr.host, port }),
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
