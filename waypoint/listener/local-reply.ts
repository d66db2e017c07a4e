// Answers the waypoint gives itself (no route, denied, rate limited, upstream failures, faults),
// with Envoy's bodies; for gRPC requests as gRPC does it: HTTP 200 with grpc-status and
// grpc-message in a trailers-only response, the status mapped from HTTP as Envoy maps it. Pure.
export interface LocalReply {
  status: number;
  headers: Record<string, string>;
  body: string;
  /** The gRPC status sent, for gRPC requests. */
  grpcStatus?: number;
}

/** Envoy's HTTP → gRPC status mapping for local replies. */
export function httpToGrpcStatus(status: number): number {
  switch (status) {
    case 400:
      return 13; // INTERNAL
    case 401:
      return 16; // UNAUTHENTICATED
    case 403:
      return 7; // PERMISSION_DENIED
    case 404:
      return 12; // UNIMPLEMENTED
    case 429:
    case 502:
    case 503:
    case 504:
      return 14; // UNAVAILABLE
    default:
      return 2; // UNKNOWN
  }
}

export function isGrpc(contentType: string | string[] | undefined): boolean {
  const v = Array.isArray(contentType) ? contentType[0] : contentType;
  return typeof v === 'string' && v.startsWith('application/grpc');
}

export function localReply(status: number, body: string, opts: { grpc: boolean; grpcStatus?: number; headers?: Record<string, string> }): LocalReply {
  if (opts.grpc) {
    const code = opts.grpcStatus ?? httpToGrpcStatus(status);
    return {
      status: 200,
      headers: { 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(body), ...opts.headers },
      body: '',
      grpcStatus: code,
    };
  }
  return { status, headers: { 'content-type': 'text/plain', ...opts.headers }, body };
}
