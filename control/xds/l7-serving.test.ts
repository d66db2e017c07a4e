// The waypoint's resources go from the store through the model to a real xDS client that
// subscribes to the L7 type URLs, and follow changes.
import * as grpc from '@grpc/grpc-js';
import t from 'tap';
import { pino } from 'pino';
import { RouteConfigSchema, type RouteConfig } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import type { KubeObject } from '../../lib/store/types.js';
import { messageDecoder, ResourceCache } from '../../lib/xds/cache.js';
import { XdsClient } from '../../lib/xds/client.js';
import { startTestXdsServer } from '../../lib/xds/testkit.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION, TYPE_ROUTE_CONFIG } from '../../lib/xds/types.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import type { ModelKind } from '../model/incremental.js';
import { gw, ns, svc } from '../model/testkit.js';
import { Informer } from './informer.js';
import { MODEL_KINDS, ModelSync } from './model-sync.js';

const until = async (cond: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
};

t.test('a waypoint subscribed to RouteConfig receives it and its updates', async (t) => {
  const store = new MemoryStore();
  store.load([
    ns('app', { 'istio.io/use-waypoint': 'waypoint' }),
    gw('app', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.app.svc.cluster.local' }] }),
    svc('app', 'web'),
  ]);
  const log = pino({ level: 'silent' });
  const informers = new Map<ModelKind, Informer>(Object.entries(MODEL_KINDS).map(([k, kind]) => [k as ModelKind, new Informer(store, kind, log)]));
  for (const i of informers.values()) i.start();
  await Promise.all([...informers.values()].map((i) => i.synced));
  const sync = new ModelSync({ informers, debounce: { quietMs: 5, maxMs: 20 }, logger: log });
  sync.initialize();
  const server = await startTestXdsServer({ sources: { [TYPE_ADDRESS]: sync.addresses, [TYPE_AUTHORIZATION]: sync.authorizations, ...sync.l7Sources() }, debounce: { quietMs: 1, maxMs: 5 } });
  const cache = new ResourceCache<RouteConfig>(messageDecoder(RouteConfigSchema));
  const client = new XdsClient({ address: server.address, credentials: grpc.credentials.createInsecure(), node: { id: 'waypoint~app' }, types: [{ typeUrl: TYPE_ROUTE_CONFIG, handler: cache.handler }], backoff: { initialMs: 20, maxMs: 200 } });
  t.teardown(async () => {
    client.close();
    await server.close();
    sync.close();
    for (const i of informers.values()) i.close();
  });
  client.start();
  await client.synced;
  const name = 'app/web.app.svc.cluster.local';
  t.same([...cache.entries()].map(([n]) => n), [name]);
  t.equal(cache.get(name)?.routes[0]?.name, 'default');

  const route: KubeObject = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'r', namespace: 'app' },
    spec: { parentRefs: [{ group: '', kind: 'Service', name: 'web' }], rules: [{ matches: [{ path: { type: 'Exact', value: '/x' } }], backendRefs: [{ name: 'web', port: 80 }] }] } };
  await store.apply(route);
  await until(() => cache.get(name)?.routes[0]?.name === 'HTTPRoute app/r rules[0]');
  t.same(cache.get(name)?.sources, ['HTTPRoute app/r']);
  t.match(cache.get(name)?.routes[0]?.matches[0]?.path?.kind, { case: 'exact', value: '/x' });
});
