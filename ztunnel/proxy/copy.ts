// The byte copy of every proxied connection: lib/hbone's bridge (backpressure, half-close both
// ways, resets passed on), seen from the downstream's side for metrics and access logs.
import type { Duplex } from 'node:stream';
import { bridge, resetStream } from '../../lib/hbone/copy.js';

export interface CopyTotals {
  /** Downstream → upstream (istio_tcp_received_bytes_total, log bytes_sent). */
  received: number;
  /** Upstream → downstream (istio_tcp_sent_bytes_total, log bytes_recv). */
  sent: number;
  /** Set when either side failed or was closed before both directions ended cleanly. */
  error?: Error;
}

export interface Copy {
  readonly done: Promise<CopyTotals>;
  /** Bytes so far in each direction (for counters that move while the connection lives). */
  bytes(): { received: number; sent: number };
  /** Tears down both sides (the pod is going away, …). */
  destroy(reason: string): void;
  /** Resets both sides at once (a policy now denies the connection): each peer sees a TCP RST. */
  reset(reason: string): void;
}

export function copyBidirectional(downstream: Duplex, upstream: Duplex): Copy {
  const b = bridge(downstream, upstream);
  let reason: string | undefined;
  return {
    bytes: () => ({ received: b.bytes.aToB, sent: b.bytes.bToA }),
    done: b.done.then((r) => ({ received: r.aToB, sent: r.bToA, ...(reason ? { error: new Error(reason) } : r.error ? { error: r.error } : {}) })),
    destroy: (why) => {
      reason ??= why;
      b.destroy(new Error(why));
    },
    reset: (why) => {
      reason ??= why;
      resetStream(downstream, new Error(why));
      resetStream(upstream, new Error(why));
    },
  };
}
