// Bridges protoc-gen-es service descriptors to @grpc/grpc-js, so that every gRPC service in Ambit
// (xDS, certificates, echo) is served and called with the generated messages and one serializer.
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { GenService, GenServiceMethods } from '@bufbuild/protobuf/codegenv2';

type MethodShape = GenServiceMethods[string];
type In<M extends MethodShape> = MessageShape<M['input']>;
type Out<M extends MethodShape> = MessageShape<M['output']>;

/** A grpc-js service definition keyed by the methods' local (camelCase) names. */
export type GrpcServiceDefinition<S extends GenServiceMethods> = {
  [K in keyof S]: grpc.MethodDefinition<In<S[K]>, Out<S[K]>>;
};

/** Server handlers for a generated service, typed per method kind. Missing methods answer UNIMPLEMENTED. */
export type GrpcServiceImpl<S extends GenServiceMethods> = {
  [K in keyof S]?: S[K]['methodKind'] extends 'unary'
    ? grpc.handleUnaryCall<In<S[K]>, Out<S[K]>>
    : S[K]['methodKind'] extends 'server_streaming'
      ? grpc.handleServerStreamingCall<In<S[K]>, Out<S[K]>>
      : S[K]['methodKind'] extends 'client_streaming'
        ? grpc.handleClientStreamingCall<In<S[K]>, Out<S[K]>>
        : grpc.handleBidiStreamingCall<In<S[K]>, Out<S[K]>>;
};

/** Client calls for a generated service, typed per method kind; unary calls return promises. */
export type GrpcClient<S extends GenServiceMethods> = {
  [K in keyof S]: S[K]['methodKind'] extends 'unary'
    ? (req: MessageInitShape<S[K]['input']>, metadata?: grpc.Metadata, options?: grpc.CallOptions) => Promise<Out<S[K]>>
    : S[K]['methodKind'] extends 'server_streaming'
      ? (req: MessageInitShape<S[K]['input']>, metadata?: grpc.Metadata, options?: grpc.CallOptions) => grpc.ClientReadableStream<Out<S[K]>>
      : S[K]['methodKind'] extends 'client_streaming'
        ? (metadata?: grpc.Metadata, options?: grpc.CallOptions) => { stream: grpc.ClientWritableStream<In<S[K]>>; response: Promise<Out<S[K]>> }
        : (metadata?: grpc.Metadata, options?: grpc.CallOptions) => grpc.ClientDuplexStream<In<S[K]>, Out<S[K]>>;
} & {
  /** The underlying channel owner: `close()` it when done. */
  readonly $client: grpc.Client;
};

/** The client type for a generated service constant, e.g. `ClientOf<typeof AggregatedDiscoveryService>`. */
export type ClientOf<D> = D extends GenService<infer S> ? GrpcClient<S> : never;

function serializer(schema: DescMessage): (value: MessageShape<DescMessage>) => Buffer {
  return (value) => {
    const bytes = toBinary(schema, value);
    // Share the memory: grpc-js only needs a Buffer view.
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializer(schema: DescMessage): (buf: Buffer) => MessageShape<DescMessage> {
  return (buf) => fromBinary(schema, buf);
}

/** The grpc-js definition of a generated service, for `server.addService` or a generic client. */
export function makeGrpcService<S extends GenServiceMethods>(desc: GenService<S>): GrpcServiceDefinition<S> {
  const def: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const m of desc.methods) {
    def[m.localName] = {
      path: `/${desc.typeName}/${m.name}`,
      requestStream: m.methodKind === 'client_streaming' || m.methodKind === 'bidi_streaming',
      responseStream: m.methodKind === 'server_streaming' || m.methodKind === 'bidi_streaming',
      requestSerialize: serializer(m.input) as (v: unknown) => Buffer,
      requestDeserialize: deserializer(m.input),
      responseSerialize: serializer(m.output) as (v: unknown) => Buffer,
      responseDeserialize: deserializer(m.output),
      originalName: m.name,
    };
  }
  return def as GrpcServiceDefinition<S>;
}

/** Adds a generated service with its handlers to a grpc-js server. */
export function addGrpcService<S extends GenServiceMethods>(server: grpc.Server, desc: GenService<S>, impl: GrpcServiceImpl<S>): void {
  server.addService(makeGrpcService(desc) as grpc.ServiceDefinition, impl as grpc.UntypedServiceImplementation);
}

/** A typed client for a generated service over a new grpc-js channel. */
export function createGrpcClient<S extends GenServiceMethods>(
  desc: GenService<S>,
  address: string,
  credentials: grpc.ChannelCredentials,
  options?: grpc.ClientOptions,
): GrpcClient<S> {
  const client = new grpc.Client(address, credentials, options);
  const out: Record<string, unknown> = { $client: client };
  for (const m of desc.methods) {
    const path = `/${desc.typeName}/${m.name}`;
    const ser = serializer(m.input);
    const de = deserializer(m.output);
    const md = (x?: grpc.Metadata): grpc.Metadata => x ?? new grpc.Metadata();
    switch (m.methodKind) {
      case 'unary':
        out[m.localName] = (req: MessageInitShape<DescMessage>, metadata?: grpc.Metadata, opts?: grpc.CallOptions) =>
          new Promise((resolve, reject) => {
            client.makeUnaryRequest(path, ser, de, create(m.input, req), md(metadata), opts ?? {}, (err, res) =>
              err ? reject(err) : resolve(res),
            );
          });
        break;
      case 'server_streaming':
        out[m.localName] = (req: MessageInitShape<DescMessage>, metadata?: grpc.Metadata, opts?: grpc.CallOptions) =>
          client.makeServerStreamRequest(path, ser, de, create(m.input, req), md(metadata), opts ?? {});
        break;
      case 'client_streaming':
        out[m.localName] = (metadata?: grpc.Metadata, opts?: grpc.CallOptions) => {
          let stream!: grpc.ClientWritableStream<MessageShape<DescMessage>>;
          const response = new Promise((resolve, reject) => {
            stream = client.makeClientStreamRequest(path, ser, de, md(metadata), opts ?? {}, (err, res) =>
              err ? reject(err) : resolve(res),
            );
          });
          return { stream, response };
        };
        break;
      case 'bidi_streaming':
        out[m.localName] = (metadata?: grpc.Metadata, opts?: grpc.CallOptions) =>
          client.makeBidiStreamRequest(path, ser, de, md(metadata), opts ?? {});
        break;
    }
  }
  return out as GrpcClient<S>;
}
