// The waypoint's SERVER span for one request, built from what request-telemetry records: route,
// upstream cluster, status code, response flags, peer identity; its parent is the caller's span.
// Pure.
import type { SpanRecord } from '../../lib/telemetry/span.js';
import { perfToNs } from '../../lib/telemetry/span.js';
import type { TraceContext } from '../../lib/telemetry/trace-context.js';
import type { RequestRecord } from './request-telemetry.js';

export function requestSpan(r: RequestRecord, trace: TraceContext, endedAt: number, entryHostname: string, port: number): SpanRecord {
  const flags = r.flags.length ? [...new Set(r.flags)].join(',') : '-';
  const failed = r.status >= 500 || r.status === 0 || (r.grpcStatus !== undefined && r.grpcStatus !== 0);
  return {
    traceId: trace.traceId,
    spanId: trace.spanId,
    parentSpanId: trace.parentSpanId,
    // As Istio's proxies name theirs: the service and port the request was for.
    name: `${entryHostname}:${port}/*`,
    kind: 'server',
    startNs: perfToNs(r.startedAt),
    endNs: perfToNs(endedAt),
    attributes: {
      'http.method': r.method,
      'http.url': `http://${r.authority}${r.path}`,
      'http.protocol': r.downstream,
      'http.status_code': r.status,
      ...(r.grpcStatus !== undefined ? { 'grpc.status_code': r.grpcStatus } : {}),
      response_flags: flags,
      'peer.identity': r.sourcePrincipal,
      'peer.address': r.sourceIp,
      ...(r.route ? { route: r.route } : {}),
      ...(r.upstreamCluster ? { upstream_cluster: r.upstreamCluster } : {}),
      ...(r.endpoint ? { 'upstream.address': r.endpoint.ip, 'upstream.workload': r.endpoint.workloadName } : {}),
      ...(r.service ? { 'istio.destination_service': r.service.hostname } : {}),
      upstream_tries: r.tries,
      request_id: r.requestId,
      component: 'proxy',
    },
    status: failed ? { code: 'error', message: r.detail ?? `HTTP ${r.status}` } : { code: 'unset' },
  };
}
