import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { create } from '@bufbuild/protobuf';
import { EchoResponseSchema, EchoTestService } from './gen/ambit/echo/echo_pb.js';
import { addGrpcService, createGrpcClient, makeGrpcService } from './grpc.js';

t.test('makeGrpcService describes paths and streaming', async (t) => {
  const def = makeGrpcService(EchoTestService);
  t.equal(def.echo.path, '/ambit.echo.EchoTestService/Echo');
  t.equal(def.echo.requestStream, false);
  t.equal(def.echo.responseStream, false);
});

t.test('unary call through a typed client and server', async (t) => {
  const server = new grpc.Server();
  addGrpcService(server, EchoTestService, {
    echo: (call, cb) => {
      if (call.request.message === 'fail') {
        cb({ code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
        return;
      }
      cb(null, create(EchoResponseSchema, { message: `Echo=${call.request.message}` }));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  t.teardown(() => server.forceShutdown());
  const client = createGrpcClient(EchoTestService, `127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => client.$client.close());
  const res = await client.echo({ message: 'hi' });
  t.equal(res.message, 'Echo=hi');
  t.equal(res.$typeName, 'ambit.echo.EchoResponse');
  await t.rejects(client.echo({ message: 'fail' }), { code: grpc.status.FAILED_PRECONDITION, details: 'asked to fail' });
});
