// The proxy's failures, with stable codes (log field `error`, test assertions) and the Istio
// response flag each one reports in metrics.
import type { ResponseFlag } from '../../lib/telemetry/metrics.js';
import { isHboneError, type HboneErrorCode } from '../../lib/hbone/errors.js';

export type ProxyErrorCode =
  /** The destination is one of ztunnel's own ports (15001/15006/15008). */
  | 'SelfCall'
  /** The connection's original destination could not be read. */
  | 'OriginalDst'
  /** The pod this proxy serves is not (yet) in xDS after the wait. */
  | 'UnknownSourceWorkload'
  | 'UnknownLocalWorkload'
  | 'NoHealthyUpstream'
  | 'UnknownWaypoint'
  | 'NoValidDestination'
  | 'CrossNetwork'
  /** An HBONE :authority names an IP that is not this pod's. */
  | 'IpMismatch'
  | 'AuthorizationPolicyRejection'
  /** A live connection that a policy change now denies. */
  | 'AuthorizationPolicyLateRejection'
  /** The TCP connect to the destination (app, passthrough or plain TCP upstream) failed. */
  | 'UpstreamConnect'
  /** The HBONE tunnel could not be set up (TLS, identity, status, timeout). */
  | 'Hbone'
  | 'NoCertificate'
  | 'Draining';

const FLAGS: Partial<Record<ProxyErrorCode, ResponseFlag>> = {
  AuthorizationPolicyRejection: 'DENY',
  AuthorizationPolicyLateRejection: 'DENY',
  UpstreamConnect: 'CONNECT',
  NoHealthyUpstream: 'NO_HEALTHY_UPSTREAM',
  NoCertificate: 'IDENTITY_ERROR',
};

const HBONE_FLAGS: Partial<Record<HboneErrorCode, ResponseFlag>> = {
  HBONE_CONNECT_TIMEOUT: 'NETWORK_POLICY',
  HBONE_CONNECT_FAILED: 'CONNECT',
  HBONE_TLS: 'TLS_FAILURE',
  HBONE_PEER_IDENTITY: 'TLS_FAILURE',
  HBONE_CREDENTIALS: 'IDENTITY_ERROR',
  HBONE_STREAM_RESET: 'H2_HANDSHAKE_FAILURE',
};

export class ProxyError extends Error {
  readonly responseFlag: ResponseFlag;

  constructor(
    readonly code: ProxyErrorCode,
    message: string,
    opts: { cause?: unknown; responseFlag?: ResponseFlag } = {},
  ) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'ProxyError';
    this.responseFlag = opts.responseFlag ?? FLAGS[code] ?? 'CONNECT';
  }
}

/** Wraps a failure of the HBONE client, keeping its message and picking the response flag. */
export function hboneFailure(e: unknown): ProxyError {
  if (e instanceof ProxyError) return e;
  if (isHboneError(e)) {
    const flag = e.code === 'HBONE_STATUS' ? (e.status === 401 ? 'DENY' : 'CONNECT') : (HBONE_FLAGS[e.code] ?? 'CONNECT');
    return new ProxyError('Hbone', e.message, { cause: e, responseFlag: flag });
  }
  return new ProxyError('Hbone', e instanceof Error ? e.message : String(e), { cause: e });
}

export function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
