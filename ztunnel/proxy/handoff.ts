// Same-node handoff (ARCHITECTURE.md §3): outbound asks the destination pod's inbound handler for
// the connection as an HBONE CONNECT from the source pod would, and gets the upstream socket it
// connected from the source's own IP. The request carries what the HBONE client would send and
// the identity its certificate would prove; a refusal fails as the HBONE status would.
import type { Duplex } from 'node:stream';
import { parseAuthority, sockAddrOf, type SockAddr } from '../../lib/hbone/authority.js';
import { HboneError } from '../../lib/hbone/errors.js';
import type { ConnectRequest } from '../../lib/hbone/server.js';
import { hboneFailure, ProxyError } from './errors.js';
import type { Handoff } from './local-pods.js';

export interface HandoffSource {
  /** The application's socket address (the source pod's IP). */
  address: SockAddr;
  /** The source pod's SPIFFE id (what its client certificate would carry). */
  identity: string;
  forwarded: string;
  baggage: string;
  traceparent: string;
}

/** The CONNECT request the destination's inbound handler sees. Pure. */
export function handoffRequest(h: Handoff, src: HandoffSource, targetIp: string, hbonePort: number, signal: AbortSignal): ConnectRequest {
  const a = parseAuthority(h.authority);
  if (typeof a === 'string') throw new ProxyError('NoValidDestination', `same-node handoff to ${h.workload.namespace}/${h.workload.name}: authority ${h.authority}: ${a}`);
  const local = sockAddrOf(targetIp, hbonePort)!;
  return {
    authority: h.authority,
    host: a.host,
    port: a.port,
    authorityKind: a.kind,
    forwarded: src.forwarded,
    baggage: src.baggage,
    traceparent: src.traceparent,
    headers: { forwarded: src.forwarded, baggage: src.baggage, traceparent: src.traceparent },
    peerIdentity: src.identity,
    peerAddress: src.address,
    localAddress: local,
    signal,
  };
}

/**
 * Runs the destination's inbound handler for `down`; resolves with the upstream to copy to. A
 * refusal rejects with the ProxyError the HBONE path reports for the same status. If `down` closes
 * while the handler connects, the handler is told (as by a stream reset) and drops its upstream.
 */
export async function handOff(h: Handoff, src: HandoffSource, target: { ip: string; port: number }, down: Duplex): Promise<Duplex> {
  const abort = new AbortController();
  const onClose = (): void => abort.abort(new Error('the client left before the answer'));
  down.once('close', onClose);
  try {
    const what = `same-node handoff ${h.authority} to ${h.inbound.identity}`;
    const r = await h.inbound.connect(handoffRequest(h, src, target.ip, target.port, abort.signal)).catch((e: unknown) => {
      throw hboneFailure(new HboneError('HBONE_STATUS', `${what}: inbound failed: ${e instanceof Error ? e.message : String(e)}`, { status: 503, cause: e }));
    });
    if (r.status !== 200) throw hboneFailure(new HboneError('HBONE_STATUS', `${what}: inbound answered ${r.status} (${r.reason})`, { status: r.status }));
    return r.upstream;
  } finally {
    down.off('close', onClose);
  }
}
