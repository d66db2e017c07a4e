// Opens HBONE tunnels to endpoint pods: `<pod IP>:15008`, `:authority` = `<pod IP>:<target port>`,
// presenting the waypoint's own certificate and expecting the endpoint's identity, through
// lib/hbone's pool (one mTLS HTTP/2 connection carries up to 100 tunnels).
import type { HboneTunnel } from '../../lib/hbone/client.js';
import type { HbonePool } from '../../lib/hbone/pool.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import { formatHostPort } from '../../lib/net/host-port.js';

export type { HboneTunnel } from '../../lib/hbone/client.js';

export interface UpstreamTarget {
  /** The endpoint's pod IP. */
  ip: string;
  /** The port the application listens on (the CONNECT :authority port). */
  port: number;
  /** The endpoint must prove one of these SPIFFE ids. */
  identities: readonly string[];
  /** 15008 unless the endpoint says otherwise. */
  hbonePort: number;
}

export interface TunnelSource {
  /** The waypoint's SPIFFE id. */
  identity: string;
  /** Its current certificate (rotations take effect for new connections). */
  credentials: () => Promise<Credentials>;
}

export interface TunnelHeaders {
  forwarded?: string;
  baggage?: string;
  traceparent?: string;
}

export function targetKey(t: UpstreamTarget): string {
  return `${formatHostPort(t.ip, t.port)}|${[...t.identities].sort().join(',')}`;
}

export class TunnelConnector {
  constructor(
    private readonly pool: HbonePool,
    private readonly source: TunnelSource,
    private readonly connectTimeoutMs: number,
  ) {}

  open(t: UpstreamTarget, h: TunnelHeaders = {}): Promise<HboneTunnel> {
    return this.pool.connect({
      sourceIdentity: this.source.identity,
      destinationIdentities: t.identities,
      destination: formatHostPort(t.ip, t.hbonePort),
      authority: formatHostPort(t.ip, t.port),
      credentials: this.source.credentials,
      responseTimeoutMs: this.connectTimeoutMs,
      ...(h.forwarded ? { forwarded: h.forwarded } : {}),
      ...(h.baggage ? { baggage: h.baggage } : {}),
      ...(h.traceparent ? { traceparent: h.traceparent } : {}),
    });
  }
}
