import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { XdsClient } from '../../lib/xds/client.js';
import { XdsServer } from '../../lib/xds/server.js';
import { MemorySource } from '../../lib/xds/source.js';
import { TYPE_ADDRESS } from '../../lib/xds/types.js';
import type { Authenticator, Caller } from '../ca/authn.js';
import { CaError } from '../ca/errors.js';
import { AdsGate } from './ads.js';

const auth: Authenticator = {
  authenticate: async (credential): Promise<Caller> => {
    if (credential === 'Bearer good') return { kind: 'node', nodeName: 'n1' };
    throw new CaError('CREDENTIAL_FORGED', 'credential signature does not verify');
  },
};

t.test('admission: one initial sync at a time, everyone served; bad credentials refused', async (t) => {
  const source = new MemorySource();
  for (let i = 0; i < 20; i++) source.set(`w${i}`, { resource: toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid: `w${i}` } } })) });
  const refused: string[] = [];
  const gate = new AdsGate({ authenticator: auth, logger: silentLogger(), maxConcurrentSyncs: 1, onRefused: (r) => refused.push(r) });
  let maxSyncing = 0;
  let syncing = 0;
  const xds = new XdsServer({
    sources: { [TYPE_ADDRESS]: source },
    events: {
      ...gate.events,
      pushed: (s, p) => {
        gate.events.pushed?.(s, p);
        if (p.initial) maxSyncing = Math.max(maxSyncing, ++syncing);
      },
      acked: (s, a) => {
        syncing = Math.max(0, syncing - 1);
        gate.events.acked?.(s, a);
      },
    },
  });
  const server = new grpc.Server();
  gate.register(server, xds);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  t.teardown(() => {
    gate.close();
    xds.close();
    server.forceShutdown();
  });
  const client = (cred: string, id: string): XdsClient => {
    const c = new XdsClient({
      address: `127.0.0.1:${port}`, credentials: grpc.credentials.createInsecure(), node: { id },
      metadata: () => { const md = new grpc.Metadata(); md.set('authorization', cred); return md; },
      types: [{ typeUrl: TYPE_ADDRESS, handler: () => undefined }], backoff: { initialMs: 50, maxMs: 200 },
      channelOptions: { 'grpc.use_local_subchannel_pool': 1 },
    });
    t.teardown(() => c.close());
    c.start();
    return c;
  };
  const good = [1, 2, 3, 4].map((i) => client('Bearer good', `good-${i}`));
  await Promise.all(good.map((c) => c.synced));
  t.equal(maxSyncing, 1, 'never two initial pushes at once');
  t.same(xds.streams().map((s) => gate.callerOf(s.id)), Array(4).fill({ kind: 'node', nodeName: 'n1' }), 'the caller of each stream');
  const bad = client('Bearer forged', 'bad');
  const detail = await new Promise<string>((res) => bad.on('state', (s, d) => s === 'backoff' && res(d ?? '')));
  t.match(detail, /UNAUTHENTICATED: .*signature does not verify/);
  t.equal(refused[0], 'CREDENTIAL_FORGED');
  t.equal(gate.waitingStreams, 0);
});
