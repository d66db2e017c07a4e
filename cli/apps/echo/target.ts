/** Client targets: `http://`, `h2c://`, `grpc://`, `tcp://`. Pure. */

import { formatHostPort } from '../../../lib/net/host-port.js';

export type EchoProtocol = 'http' | 'h2c' | 'grpc' | 'tcp';

export interface Target {
  protocol: EchoProtocol;
  /** For sockets: brackets removed from IPv6 literals. */
  host: string;
  port: number;
  /** `host:port` as it goes on the wire (IPv6 bracketed). */
  authority: string;
  /** Path and query; `/` for grpc and tcp. */
  path: string;
  url: string;
}

const DEFAULT_PORTS: Record<EchoProtocol, number | undefined> = { http: 80, h2c: 80, grpc: undefined, tcp: undefined };

export function parseTarget(url: string): Target {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new Error(`target '${url}' is not a URL; use http://host:port/path, h2c://host:port/path, grpc://host:port or tcp://host:port`);
  }
  const protocol = u.protocol.replace(/:$/, '');
  if (!(protocol in DEFAULT_PORTS)) {
    throw new Error(`target '${url}': scheme '${protocol}' is not one of http, h2c, grpc, tcp`);
  }
  const p = protocol as EchoProtocol;
  if (!u.hostname) throw new Error(`target '${url}' has no host`);
  const port = u.port ? Number(u.port) : DEFAULT_PORTS[p];
  if (port === undefined) throw new Error(`target '${url}' needs a port (${p}://host:port)`);
  if ((p === 'grpc' || p === 'tcp') && u.pathname !== '' && u.pathname !== '/') {
    throw new Error(`target '${url}': ${p} targets take no path`);
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const authority = formatHostPort(host, port);
  return { protocol: p, host, port, authority, path: `${u.pathname || '/'}${u.search}`, url };
}
