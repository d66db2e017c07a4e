import net from 'node:net';
import type { Logger } from '../../../lib/telemetry/log.js';
import { plainAddress } from './text.js';

/**
 * A pure TCP echo: every byte comes back, nothing is added (no banner), so byte-exactness tests
 * work. `allowHalfOpen` keeps the write side open after the client's FIN; pipe() then ends our
 * side once everything read has been written back.
 */
export function createTcpEcho(log: Logger, accessLog: boolean): { server: net.Server; sockets: Set<net.Socket> } {
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    sockets.add(sock);
    const start = Date.now();
    const src = plainAddress(sock.remoteAddress);
    sock.setNoDelay(true);
    sock.on('error', () => sock.destroy());
    sock.pipe(sock);
    sock.on('close', () => {
      sockets.delete(sock);
      if (accessLog) {
        log.info({ proto: 'TCP', src, bytesIn: sock.bytesRead, bytesOut: sock.bytesWritten, durationMs: Date.now() - start }, 'connection');
      }
    });
  });
  return { server, sockets };
}
