// One access-log line per proxied connection, with ztunnel's keys (as upstream ztunnel names them): info
// "connection complete" on success, error "connection complete" with `error` on failure, warn
// "connection failed" for connections refused before a destination was chosen.
import type { Logger } from './log.js';

export interface AccessLogEntry {
  direction: 'inbound' | 'outbound';
  'src.addr': string;
  'src.workload'?: string;
  'src.namespace'?: string;
  /** Only for mTLS peers. */
  'src.identity'?: string;
  'src.cluster'?: string;
  /** The L4 next hop (e.g. 10.244.0.10:15008). */
  'dst.addr': string;
  /** The HBONE :authority. */
  'dst.hbone_addr'?: string;
  'dst.service'?: string;
  'dst.workload'?: string;
  'dst.namespace'?: string;
  'dst.identity'?: string;
  'dst.cluster'?: string;
  bytes_sent?: number;
  bytes_recv?: number;
  /** `<n>ms`. */
  duration?: string;
  response_flags?: string;
  error?: string;
}

/** Drops undefined and empty fields, so lines carry only what is known. Pure. */
export function compactEntry(e: AccessLogEntry): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [k, val] of Object.entries(e) as Array<[string, string | number | undefined]>) {
    if (val !== undefined && val !== '') out[k] = val;
  }
  return out;
}

export class AccessLog {
  private readonly log: Logger;

  constructor(logger: Logger) {
    this.log = logger.child({ target: 'access' });
  }

  opened(e: AccessLogEntry): void {
    this.log.debug(compactEntry(e), 'connection opened');
  }

  /** The end of a connection that was established (or failed after a destination was chosen). */
  complete(e: AccessLogEntry): void {
    if (e.error) this.log.error(compactEntry(e), 'connection complete');
    else this.log.info(compactEntry(e), 'connection complete');
  }

  /** A connection refused before it got anywhere (self call, unknown source, denied). */
  failed(e: AccessLogEntry): void {
    this.log.warn(compactEntry(e), 'connection failed');
  }
}

export function durationText(startedAt: number, now = performance.now()): string {
  return `${Math.max(0, Math.round(now - startedAt))}ms`;
}
