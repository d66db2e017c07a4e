import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import {
  EchoRequestSchema,
  EchoResponseSchema,
  type EchoRequest,
  type EchoResponse,
} from '../../../lib/proto/gen/ambit/echo/echo_pb.js';
import type { Logger } from '../../../lib/telemetry/log.js';
import type { ResolvedEchoConfig } from './config.js';
import { buildEchoText, grpcPeerAddress, parseControls, type EchoControls } from './text.js';

export const ECHO_METHOD_PATH = '/ambit.echo.EchoTestService/Echo';
export const STREAM_METHOD_PATH = '/ambit.echo.EchoTestService/StreamEcho';

export const serializeRequest = (m: EchoRequest): Buffer => Buffer.from(toBinary(EchoRequestSchema, m));
export const deserializeRequest = (b: Buffer): EchoRequest => fromBinary(EchoRequestSchema, b);
export const serializeResponse = (m: EchoResponse): Buffer => Buffer.from(toBinary(EchoResponseSchema, m));
export const deserializeResponse = (b: Buffer): EchoResponse => fromBinary(EchoResponseSchema, b);

export const echoServiceDefinition: grpc.ServiceDefinition = {
  Echo: {
    path: ECHO_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: serializeRequest,
    requestDeserialize: deserializeRequest,
    responseSerialize: serializeResponse,
    responseDeserialize: deserializeResponse,
  },
  StreamEcho: {
    path: STREAM_METHOD_PATH,
    requestStream: true,
    responseStream: true,
    requestSerialize: serializeRequest,
    requestDeserialize: deserializeRequest,
    responseSerialize: serializeResponse,
    responseDeserialize: deserializeResponse,
  },
};

/** gRPC's own HTTP → status mapping, so `x-echo-status: 503` reads as UNAVAILABLE. */
export function grpcCodeForHttp(status: number): grpc.status {
  if (status < 300) return grpc.status.OK;
  switch (status) {
    case 400:
      return grpc.status.INTERNAL;
    case 401:
      return grpc.status.UNAUTHENTICATED;
    case 403:
      return grpc.status.PERMISSION_DENIED;
    case 404:
      return grpc.status.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return grpc.status.UNAVAILABLE;
    default:
      return grpc.status.UNKNOWN;
  }
}

/** The reverse, for the one-shot client's `status` field. */
export function httpStatusForGrpc(code: number): number {
  const map: Record<number, number> = {
    [grpc.status.OK]: 200,
    [grpc.status.INVALID_ARGUMENT]: 400,
    [grpc.status.INTERNAL]: 500,
    [grpc.status.UNAUTHENTICATED]: 401,
    [grpc.status.PERMISSION_DENIED]: 403,
    [grpc.status.UNIMPLEMENTED]: 404,
    [grpc.status.NOT_FOUND]: 404,
    [grpc.status.RESOURCE_EXHAUSTED]: 429,
    [grpc.status.UNAVAILABLE]: 503,
    [grpc.status.DEADLINE_EXCEEDED]: 504,
  };
  return map[code] ?? 500;
}

export interface GrpcContext {
  cfg: ResolvedEchoConfig;
  log: Logger;
  /** The bound port, known only after bindAsync; grpc-js does not expose a call's local port. */
  port: () => number;
}

export function createEchoImplementation(ctx: GrpcContext): grpc.UntypedServiceImplementation {
  const echo: grpc.handleUnaryCall<EchoRequest, EchoResponse> = (call, callback) => {
    const start = process.hrtime.bigint();
    const md = call.metadata.getMap();
    const headerOf = (name: string): string | undefined => {
      const v = md[name];
      return v === undefined ? undefined : String(v);
    };
    const ip = grpcPeerAddress(call.getPeer());
    ctx.log.debug({ method: 'POST', url: ECHO_METHOD_PATH }, 'request started');
    const finish = (code: grpc.status): void => {
      if (!ctx.cfg.accessLog) return;
      ctx.log.info(
        { method: 'POST', url: ECHO_METHOD_PATH, proto: 'GRPC', grpcStatus: code, src: ip, durationMs: Number(process.hrtime.bigint() - start) / 1e6 },
        'request',
      );
    };
    let c: EchoControls;
    try {
      c = parseControls(new URLSearchParams(), headerOf);
    } catch (e) {
      finish(grpc.status.INVALID_ARGUMENT);
      callback({ code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      return;
    }
    const requestHeaders = metadataPairs(call.metadata);
    const reply = (): void => {
      if (call.cancelled) return;
      const code = grpcCodeForHttp(c.status);
      finish(code);
      if (code !== grpc.status.OK) {
        callback({ code, details: `echo: asked for status ${c.status}` });
        return;
      }
      const text = grpcEchoText(ctx, { host: call.getHost?.() ?? '', ip, url: ECHO_METHOD_PATH, statusCode: c.status, requestHeaders, echo: call.request.message });
      callback(null, create(EchoResponseSchema, { message: c.size > 0 ? text + 'x'.repeat(c.size) : text }));
    };
    if (c.delayMs > 0) {
      const timer = setTimeout(reply, c.delayMs);
      call.on('cancelled', () => clearTimeout(timer));
    } else {
      reply();
    }
  };
  // Bidirectional: one answer per message, then the status the metadata asks for.
  const stream: grpc.handleBidiStreamingCall<EchoRequest, EchoResponse> = (call) => {
    const md = call.metadata.getMap();
    const headerOf = (name: string): string | undefined => (md[name] === undefined ? undefined : String(md[name]));
    const ip = grpcPeerAddress(call.getPeer());
    let c: EchoControls;
    try {
      c = parseControls(new URLSearchParams(), headerOf);
    } catch (e) {
      call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: (e as Error).message });
      return;
    }
    const requestHeaders = metadataPairs(call.metadata);
    let n = 0;
    call.on('data', (m: EchoRequest) => {
      n++;
      const text = grpcEchoText(ctx, { host: call.getHost?.() ?? '', ip, url: STREAM_METHOD_PATH, statusCode: 200, requestHeaders, echo: m.message });
      call.write(create(EchoResponseSchema, { message: text }));
    });
    call.on('end', () => {
      const code = grpcCodeForHttp(c.status);
      if (ctx.cfg.accessLog) ctx.log.info({ method: 'POST', url: STREAM_METHOD_PATH, proto: 'GRPC', grpcStatus: code, src: ip, messages: n }, 'request');
      if (code === grpc.status.OK) call.end();
      else call.emit('error', { code, details: `echo: asked for status ${c.status}` });
    });
  };
  return { Echo: echo, StreamEcho: stream };
}

/** The echo text of one gRPC answer: what the HTTP echo prints, for this server. */
function grpcEchoText(ctx: GrpcContext, r: { host: string; ip: string; url: string; statusCode: number; requestHeaders: Array<[string, string]>; echo: string }): string {
  return buildEchoText({
    serviceVersion: ctx.cfg.version,
    servicePort: ctx.port(),
    hostname: ctx.cfg.name,
    namespace: ctx.cfg.namespace,
    method: 'POST',
    proto: 'GRPC',
    cluster: ctx.cfg.cluster,
    ...r,
  });
}

function metadataPairs(md: grpc.Metadata): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const [k, values] of Object.entries(md.toJSON())) {
    for (const v of values) out.push([k, typeof v === 'string' ? v : Buffer.from(v).toString('base64')]);
  }
  return out;
}
