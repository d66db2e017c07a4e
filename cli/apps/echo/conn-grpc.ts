import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { EchoRequestSchema, type EchoResponse } from '../../../lib/proto/gen/ambit/echo/echo_pb.js';
import { TransportError, type Conn, type Reply, type SendOptions } from './conn.js';
import { deserializeResponse, ECHO_METHOD_PATH, httpStatusForGrpc, serializeRequest, STREAM_METHOD_PATH } from './grpc.js';
import type { Target } from './target.js';

const CONNECT_DETAILS = /No connection established|ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|Name resolution failed|failed to connect/i;
const RESET_DETAILS = /Connection dropped|ECONNRESET|GOAWAY|RST_STREAM|Call cancelled/i;

/**
 * One gRPC channel = one connection: `grpc.use_local_subchannel_pool` stops grpc-js from
 * sharing one subchannel among every channel to the same address.
 */
export class GrpcConn implements Conn {
  private readonly client: grpc.Client;
  connects = 0;

  constructor(
    private readonly t: Target,
    authority?: string,
  ) {
    const options: grpc.ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };
    if (authority) options['grpc.default_authority'] = authority;
    this.client = new grpc.Client(t.authority, grpc.credentials.createInsecure(), options);
    this.countReady(grpc.connectivityState.IDLE);
  }

  /** grpc-js reconnects on its own; each entry into READY is one connection established. */
  private countReady(from: grpc.connectivityState): void {
    const channel = this.client.getChannel();
    channel.watchConnectivityState(from, Infinity, () => {
      const now = channel.getConnectivityState(false);
      if (now === grpc.connectivityState.SHUTDOWN) return;
      if (now === grpc.connectivityState.READY) this.connects++;
      this.countReady(now);
    });
  }

  send(o: SendOptions): Promise<Reply> {
    const md = new grpc.Metadata();
    for (const [k, v] of o.headers) if (k.toLowerCase() !== 'host') md.add(k.toLowerCase(), v);
    const message = create(EchoRequestSchema, { message: o.body.toString('utf8') });
    return new Promise((resolve, reject) => {
      let headers: Record<string, string | string[]> = {};
      const call = this.client.makeUnaryRequest(
        ECHO_METHOD_PATH,
        serializeRequest,
        deserializeResponse,
        message,
        md,
        { deadline: Date.now() + o.timeoutMs },
        (err: grpc.ServiceError | null, res?: EchoResponse) => {
          if (!err) {
            const body = Buffer.from(res?.message ?? '', 'utf8');
            resolve({ status: 200, grpcCode: 0, grpcCodeName: 'OK', headers, body, bytesSent: o.body.length, bytesReceived: body.length });
            return;
          }
          const failure = classifyGrpc(err, this.t.authority, o.timeoutMs);
          if (failure) {
            reject(failure);
            return;
          }
          resolve({
            status: httpStatusForGrpc(err.code),
            grpcCode: err.code,
            grpcCodeName: grpc.status[err.code] ?? String(err.code),
            headers,
            body: Buffer.from(err.details ?? '', 'utf8'),
            bytesSent: o.body.length,
            bytesReceived: 0,
          });
        },
      );
      call.on('metadata', (m: grpc.Metadata) => {
        headers = {};
        for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v);
      });
    });
  }

  /**
   * One StreamEcho call carrying `count` messages (the body each time); the reply's body is the
   * answers, one after the other, and its status the call's.
   */
  stream(o: SendOptions, count: number): Promise<Reply> {
    const md = new grpc.Metadata();
    for (const [k, v] of o.headers) if (k.toLowerCase() !== 'host') md.add(k.toLowerCase(), v);
    return new Promise((resolve, reject) => {
      let headers: Record<string, string | string[]> = {};
      const answers: string[] = [];
      const call = this.client.makeBidiStreamRequest(STREAM_METHOD_PATH, serializeRequest, deserializeResponse, md, { deadline: Date.now() + o.timeoutMs });
      call.on('metadata', (m: grpc.Metadata) => {
        headers = {};
        for (const [k, v] of Object.entries(m.getMap())) headers[k] = String(v);
      });
      call.on('data', (res: EchoResponse) => answers.push(res.message));
      const done = (code: number, details: string): void => {
        const body = Buffer.from(code === grpc.status.OK ? answers.join('\n') : details, 'utf8');
        resolve({ status: httpStatusForGrpc(code), grpcCode: code, grpcCodeName: grpc.status[code] ?? String(code), headers, body, bytesSent: o.body.length * count, bytesReceived: body.length });
      };
      call.on('error', (err: grpc.ServiceError) => {
        const failure = classifyGrpc(err, this.t.authority, o.timeoutMs);
        if (failure) reject(failure);
        else done(err.code, err.details ?? '');
      });
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) done(s.code, s.details);
      });
      for (let i = 0; i < count; i++) call.write(create(EchoRequestSchema, { message: `${o.body.toString('utf8')}${o.body.length ? ' ' : ''}#${i + 1}` }));
      call.end();
    });
  }

  close(): void {
    this.client.close();
  }
}

/** A transport failure (no server answered), or undefined for a status the server sent. */
export function classifyGrpc(err: { code: number; details?: string }, where: string, timeoutMs: number): TransportError | undefined {
  const details = err.details ?? '';
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return new TransportError('timeout', `no answer from ${where} within ${timeoutMs} ms`);
  if (err.code === grpc.status.UNAVAILABLE && CONNECT_DETAILS.test(details)) {
    return new TransportError('connect', `connection to ${where} failed: ${details}; is the gRPC server listening there?`);
  }
  if ((err.code === grpc.status.UNAVAILABLE || err.code === grpc.status.CANCELLED || err.code === grpc.status.INTERNAL) && RESET_DETAILS.test(details)) {
    return new TransportError('reset', `connection to ${where} was cut: ${details}`);
  }
  return undefined;
}
