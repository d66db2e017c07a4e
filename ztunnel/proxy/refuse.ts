// How ztunnel ends a client connection it refuses (policy DENY, STRICT plaintext, no endpoints, an
// unknown waypoint, a tunnel the far side refused, a connection a policy change now denies): a TCP
// RST at once, as Istio's ztunnel does. A FIN would read as "the server answered nothing and closed
// normally": clients take that for a transient failure and retry (busybox and GNU wget waited
// ≈55 s), where a reset is reported at once.
import type { Duplex } from 'node:stream';
import { resetStream } from '../../lib/hbone/copy.js';
import type { TcpConnectionLabels } from '../../lib/telemetry/metrics.js';
import type { ProxyError } from './errors.js';
import type { ConnectionRecord } from './telemetry.js';

/** Resets `s` now (RST for a TCP socket, RST_STREAM for an HTTP/2 stream); a no-op once destroyed. */
export function resetConnection(s: Duplex, why = 'refused'): void {
  resetStream(s, new Error(why));
}

/** Records the refusal (access log, and metrics when `labels` are known) and resets the client. */
export function refuseConnection(down: Duplex, record: ConnectionRecord, error: ProxyError, labels?: TcpConnectionLabels): void {
  record.fail(error, labels);
  resetConnection(down, error.message);
}
