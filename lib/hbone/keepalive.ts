// HTTP/2 PING keep-alive for both ends: a dead peer (half-open TCP, a vanished node) is noticed in
// interval + timeout instead of after the kernel's TCP keepalive (hours by default).
import { KEEPALIVE_INTERVAL_MS, KEEPALIVE_TIMEOUT_MS } from './constants.js';

/** What keep-alive needs of a session (lib/hbone/h2's H2Session, or node:http2's Http2Session). */
export interface PingableSession {
  readonly closed: boolean;
  readonly destroyed: boolean;
  ping(cb: (err: Error | null) => void): boolean;
  destroy(err?: Error): void;
  once(event: 'close', listener: () => void): unknown;
}

export interface KeepAliveOptions {
  /** Milliseconds between PINGs (default 10 s); 0 disables keep-alive. */
  intervalMs?: number;
  /** A PING unanswered this long destroys the session (default 20 s). */
  timeoutMs?: number;
}

/** Starts pinging `session` until it closes; `onDead` is called before the session is destroyed. */
export function startKeepAlive(session: PingableSession, opts: KeepAliveOptions = {}, onDead?: (why: string) => void): void {
  const intervalMs = opts.intervalMs ?? KEEPALIVE_INTERVAL_MS;
  const timeoutMs = opts.timeoutMs ?? KEEPALIVE_TIMEOUT_MS;
  if (intervalMs <= 0) return;
  let deadline: NodeJS.Timeout | undefined;
  const tick = setInterval(() => {
    if (session.closed || session.destroyed) return stop();
    if (deadline) return; // one PING in flight at a time
    const sent = Date.now();
    deadline = setTimeout(() => {
      const why = `no PING acknowledgement for ${Date.now() - sent} ms`;
      onDead?.(why);
      stop();
      session.destroy(new Error(`HTTP/2 keep-alive: ${why}`));
    }, timeoutMs);
    deadline.unref();
    try {
      session.ping((err) => {
        clearTimeout(deadline);
        deadline = undefined;
        if (err && !session.destroyed) session.destroy(err);
      });
    } catch {
      stop(); // the session went away between the check and the ping
    }
  }, intervalMs);
  tick.unref();
  function stop(): void {
    clearInterval(tick);
    if (deadline) clearTimeout(deadline);
    deadline = undefined;
  }
  session.once('close', stop);
}
