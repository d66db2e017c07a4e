// A real xDS server on loopback for tests of xDS clients (ztunnel, waypoint): insecure gRPC,
// port 0 unless asked otherwise. Production servers add TLS in control/.
import * as grpc from '@grpc/grpc-js';
import { XdsServer, type XdsServerOptions } from './server.js';
import { XDS_MAX_MESSAGE_BYTES } from './types.js';

export interface TestXdsServer {
  address: string;
  port: number;
  xds: XdsServer;
  grpcServer: grpc.Server;
  close(): Promise<void>;
}

export async function startTestXdsServer(opts: XdsServerOptions, port = 0): Promise<TestXdsServer> {
  const grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': XDS_MAX_MESSAGE_BYTES });
  const xds = new XdsServer(opts);
  xds.register(grpcServer);
  const bound = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return {
    address: `127.0.0.1:${bound}`,
    port: bound,
    xds,
    grpcServer,
    close: async () => {
      xds.close();
      grpcServer.forceShutdown();
    },
  };
}
