// HTTP/2 flow-control bookkeeping (RFC 9113 §5.2, §6.9). Pure.
import { MAX_WINDOW } from './frames.js';

/**
 * What we let the peer send, on one stream or the connection. Bytes the application consumed are
 * given back in one WINDOW_UPDATE once half the window is used up, not per frame.
 */
export class ReceiveWindow {
  /** Bytes the peer may still send. */
  available: number;
  /** Consumed, not yet given back. */
  private unacked = 0;

  constructor(readonly size: number) {
    this.available = size;
  }

  /** The peer sent `n` bytes; false when that is more than it was allowed (a FLOW_CONTROL_ERROR). */
  receive(n: number): boolean {
    if (n > this.available) return false;
    this.available -= n;
    return true;
  }

  /** `n` received bytes were consumed; returns the WINDOW_UPDATE increment to send now, or 0. */
  consume(n: number): number {
    this.unacked += n;
    if (this.unacked < this.size / 2) return 0;
    const inc = this.unacked;
    this.unacked = 0;
    this.available += inc;
    return inc;
  }
}

/** Adds a WINDOW_UPDATE increment or a SETTINGS_INITIAL_WINDOW_SIZE delta; undefined when that overflows 2^31-1. */
export function growSendWindow(window: number, delta: number): number | undefined {
  const w = window + delta;
  return w > MAX_WINDOW ? undefined : w;
}
