// What the waypoint records once per request: Istio's request metrics with reporter="waypoint"
// and one access-log line (Envoy's fields, as JSON).
import type { Logger } from '../../lib/telemetry/log.js';
import { requestLabels, type RequestMetrics } from '../../lib/telemetry/request-metrics.js';
import type { EndpointInfo, ServiceInfo } from '../state/types.js';

export interface RequestRecord {
  startedAt: number;
  method: string;
  path: string;
  authority: string;
  protocol: 'http' | 'grpc';
  downstream: 'HTTP/1.1' | 'HTTP/2';
  status: number;
  grpcStatus?: number;
  flags: string[];
  sourceIp: string;
  /** SPIFFE id of the HBONE peer. */
  sourcePrincipal: string;
  source: EndpointInfo | undefined;
  service: ServiceInfo | undefined;
  endpoint: EndpointInfo | undefined;
  route: string | undefined;
  /** Istio's cluster name, `outbound|<port>|<subset>|<hostname>`. */
  upstreamCluster?: string;
  requestBytes: number;
  responseBytes: number;
  traceId: string;
  requestId: string;
  tries: number;
  detail?: string;
}

export interface RequestTelemetry {
  record(r: RequestRecord): void;
}

export function requestTelemetry(metrics: RequestMetrics, log: Logger): RequestTelemetry {
  const access = log.child({ target: 'access' });
  return {
    record(r) {
      const durationMs = Math.max(0, performance.now() - r.startedAt);
      const flags = r.flags.length ? [...new Set(r.flags)].join(',') : '-';
      const labels = requestLabels({
        reporter: 'waypoint',
        source: {
          workload: r.source?.workloadName,
          namespace: r.source?.namespace ?? namespaceOf(r.sourcePrincipal),
          principal: r.sourcePrincipal,
          canonicalService: r.source?.canonicalService,
          canonicalRevision: r.source?.canonicalRevision,
          cluster: r.source?.cluster,
        },
        destination: {
          workload: r.endpoint?.workloadName,
          namespace: r.endpoint?.namespace,
          principal: r.endpoint?.identity,
          canonicalService: r.endpoint?.canonicalService,
          canonicalRevision: r.endpoint?.canonicalRevision,
          cluster: r.endpoint?.cluster,
        },
        ...(r.service ? { destinationService: { hostname: r.service.hostname, namespace: r.service.namespace, name: r.service.name } } : {}),
        protocol: r.protocol,
        responseCode: r.status,
        ...(r.grpcStatus !== undefined ? { grpcStatus: r.grpcStatus } : {}),
        responseFlags: flags,
        mtls: true,
      });
      metrics.record(labels, { durationMs, requestBytes: r.requestBytes, responseBytes: r.responseBytes });
      const line = {
        method: r.method,
        path: r.path,
        authority: r.authority,
        protocol: r.downstream,
        response_code: r.status,
        ...(r.grpcStatus !== undefined ? { grpc_status: r.grpcStatus } : {}),
        response_flags: flags,
        duration: `${Math.round(durationMs)}ms`,
        bytes_received: r.requestBytes,
        bytes_sent: r.responseBytes,
        'src.addr': r.sourceIp,
        'src.identity': r.sourcePrincipal,
        ...(r.service ? { 'dst.service': r.service.hostname } : {}),
        ...(r.endpoint ? { 'dst.workload': r.endpoint.workloadName, 'dst.addr': r.endpoint.ip, 'dst.identity': r.endpoint.identity } : {}),
        ...(r.route ? { route: r.route } : {}),
        upstream_tries: r.tries,
        trace_id: r.traceId,
        request_id: r.requestId,
        ...(r.detail ? { details: r.detail } : {}),
      };
      if (r.status >= 500 || r.status === 0) access.warn(line, 'request complete');
      else access.info(line, 'request complete');
    },
  };
}

function namespaceOf(principal: string): string | undefined {
  return /\/ns\/([^/]+)\//.exec(principal)?.[1];
}
