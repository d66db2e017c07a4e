// Inbound plaintext (port 15006, ARCHITECTURE.md §3 step 7): a redirected connection that did not come over
// HBONE has no peer identity; authorize it as such (a STRICT PeerAuthentication denies it), then
// connect to the app from the client's IP and copy.
import type net from 'node:net';
import { canonicalIp, formatSockAddr, sockAddrOf } from '../../lib/hbone/authority.js';
import type { SockAddr } from '../../lib/native/types.js';
import type { TcpConnectionLabels } from '../../lib/telemetry/metrics.js';
import { authorize, type Connection } from '../rbac/authorize.js';
import type { PodContext, ProxyInputs } from './context.js';
import { copyBidirectional } from './copy.js';
import { errorText, ProxyError } from './errors.js';
import { guessService } from './inbound.js';
import { ILLEGAL_PORTS } from './ports.js';
import { refuseConnection, resetConnection } from './refuse.js';
import { ConnectionRecord, peerLabels, serviceLabels, workloadFields } from './telemetry.js';

export class InboundPassthrough {
  constructor(
    private readonly inputs: ProxyInputs,
    private readonly pod: PodContext,
  ) {}

  /** Serves one accepted connection; never throws. */
  async handle(down: net.Socket): Promise<void> {
    down.on('error', () => {});
    const src = sockAddrOf(down.remoteAddress, down.remotePort);
    if (!src) return resetConnection(down, 'no peer address');
    const rec = (d: string): ConnectionRecord => new ConnectionRecord(this.inputs.telemetry, { direction: 'inbound', 'src.addr': formatSockAddr(src), 'dst.addr': d });
    let dst: SockAddr;
    try {
      const o = this.inputs.originalDst(down);
      dst = { ...o, address: canonicalIp(o.address) };
    } catch (e) {
      return refuseConnection(down, rec('-'), new ProxyError('OriginalDst', `cannot read the original destination: ${errorText(e)}`));
    }
    const record = rec(formatSockAddr(dst));
    if (ILLEGAL_PORTS.has(dst.port)) {
      return refuseConnection(down, record, new ProxyError('SelfCall', `refusing a plaintext connection to ztunnel's own port ${formatSockAddr(dst)}`));
    }
    const { state } = this.inputs;
    const local = state.findWorkload({ namespace: this.pod.namespace, name: this.pod.name });
    if (!local) {
      return refuseConnection(down, record, new ProxyError('UnknownLocalWorkload', `pod ${this.pod.namespace}/${this.pod.name} is not known to the control plane yet`));
    }
    const source = state.workloadByAddr(src.address);
    const service = guessService(state, local, dst.port, undefined);
    const labels: TcpConnectionLabels = {
      reporter: 'destination',
      source: peerLabels(source),
      destination: peerLabels(local, this.pod.identity),
      destinationService: serviceLabels(service),
      mtls: false,
    };
    record.note({ ...workloadFields('src', source), ...workloadFields('dst', local, this.pod.identity), ...(service ? { 'dst.service': service.hostname } : {}) });
    const conn: Connection = { srcIp: src.address, dstIp: dst.address, dstPort: dst.port, dstWorkload: { namespace: local.namespace, name: local.name } };
    const decision = authorize(conn, state.policiesFor(local));
    if (!decision.allowed) {
      return refuseConnection(down, record, new ProxyError('AuthorizationPolicyRejection', decision.reason), labels);
    }
    let up: net.Socket;
    try {
      up = await this.pod.net.connectAs(src.address, dst.address, dst.port, this.inputs.connectTimeoutMs);
    } catch (e) {
      return refuseConnection(down, record, new ProxyError('UpstreamConnect', `connection to the app at ${formatSockAddr(dst)} failed: ${errorText(e)}`, { cause: e }), labels);
    }
    const copy = copyBidirectional(down, up);
    record.open(labels, {}, copy.bytes);
    let late: ProxyError | undefined;
    const untrack = this.inputs.connections.track({
      conn,
      workload: local,
      protocol: 'TCP',
      close: (reason) => {
        late = new ProxyError('AuthorizationPolicyLateRejection', reason);
        copy.reset(reason);
      },
    });
    const totals = await copy.done;
    untrack();
    record.close(totals, late ?? totals.error);
  }
}
