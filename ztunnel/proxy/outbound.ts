// Outbound (port 15001, ARCHITECTURE.md §3 step 3): the app's redirected connection → original destination →
// the pod's own workload → destination resolution → HBONE through the pod's pool, plain TCP to a
// workload outside the mesh, passthrough to an unknown destination, or in process to a pod enrolled
// on this ztunnel too (same-node handoff, ./handoff.ts); then copy.
import type net from 'node:net';
import type { Duplex } from 'node:stream';
import { canonicalIp, formatHostPort, formatSockAddr, sockAddrOf } from '../../lib/hbone/authority.js';
import { buildForwarded } from '../../lib/hbone/headers.js';
import type { SockAddr } from '../../lib/native/types.js';
import { nextTrace } from '../../lib/telemetry/trace-context.js';
import type { TcpConnectionLabels } from '../../lib/telemetry/metrics.js';
import type { WorkloadView } from '../state/types.js';
import type { Resolution } from '../state/view.js';
import type { PodContext, ProxyInputs } from './context.js';
import { copyBidirectional } from './copy.js';
import { errorText, hboneFailure, ProxyError } from './errors.js';
import { handOff } from './handoff.js';
import { handoffTarget } from './local-pods.js';
import { ILLEGAL_PORTS, isLoopback } from './ports.js';
import { refuseConnection, resetConnection } from './refuse.js';
import { ConnectionRecord, peerLabels, serviceLabels, workloadBaggage, workloadFields } from './telemetry.js';

/** What the resolution says the destination workload is (the waypoint when there is one). */
function destinationOf(r: Resolution): WorkloadView | undefined {
  switch (r.kind) {
    case 'service':
      return r.waypoint ? r.waypoint.workload : r.endpoint.workload;
    case 'workload':
      return r.waypoint ? r.waypoint.workload : r.workload;
    default:
      return undefined;
  }
}

const NEVER = (): boolean => false;

export class Outbound {
  constructor(
    private readonly inputs: ProxyInputs,
    private readonly pod: PodContext,
  ) {}

  /** Serves one accepted connection; never throws. */
  async handle(down: net.Socket): Promise<void> {
    down.on('error', () => {}); // the copy reports what matters
    const src = sockAddrOf(down.remoteAddress, down.remotePort);
    if (!src) return resetConnection(down, 'no peer address');
    let dst: SockAddr;
    const rec = (d: string): ConnectionRecord => new ConnectionRecord(this.inputs.telemetry, { direction: 'outbound', 'src.addr': formatSockAddr(src), 'dst.addr': d });
    try {
      const o = this.inputs.originalDst(down);
      dst = { ...o, address: canonicalIp(o.address) };
    } catch (e) {
      return refuseConnection(down, rec('-'), new ProxyError('OriginalDst', `cannot read the original destination: ${errorText(e)}`));
    }
    const record = rec(formatSockAddr(dst));
    if (ILLEGAL_PORTS.has(dst.port) && isLoopback(dst.address)) {
      return refuseConnection(down, record, new ProxyError('SelfCall', `refusing a connection to ztunnel's own port ${formatSockAddr(dst)}`));
    }
    const source = await this.inputs.state.waitForWorkload({ namespace: this.pod.namespace, name: this.pod.name }, this.inputs.sourceWaitMs);
    if (!source) {
      const e = new ProxyError('UnknownSourceWorkload', `pod ${this.pod.namespace}/${this.pod.name} is not known to the control plane after ${this.inputs.sourceWaitMs} ms; is it in the xDS state (see /config_dump)?`);
      return refuseConnection(down, record, e);
    }
    if (down.destroyed) return;
    record.note(workloadFields('src', source, this.pod.identity));
    if (ILLEGAL_PORTS.has(dst.port) && source.addresses.includes(dst.address)) {
      return refuseConnection(down, record, new ProxyError('SelfCall', `refusing a connection to ztunnel's own port ${formatSockAddr(dst)} on this pod`));
    }
    const r = this.inputs.state.resolveDestination(source, dst.address, dst.port, { srcIp: src.address });
    const labels: TcpConnectionLabels = {
      reporter: 'source',
      source: peerLabels(source, this.pod.identity),
      destination: peerLabels(destinationOf(r)),
      destinationService: serviceLabels('service' in r ? r.service : undefined),
      mtls: r.kind !== 'error' && r.target.protocol === 'HBONE',
    };
    if (r.kind === 'error') {
      return refuseConnection(down, record, new ProxyError(r.reason, r.message), labels);
    }
    const t = r.target;
    const service = 'service' in r ? r.service : undefined;
    record.note({ 'dst.addr': formatHostPort(t.ip, t.port), ...workloadFields('dst', destinationOf(r)), ...(service ? { 'dst.service': service.hostname } : {}) });
    let up: Duplex;
    const handoff = this.inputs.localPods && handoffTarget(r, this.inputs.localPods);
    const traceparent = t.protocol === 'TCP' && !handoff ? undefined : this.#traceparent(record, service?.hostname ?? formatSockAddr(dst));
    try {
      if (handoff) {
        const forwarded = buildForwarded(formatSockAddr(src), service?.hostname);
        up = await handOff(handoff, { address: src, identity: this.pod.identity, forwarded, baggage: workloadBaggage(source), traceparent: traceparent! }, t, down);
        labels.destination = peerLabels(destinationOf(r), handoff.inbound.identity);
        record.note({ 'dst.hbone_addr': t.authority!, 'dst.identity': handoff.inbound.identity });
      } else if (t.protocol === 'TCP') {
        up = await this.pod.net.connect(t.ip, t.port, this.inputs.connectTimeoutMs).catch((e: unknown) => {
          throw new ProxyError('UpstreamConnect', `connection to ${formatHostPort(t.ip, t.port)} failed: ${errorText(e)}`, { cause: e });
        });
      } else {
        const tunnel = await this.pod.pool
          .connect({
            sourceIdentity: this.pod.identity,
            destinationIdentities: t.expectedIdentities,
            destination: formatHostPort(t.ip, t.port),
            credentials: () =>
              this.inputs.certs.get(this.pod.identity).catch((e: unknown) => {
                throw new ProxyError('NoCertificate', `no certificate for ${this.pod.identity}: ${errorText(e)}`, { cause: e });
              }),
            socketFactory: (host, port) => this.pod.net.startConnect(host, port),
            authority: t.authority!,
            forwarded: buildForwarded(formatSockAddr(src), service?.hostname),
            baggage: workloadBaggage(source),
            traceparent: traceparent!,
          })
          .catch((e: unknown) => {
            throw hboneFailure(e);
          });
        labels.destination = peerLabels(destinationOf(r), tunnel.peerIdentity);
        record.note({ 'dst.hbone_addr': t.authority!, 'dst.identity': tunnel.peerIdentity });
        up = tunnel;
      }
    } catch (e) {
      return refuseConnection(down, record, e instanceof ProxyError ? e : hboneFailure(e), labels);
    }
    if (down.destroyed) {
      // The app gave up while we connected; the bridge notices and tears `up` down too.
      this.inputs.logger.debug({ src: formatSockAddr(src), dst: formatSockAddr(dst) }, 'outbound: client left during connect');
    }
    const copy = copyBidirectional(down, up);
    record.open(labels, {}, copy.bytes);
    const untrack = this.inputs.connections.trackOutbound({
      srcIp: src.address,
      srcPort: src.port,
      srcIdentity: this.pod.identity,
      dstIp: t.ip,
      dstPort: t.port,
      originalDst: formatSockAddr(dst),
      workload: source.uid,
      protocol: handoff || t.protocol !== 'TCP' ? 'HBONE' : 'TCP',
    });
    const totals = await copy.done;
    untrack();
    record.close(totals, totals.error);
  }

  /**
   * The CONNECT's traceparent: with tracing on, this connection's (CLIENT) span starts a trace,
   * sampled or not as the tracer decides; without, a fresh unsampled one as Istio's ztunnel sends.
   */
  #traceparent(record: ConnectionRecord, target: string): string {
    const tracer = this.inputs.tracer;
    const tc = nextTrace({}, { sample: tracer ? tracer.sample : NEVER });
    if (!tracer) return tc.traceparent;
    if (tc.sampled) record.traced(tracer, { traceId: tc.traceId, spanId: tc.spanId, parentSpanId: undefined, name: `outbound ${target}`, kind: 'client' });
    return tc.traceparent;
  }
}
