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
  const gate = new AdsGate({ authenticator: auth, admission: { isWaypointAccount: () => false }, logger: silentLogger(), maxConcurrentSyncs: 1, onRefused: (r) => refused.push(r) });
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
      address: `127.0.0.1:${port}`, credentials: grpc.credentials.createInsecure(), node: { id: `ztunnel~10.0.0.1~${id}.istio-system~istio-system.svc.cluster.local`, metadata: { NODE_NAME: id === 'other-node' ? 'n2' : 'n1' } },
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

t.test('admission: a stream whose node differs from its credential is refused with PERMISSION_DENIED', async (t) => {
  const source = new MemorySource();
  source.set('w0', { resource: toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid: 'w0' } } })) });
  const refused: string[] = [];
  const gate = new AdsGate({ authenticator: auth, admission: { isWaypointAccount: () => false }, logger: silentLogger(), onRefused: (r) => refused.push(r) });
  const xds = new XdsServer({ sources: { [TYPE_ADDRESS]: source }, events: gate.events });
  const server = new grpc.Server();
  gate.register(server, xds);
  const port = await new Promise<number>((res, rej) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))));
  t.teardown(() => {
    gate.close();
    xds.close();
    server.forceShutdown();
  });
  let received = 0;
  const c = new XdsClient({
    address: `127.0.0.1:${port}`, credentials: grpc.credentials.createInsecure(),
    node: { id: 'ztunnel~10.0.0.2~ztunnel-x.istio-system~istio-system.svc.cluster.local', metadata: { NODE_NAME: 'n2' } },
    metadata: () => { const md = new grpc.Metadata(); md.set('authorization', 'Bearer good'); return md; },
    types: [{ typeUrl: TYPE_ADDRESS, handler: (up) => void (received += up.length) }], backoff: { initialMs: 50, maxMs: 200 },
  });
  t.teardown(() => c.close());
  c.start();
  const detail = await new Promise<string>((res) => c.on('state', (s, d) => s === 'backoff' && res(d ?? '')));
  t.match(detail, /PERMISSION_DENIED: node\/n1 may not subscribe: .*claims node "n2".*credential is for node "n1"/);
  t.equal(received, 0, 'nothing was served');
  t.equal(refused[0], 'NODE_NOT_ALLOWED');
});
