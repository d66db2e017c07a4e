import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { formatHostPort } from '../../../lib/net/host-port.js';
import { createLogger } from '../../../lib/telemetry/log.js';
import { applyDefaults, type EchoServerConfig } from './config.js';
import { createEchoImplementation, echoServiceDefinition } from './grpc.js';
import { createHttpHandler, type EchoRequest, type EchoResponse, type EchoState } from './http-handler.js';
import { createTcpEcho } from './tcp-echo.js';

export type { EchoServerConfig } from './config.js';

export interface EchoServer {
  /** The ports actually bound (ephemeral ones resolved); absent = that listener is off. */
  ports: { http?: number; grpc?: number; tcp?: number };
  host: string;
  /** Flips what `GET /healthz` answers (also reachable as `POST /ready?state=`). */
  setReady(ready: boolean): void;
  /** Stops accepting, lets in-flight requests finish (up to the grace period), then resolves. */
  close(): Promise<void>;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

/**
 * Node 20's plaintext http2 server ignores `allowHTTP1`, so HTTP/1.1 and h2c share a port by
 * looking at the first bytes: the h2 connection preface goes to the http2 server, anything else
 * to the http/1.1 server.
 */
function sniffer(h1: http.Server, h2: http2.Http2Server, sockets: Set<net.Socket>): net.Server {
  return net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    let seen = Buffer.alloc(0);
    const onReadable = (): void => {
      let chunk: Buffer | null;
      while ((chunk = sock.read() as Buffer | null) !== null) seen = Buffer.concat([seen, chunk]);
      const n = Math.min(seen.length, H2_PREFACE.length);
      const isH2 = seen.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (isH2 && seen.length < H2_PREFACE.length) return;
      sock.off('readable', onReadable);
      sock.unshift(seen);
      (isH2 ? h2 : h1).emit('connection', sock);
    };
    sock.on('readable', onReadable);
  });
}

function listen(server: net.Server, host: string, port: number, what: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(new Error(`echo server: cannot listen on ${formatHostPort(host, port)} (${what}): ${e.message}`));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      resolve((server.address() as net.AddressInfo).port);
    });
  });
}

/** Resolves once every socket in the set has closed; after graceMs, destroys the stragglers. */
function drain(sockets: Set<net.Socket>, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const check = (): void => {
      if (sockets.size > 0) return;
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      for (const s of sockets) s.destroy();
    }, graceMs);
    timer.unref();
    for (const s of sockets) s.on('close', () => setImmediate(check));
    check();
  });
}

export async function startEchoServer(config: EchoServerConfig): Promise<EchoServer> {
  const cfg = applyDefaults(config);
  const log = config.logger ?? createLogger('echo', config.logLevel);
  const state: EchoState = { ready: true, closing: false };
  const ports: EchoServer['ports'] = {};
  const closers: Array<() => Promise<void>> = [];
  const closeAll = async (): Promise<void> => {
    state.closing = true;
    state.ready = false;
    await Promise.all(closers.map((c) => c()));
  };
  try {
    if (cfg.httpPort !== undefined) {
      const handler = createHttpHandler({ cfg, log, state });
      const h1 = http.createServer((req, res) => {
        handler(req, res);
        // A request that began before close() leaves its socket idle when done: close it then.
        res.on('close', () => state.closing && setImmediate(() => h1.closeIdleConnections()));
      });
      const h2 = http2.createServer({}, handler as (req: EchoRequest, res: EchoResponse) => void);
      const sessions = new Set<http2.ServerHttp2Session>();
      h2.on('session', (s: http2.ServerHttp2Session) => {
        sessions.add(s);
        s.on('close', () => sessions.delete(s));
        if (state.closing) s.close();
      });
      const sockets = new Set<net.Socket>();
      const listener = sniffer(h1, h2, sockets);
      ports.http = await listen(listener, cfg.host, cfg.httpPort, 'http');
      closers.push(async () => {
        listener.close();
        h1.closeIdleConnections();
        for (const s of sessions) s.close();
        await drain(sockets, cfg.shutdownGraceMs);
      });
    }
    if (cfg.grpcPort !== undefined) {
      const server = new grpc.Server();
      let bound = 0;
      server.addService(echoServiceDefinition, createEchoImplementation({ cfg, log, port: () => bound }));
      const addr = formatHostPort(cfg.host, cfg.grpcPort);
      bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (err, port) =>
          err ? reject(new Error(`echo server: cannot listen on ${addr} (grpc): ${err.message}`)) : resolve(port),
        ),
      );
      ports.grpc = bound;
      closers.push(
        () =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => server.forceShutdown(), cfg.shutdownGraceMs);
            server.tryShutdown(() => {
              clearTimeout(timer);
              resolve();
            });
          }),
      );
    }
    if (cfg.tcpPort !== undefined) {
      const { server, sockets } = createTcpEcho(log, cfg.accessLog);
      ports.tcp = await listen(server, cfg.host, cfg.tcpPort, 'tcp');
      closers.push(async () => {
        server.close();
        await drain(sockets, cfg.shutdownGraceMs);
      });
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  log.info({ ports, name: cfg.name, namespace: cfg.namespace, version: cfg.version, cluster: cfg.cluster || undefined }, 'echo server listening');
  let closing: Promise<void> | undefined;
  return {
    ports,
    host: cfg.host,
    setReady: (ready) => {
      state.ready = ready;
    },
    close: () => (closing ??= closeAll()),
  };
}
