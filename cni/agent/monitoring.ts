// The agent's HTTP endpoint: Prometheus metrics, readiness (Istio's CNI agent: /readyz; also
// /healthz/ready as ztunnel has it), and a JSON view of the pods it holds.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../../lib/telemetry/log.js';
import type { StatusReply } from '../plugin/protocol.js';

export interface MonitoringRoutes {
  metrics: () => Promise<string>;
  readiness: () => StatusReply;
  pods: () => unknown;
}

export interface MonitoringServer {
  host: string;
  port: number;
  close(): Promise<void>;
}

export async function startMonitoring(host: string, port: number, routes: MonitoringRoutes, log: Logger): Promise<MonitoringServer> {
  const server = http.createServer((req, res) => {
    const send = (status: number, type: string, body: string): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', `method ${req.method} not allowed; use GET\n`);
    if (path === '/readyz' || path === '/healthz/ready') {
      const r = routes.readiness();
      return send(r.ready ? 200 : 503, 'text/plain', r.ready ? 'ready\n' : `not ready: ${r.message ?? 'starting'}\n`);
    }
    if (path === '/debug/pods') return send(200, 'application/json', JSON.stringify(routes.pods(), null, 2) + '\n');
    if (path !== '/metrics') return send(404, 'text/plain', `no route ${path}; try /metrics, /readyz, /healthz/ready, /debug/pods\n`);
    routes.metrics().then(
      (text) => send(200, 'text/plain; version=0.0.4; charset=utf-8', text),
      (err: Error) => {
        log.error({ err: err.message }, 'metrics collection failed');
        send(500, 'text/plain', `metrics failed: ${err.message}\n`);
      },
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) =>
      reject(new Error(`cannot listen on ${host}:${port} for metrics: ${err.message}${err.code === 'EADDRINUSE' ? ' (is another cni-agent running in this namespace? use --metrics-address)' : ''}`)));
    server.listen(port, host, () => resolve());
  });
  return {
    host,
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
