// Inbound HBONE (port 15008, ARCHITECTURE.md §3 step 5): for each CONNECT on this pod's listener, check the
// authority, authorize the peer, connect to the app from the client's own IP, answer 200 and let
// the HBONE server copy. 400 / 401 / 503 otherwise.
import type net from 'node:net';
import { formatHostPort, formatSockAddr } from '../../lib/hbone/authority.js';
import { parseBaggage, parseForwarded } from '../../lib/hbone/headers.js';
import { tryParseSpiffeId } from '../../lib/identity/spiffe.js';
import type { ConnectHandler, ConnectRequest, ConnectResult } from '../../lib/hbone/server.js';
import type { PeerLabels, TcpConnectionLabels } from '../../lib/telemetry/metrics.js';
import { nextTrace } from '../../lib/telemetry/trace-context.js';
import { authorize, type Connection } from '../rbac/authorize.js';
import type { ServiceView, WorkloadView } from '../state/types.js';
import type { StateView } from '../state/view.js';
import type { PodContext, ProxyInputs } from './context.js';
import { errorText, ProxyError } from './errors.js';
import { ILLEGAL_PORTS } from './ports.js';
import { resetConnection } from './refuse.js';
import { ConnectionRecord, peerLabels, serviceLabels, workloadBaggage, workloadFields } from './telemetry.js';

/** The service a client meant: `Forwarded: host=` when sent, else one of ours with a port mapping to `port`. */
export function guessService(state: StateView, local: WorkloadView, port: number, forwardedHost: string | undefined): ServiceView | undefined {
  if (forwardedHost) {
    const s = state.serviceByHostname(forwardedHost.replace(/:\d+$/, ''), local.namespace);
    if (s) return s;
  }
  return state.servicesOf(local).find((s) => [...s.ports.keys()].some((sp) => state.targetPortFor(s, local, sp) === port));
}

/**
 * Source labels from the baggage header when the source IP names no workload we know. parseBaggage
 * keeps only valid names; baggage naming another namespace than the peer's certificate is a lie
 * and ignored whole.
 */
export function baggageLabels(baggage: string | undefined, peerIdentity: string): PeerLabels {
  const b = parseBaggage(baggage);
  const peerNamespace = tryParseSpiffeId(peerIdentity)?.namespace;
  if (b.namespace !== undefined && b.namespace !== peerNamespace) return {};
  return { workload: b.workloadName, namespace: b.namespace, canonicalService: b.serviceName, canonicalRevision: b.serviceVersion, cluster: b.clusterName };
}

export function inboundHandler(inputs: ProxyInputs, pod: PodContext): ConnectHandler {
  const { state } = inputs;
  return async (req: ConnectRequest): Promise<ConnectResult> => {
    const podIp = req.localAddress.address;
    const record = new ConnectionRecord(inputs.telemetry, {
      direction: 'inbound',
      'src.addr': formatSockAddr(req.peerAddress),
      'src.identity': req.peerIdentity,
      'dst.addr': formatSockAddr(req.localAddress),
      'dst.hbone_addr': req.authority,
    });
    // A sampled trace in the CONNECT: this side's (SERVER) span, a child of the caller's.
    if (inputs.tracer && req.traceparent) {
      const tc = nextTrace({ traceparent: req.traceparent });
      if (tc.sampled && tc.parentSpanId) record.traced(inputs.tracer, { traceId: tc.traceId, spanId: tc.spanId, parentSpanId: tc.parentSpanId, name: `inbound ${req.authority}`, kind: 'server' });
    }
    const refuse = (status: 400 | 401 | 503, e: ProxyError, l?: TcpConnectionLabels): ConnectResult => {
      record.fail(e, l);
      return { status, reason: `${e.code}: ${e.message}` };
    };
    const local = state.findWorkload({ namespace: pod.namespace, name: pod.name });
    if (!local) return refuse(503, new ProxyError('UnknownLocalWorkload', `pod ${pod.namespace}/${pod.name} is not known to the control plane yet`));
    let port = req.port;
    if (req.authorityKind === 'hostname') {
      const svc = state.serviceByHostname(req.host, local.namespace);
      const tp = svc && state.targetPortFor(svc, local, req.port);
      if (!tp) return refuse(503, new ProxyError('NoValidDestination', `${req.authority}: no service port ${req.port} of ${req.host} maps to a port of ${local.namespace}/${local.name}`));
      port = tp;
    } else if (req.host !== podIp) {
      return refuse(400, new ProxyError('IpMismatch', `CONNECT to ${req.authority} arrived at ${podIp}, which is pod ${local.namespace}/${local.name}; a tunnel must name the pod it reaches`));
    }
    const src = state.workloadByAddr(req.peerAddress.address);
    const fwd = parseForwarded(req.forwarded);
    const service = guessService(state, local, port, fwd.host);
    const labels: TcpConnectionLabels = {
      reporter: 'destination',
      source: src ? peerLabels(src, req.peerIdentity) : { ...baggageLabels(req.baggage, req.peerIdentity), principal: req.peerIdentity },
      destination: peerLabels(local, pod.identity),
      destinationService: serviceLabels(service),
      mtls: true,
    };
    record.note({ ...workloadFields('src', src, req.peerIdentity), ...workloadFields('dst', local, pod.identity), 'dst.addr': formatHostPort(podIp, port), ...(service ? { 'dst.service': service.hostname } : {}) });
    if (ILLEGAL_PORTS.has(port)) return refuse(400, new ProxyError('SelfCall', `refusing a tunnel to ztunnel's own port ${port}`), labels);
    const conn: Connection = { srcIp: req.peerAddress.address, srcIdentity: req.peerIdentity, dstIp: podIp, dstPort: port, dstWorkload: { namespace: local.namespace, name: local.name } };
    const decision = authorize(conn, state.policiesFor(local));
    if (!decision.allowed) return refuse(401, new ProxyError('AuthorizationPolicyRejection', decision.reason), labels);

    let upstream: net.Socket;
    try {
      upstream = await pod.net.connectAs(req.peerAddress.address, podIp, port, inputs.connectTimeoutMs);
    } catch (e) {
      return refuse(503, new ProxyError('UpstreamConnect', `connection to the app at ${formatHostPort(podIp, port)} failed: ${errorText(e)}`, { cause: e }), labels);
    }
    if (req.signal.aborted) {
      upstream.destroy();
      record.fail(new ProxyError('UpstreamConnect', 'the client reset the stream before the answer'), labels);
      return { status: 503, reason: 'client went away' };
    }
    record.open(labels, {}, () => ({ received: upstream.bytesWritten, sent: upstream.bytesRead }));
    let lateReason: ProxyError | undefined;
    const untrack = inputs.connections.track({
      conn,
      workload: local,
      protocol: 'HBONE',
      close: (reason) => {
        lateReason = new ProxyError('AuthorizationPolicyLateRejection', reason);
        // The app sees a reset; the HBONE copy then resets the stream, and the client's ztunnel the client.
        resetConnection(upstream, reason);
      },
    });
    // The HBONE server's copy ends by destroying the upstream: its close is the connection's end.
    upstream.once('close', () => {
      untrack();
      record.close({ received: upstream.bytesWritten, sent: upstream.bytesRead }, lateReason);
    });
    return { status: 200, upstream, headers: { baggage: workloadBaggage(local) } };
  };
}
