// `kubectl port-forward` for the local cluster: a listener on the host's loopback whose every
// connection is piped to an address inside a namespace, through a socket made in that namespace.
import net from 'node:net';
import { connectInNetns } from '../../../lib/native/index.js';
import { netnsPath } from '../../../lib/sys/netns.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';

export type Connector = (netns: string, host: string, port: number, opts: { timeoutMs: number }) => Promise<net.Socket>;

export interface PortForwardOptions {
  /** A namespace name (under /var/run/netns) or a path to a netns file. */
  netns: string;
  host: string;
  port: number;
  /** 0 (the default) picks a free port. */
  hostPort?: number;
  bindAddress?: string;
  connectTimeoutMs?: number;
  log?: Logger;
  /** For tests; defaults to connectInNetns from lib/native. */
  connect?: Connector;
}

export interface PortForward {
  address: string;
  port: number;
  /** Open client connections. */
  connections(): number;
  /** Stops listening and cuts every open connection. */
  close(): Promise<void>;
}

const defaultConnect: Connector = (netns, host, port, opts) => connectInNetns(netns, host, port, { timeoutMs: opts.timeoutMs, noDelay: true });

export async function startPortForward(opts: PortForwardOptions): Promise<PortForward> {
  const log = opts.log ?? silentLogger();
  const ns = opts.netns.startsWith('/') ? opts.netns : netnsPath(opts.netns);
  const target = `${opts.host}:${opts.port} in ${opts.netns}`;
  const connect = opts.connect ?? defaultConnect;
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const clients = new Set<net.Socket>();
  const upstreams = new Set<net.Socket>();

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, (client) => {
    clients.add(client);
    let upstream: net.Socket | undefined;
    client.on('error', (e) => {
      log.debug({ target, err: e.message }, 'port-forward client error');
      upstream?.destroy();
    });
    client.on('close', (hadError) => {
      clients.delete(client);
      if (hadError) upstream?.destroy();
    });
    connect(ns, opts.host, opts.port, { timeoutMs }).then(
      (up) => {
        if (client.destroyed) {
          up.destroy();
          return;
        }
        upstream = up;
        upstreams.add(up);
        up.on('error', (e) => {
          log.debug({ target, err: e.message }, 'port-forward upstream error');
          client.destroy();
        });
        up.on('close', (hadError) => {
          upstreams.delete(up);
          if (hadError) client.destroy();
        });
        // pipe() ends the other side when one side ends; with allowHalfOpen on both, that is a
        // FIN in one direction only, and the other keeps flowing until it ends too.
        client.pipe(up);
        up.pipe(client);
        client.resume();
      },
      (e: Error) => {
        log.warn({ target, err: e.message }, 'port-forward could not connect');
        client.destroy();
      },
    );
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.hostPort ?? 0, opts.bindAddress ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => log.error({ target, err: e.message }, 'port-forward listener error'));
  const addr = server.address() as net.AddressInfo;
  log.debug({ target, listen: `${addr.address}:${addr.port}` }, 'port-forward listening');

  return {
    address: addr.address,
    port: addr.port,
    connections: () => clients.size,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of [...clients, ...upstreams]) s.destroy();
        clients.clear();
        upstreams.clear();
      }),
  };
}
