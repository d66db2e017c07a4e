// Sockets in other network namespaces, and the socket options of a transparent proxy, on top of
// the ambit_native addon (src/*.c).
//
// To serve TLS or HTTP/2 from another namespace, take the fd route:
//   const fd = listenFdInNetns(ns, '0.0.0.0', 15008, { transparent: true });
//   tls.createServer(opts).listen({ fd });          // or http2.createSecureServer(opts).listen({ fd })
// or pass `server` to listenInNetns. For a TLS or HTTP/2 client, startConnectInNetns() returns the
// socket synchronously, still connecting, as `tls.connect({ socket })` and
// `http2.connect(url, { createConnection })` want it.
import net from 'node:net';
import { constants } from 'node:os';
import { addon } from './load.js';
import { makeNativeError, toNativeError, wrapCall } from './errors.js';
import { checkBacklog, checkFd, checkMark, checkNetns, checkPort, describeNetns, ipFamily } from './args.js';
import { formatHostPort as hostPort } from '../net/host-port.js';
import type { NetnsRef, SockAddr } from './types.js';

export { NativeError } from './errors.js';
export type { NetnsRef, SockAddr } from './types.js';

/** The fd of a Node socket or server, or undefined when it has none yet (a net.Socket gets one only in connect()). */
export function socketFd(s: net.Socket | net.Server): number | undefined {
  const handle = (s as unknown as { _handle?: { fd?: unknown } | null })._handle;
  const fd = handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

function requireFd(s: net.Socket | net.Server, what: string): number {
  const fd = socketFd(s);
  if (fd === undefined) {
    throw new TypeError(
      `${what}: the socket has no file descriptor (not connected or listening yet, or already closed); ` +
        'to mark a socket before it connects, create it with connectInNetns(…, { mark })',
    );
  }
  return fd;
}

/** Where the connection was going before REDIRECT/DNAT. A connection that was not NATed gives the listener's own address. */
export function getOriginalDst(socket: net.Socket): SockAddr {
  const fd = requireFd(socket, 'getOriginalDst');
  return wrapCall(() => `getOriginalDst(fd ${fd})`, () => addon().getOriginalDst(fd));
}

/** SO_MARK. It only affects packets sent from now on: mark before connect() (connectInNetns({ mark })) to mark the SYN. */
export function setMark(socket: net.Socket | net.Server, mark: number): void {
  checkMark(mark);
  const fd = requireFd(socket, 'setMark');
  wrapCall(() => `setMark(fd ${fd}, 0x${mark.toString(16)})`, () => addon().setMark(fd, mark));
}

/** IP_TRANSPARENT + IP_FREEBIND (IPV6_* on IPv6 sockets). */
export function setTransparent(socket: net.Socket | net.Server): void {
  const fd = requireFd(socket, 'setTransparent');
  wrapCall(() => `setTransparent(fd ${fd})`, () => addon().setTransparent(fd));
}

export interface ListenOptions {
  mark?: number;
  transparent?: boolean;
  reusePort?: boolean;
  backlog?: number;
  /** Listen with this server (a tls.Server, an http2 server, …) instead of a new net.Server with allowHalfOpen. */
  server?: net.Server;
}

/** A listening socket created in `netns` (null: this namespace); the caller owns the fd until it hands it to Node. */
export function listenFdInNetns(netns: NetnsRef | null, host: string, port: number, opts: ListenOptions = {}): number {
  const ns = checkNetns(netns);
  const family = ipFamily(host, 'host');
  checkPort(port, 'port');
  const mark = opts.mark === undefined ? -1 : checkMark(opts.mark);
  const backlog = opts.backlog === undefined ? 511 : checkBacklog(opts.backlog);
  return wrapCall(
    () => `listen on ${hostPort(host, port)} in ${describeNetns(ns)}`,
    () => addon().socketInNetns(ns, family, host, port, mark, !!opts.transparent, !!opts.reusePort, backlog),
  );
}

/** A net.Server (allowHalfOpen) listening in `netns`. Resolves once Node listens; the namespace stays the socket's for its life. */
export async function listenInNetns(
  netns: NetnsRef | null,
  host: string,
  port: number,
  opts: ListenOptions = {},
): Promise<net.Server> {
  const fd = listenFdInNetns(netns, host, port, opts);
  const server = opts.server ?? net.createServer({ allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    const onError = (e: Error): void => reject(toNativeError(e, `listen on ${hostPort(host, port)} in ${describeNetns(netns)}`));
    server.once('error', onError);
    try {
      server.listen({ fd, backlog: opts.backlog ?? 511 }, () => {
        server.off('error', onError);
        resolve();
      });
    } catch (e) {
      server.off('error', onError);
      addon().closeFd(fd);
      reject(e instanceof Error ? e : new Error(String(e)));
    }
  });
  return server;
}

export interface ConnectOptions {
  mark?: number;
  transparent?: boolean;
  /** Source address; with transparent: true it may be foreign (a spoofed client IP). */
  localAddress?: string;
  /** Source port; leave it unset (0) for a spoofed source, or the SYN matches the client's own conntrack entry. */
  localPort?: number;
  timeoutMs?: number;
  noDelay?: boolean;
}

export interface SocketFdOptions {
  mark?: number;
  transparent?: boolean;
  localAddress?: string;
  localPort?: number;
}

/** An unconnected TCP socket of `family` in `netns`, with mark/transparent set and bound if asked; for `new net.Socket({ fd }).connect()`. */
export function socketFdInNetns(netns: NetnsRef | null, family: 4 | 6, opts: SocketFdOptions = {}): number {
  const ns = checkNetns(netns);
  if (family !== 4 && family !== 6) throw new TypeError(`family must be 4 or 6, got ${JSON.stringify(family)}`);
  const mark = opts.mark === undefined ? -1 : checkMark(opts.mark);
  const localPort = opts.localPort === undefined ? 0 : checkPort(opts.localPort, 'localPort');
  let local: string | null = null;
  if (opts.localAddress !== undefined) {
    if (ipFamily(opts.localAddress, 'localAddress') !== family) {
      throw new TypeError(`localAddress ${opts.localAddress} is not an IPv${family} address like the destination`);
    }
    local = opts.localAddress;
  }
  const where = local === null ? '' : ` from ${hostPort(local, localPort)}`;
  return wrapCall(
    () => `create an IPv${family} socket${where} in ${describeNetns(ns)}`,
    () => addon().socketInNetns(ns, family, local, localPort, mark, !!opts.transparent, false, -1),
  );
}

/**
 * Starts a connection from `netns` and returns the socket at once, still connecting (allowHalfOpen).
 * Failures arrive as its 'error' event (Node's errors; a timeout as a NativeError ETIMEDOUT).
 */
export function startConnectInNetns(netns: NetnsRef | null, host: string, port: number, opts: ConnectOptions = {}): net.Socket {
  const family = ipFamily(host, 'host');
  checkPort(port, 'port');
  const fd = socketFdInNetns(netns, family, opts);
  let socket: net.Socket;
  try {
    socket = new net.Socket({ fd, allowHalfOpen: true, readable: true, writable: true });
  } catch (e) {
    addon().closeFd(fd);
    throw e;
  }
  // Node starts reading a socket made from an fd at once; connect in the same tick, before the
  // event loop can poll the still-unconnected fd.
  socket.connect({ host, port, noDelay: !!opts.noDelay });
  if (opts.timeoutMs !== undefined) {
    const ms = opts.timeoutMs;
    const timer = setTimeout(() => {
      if (!socket.connecting) return;
      const context = `connect to ${hostPort(host, port)} in ${describeNetns(netns)} (${ms} ms)`;
      socket.destroy(makeNativeError(context, constants.errno.ETIMEDOUT, 'connect'));
    }, ms);
    const clear = (): void => clearTimeout(timer);
    socket.once('connect', clear).once('close', clear);
  }
  return socket;
}

/** A connected socket from `netns` (allowHalfOpen). Rejects with a NativeError (ECONNREFUSED, ETIMEDOUT, …). */
export function connectInNetns(netns: NetnsRef | null, host: string, port: number, opts: ConnectOptions = {}): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = startConnectInNetns(netns, host, port, opts);
    const onError = (e: Error): void => {
      socket.off('connect', onConnect);
      reject(toNativeError(e, `connect to ${hostPort(host, port)} in ${describeNetns(netns)}`));
    };
    const onConnect = (): void => {
      socket.off('error', onError);
      resolve(socket);
    };
    socket.once('error', onError).once('connect', onConnect);
  });
}

/** An O_RDONLY|O_CLOEXEC fd on a network namespace file: holds the namespace alive and is accepted as a NetnsRef. */
export function openNetns(path: string): number {
  if (typeof path !== 'string' || path.length === 0) throw new TypeError(`path must be a netns file path, got ${JSON.stringify(path)}`);
  return wrapCall(() => `open network namespace ${path}`, () => addon().openNetns(path));
}

export function closeFd(fd: number): void {
  checkFd(fd);
  wrapCall(() => `close fd ${fd}`, () => addon().closeFd(fd));
}

