/** Helpers for the echo app's own tests (and for anyone testing against it). */
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import type { Logger } from '../../../lib/telemetry/log.js';

export type LogLine = Record<string, unknown> & { msg?: string };

/** A debug-level logger whose lines tests can read and wait for. */
export function captureLogger(): { log: Logger; lines: LogLine[]; waitFor: (pred: (l: LogLine) => boolean, timeoutMs?: number) => Promise<LogLine> } {
  const lines: LogLine[] = [];
  const waiters: Array<() => void> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const s of chunk.toString('utf8').split('\n')) if (s.trim()) lines.push(JSON.parse(s) as LogLine);
      for (const w of waiters.splice(0)) w();
      cb();
    },
  });
  const log = pino({ level: 'debug' }, sink);
  const waitFor = (pred: (l: LogLine) => boolean, timeoutMs = 10_000): Promise<LogLine> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching log line within ${timeoutMs} ms; have ${JSON.stringify(lines.slice(-5))}`)), timeoutMs);
      const check = (): void => {
        const hit = lines.find(pred);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else {
          waiters.push(check);
        }
      };
      check();
    });
  return { log, lines, waitFor };
}

/** A port nothing listens on (bound, then released). */
export async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/**
 * A TCP forwarder that sends each new connection to the next backend in turn: enough of a
 * "load balancer" to check the client's per-version counting.
 */
export async function roundRobinProxy(backends: number[]): Promise<{ port: number; close: () => Promise<void> }> {
  let next = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect({ host: '127.0.0.1', port: backends[next++ % backends.length]! });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as net.AddressInfo).port,
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
