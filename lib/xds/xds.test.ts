// Delta ADS server and client over real gRPC on loopback.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { pino } from 'pino';
import { create, toBinary } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { AddressSchema, type Address } from '../proto/gen/istio/workload/workload_pb.js';
import { AuthorizationSchema } from '../proto/gen/istio/security/authorization_pb.js';
import {
  AggregatedDiscoveryService,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
} from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { createGrpcClient } from '../proto/grpc.js';
import { messageDecoder, ResourceCache, type DeltaHandler } from './cache.js';
import { XdsClient, type XdsTypeConfig } from './client.js';
import type { AckInfo, NackInfo, PushInfo, XdsServerEvents, XdsServerOptions } from './server.js';
import { ManualClock } from '../sys/clock.js';
import { MemorySource } from './source.js';
import { startTestXdsServer, type TestXdsServer } from './testkit.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from './types.js';

const workload = (uid: string, octet = 1): Uint8Array =>
  toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid, name: uid, addresses: [Uint8Array.of(10, 244, 1, octet % 256)] } } }));
const uidOf = (a: Address | undefined): string | undefined => (a?.type.case === 'workload' ? a.type.value.uid : undefined);

async function waitFor(cond: () => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Recorder {
  events: XdsServerEvents;
  pushes: PushInfo[];
  acks: AckInfo[];
  nacks: NackInfo[];
  /** 'push' / 'ack' / 'nack' per type, in order, for flow-control checks. */
  order: string[];
}

function recorder(typeUrl = TYPE_ADDRESS): Recorder {
  const r: Recorder = { pushes: [], acks: [], nacks: [], order: [], events: {} };
  r.events = {
    pushed: (_s, p) => { if (p.typeUrl === typeUrl) { r.pushes.push(p); r.order.push('push'); } },
    acked: (_s, a) => { if (a.typeUrl === typeUrl) { r.acks.push(a); r.order.push('ack'); } },
    nacked: (_s, n) => { if (n.typeUrl === typeUrl) { r.nacks.push(n); r.order.push('nack'); } },
  };
  return r;
}

/** What the helpers need of a test: a place to register cleanup. */
interface Scope {
  teardown(fn: () => unknown): void;
}

async function server(tt: Scope, opts: XdsServerOptions, port = 0): Promise<TestXdsServer> {
  const s = await startTestXdsServer(opts, port);
  tt.teardown(() => s.close());
  return s;
}

function client(tt: Scope, address: string, types: XdsTypeConfig[], nodeId = 'test'): XdsClient {
  const c = new XdsClient({
    address, credentials: grpc.credentials.createInsecure(), node: { id: nodeId }, types,
    backoff: { initialMs: 20, maxMs: 200 },
  });
  tt.teardown(() => c.close());
  c.start();
  return c;
}

const addressCache = (): ResourceCache<Address> => new ResourceCache(messageDecoder(AddressSchema));

t.test('subscribe, update, remove', async (t) => {
  const addresses = new MemorySource();
  const authz = new MemorySource();
  for (const n of ['a', 'b', 'c']) addresses.set(n, { resource: workload(n) });
  const rec = recorder();
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses, [TYPE_AUTHORIZATION]: authz }, debounce: { quietMs: 10, maxMs: 100 }, events: rec.events });
  const cache = addressCache();
  const policies = new ResourceCache(messageDecoder(AuthorizationSchema));
  const c = client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }, { typeUrl: TYPE_AUTHORIZATION, handler: policies.handler }]);
  await c.synced;
  t.equal(c.state, 'connected');
  t.same([...cache.entries()].map(([n]) => n).sort(), ['a', 'b', 'c'], 'all resources received');
  t.equal(policies.size, 0, 'an empty type still syncs');
  t.equal(s.xds.connectedClients, 1);
  t.equal(s.xds.streams()[0]?.nodeId, 'test');

  addresses.set('b', { resource: workload('b', 99) });
  await waitFor(() => rec.acks.length === 2, 'the update to be ACKed');
  t.same(rec.pushes.map((p) => [p.upserted, p.removed]), [[['a', 'b', 'c'], []], [['b'], []]], 'the update is one delta with only b');
  t.equal(cache.version('b'), addresses.snapshot().get('b')?.version);
  t.ok((rec.pushes[1]?.sinceChangeMs ?? -1) >= 0, 'push latency is reported');

  addresses.delete('a');
  await waitFor(() => !cache.has('a'), 'a to be removed');
  t.same(rec.pushes[2]?.removed, ['a']);
  t.same(rec.pushes[2]?.upserted, []);
  t.same([...c.versions(TYPE_ADDRESS).keys()].sort(), ['b', 'c']);

  authz.set('ns/p', { resource: anyPack(AuthorizationSchema, create(AuthorizationSchema, { name: 'p', namespace: 'ns' })) });
  await waitFor(() => policies.has('ns/p'), 'the policy');
  t.equal(policies.get('ns/p')?.name, 'p');
});

t.test('a NACK keeps the last good state and is logged by the server', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  const addresses = new MemorySource();
  addresses.set('a', { resource: workload('a') });
  addresses.set('b', { resource: workload('b') });
  const rec = recorder();
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, debounce: { quietMs: 5, maxMs: 50 }, events: rec.events, logger });
  const cache = addressCache();
  const nacks: string[] = [];
  const c = client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }]);
  c.on('nack', (_type, _nonce, message) => nacks.push(message));
  await c.synced;
  const goodVersion = cache.version('a');

  // One good change and one undecodable resource in the same response: all of it is rejected.
  addresses.update([['a', { resource: Uint8Array.of(0xff, 0xff) }], ['b', { resource: workload('b', 7) }]]);
  await waitFor(() => rec.nacks.length === 1, 'the NACK');
  t.equal(cache.version('a'), goodVersion, 'a keeps its last good version');
  t.equal(uidOf(cache.get('a')), 'a');
  t.not(cache.version('b'), addresses.snapshot().get('b')?.version, 'b from the rejected response is not applied either');
  t.match(nacks[0], /resource "a" is not a valid istio.workload.Address/);
  const logged = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.msg === 'xDS client rejected a response (NACK)');
  t.ok(logged, 'the server logged the NACK');
  t.equal(logged?.typeUrl, TYPE_ADDRESS);
  t.equal(logged?.nonce, rec.nacks[0]?.nonce);
  t.same(logged?.resources, ['a', 'b']);
  t.match(String(logged?.error), /resource "a"/);
  t.same(c.versions(TYPE_ADDRESS).get('a'), goodVersion, 'the client would reconnect with its good versions');

  addresses.set('a', { resource: workload('a', 3) });
  await waitFor(() => rec.acks.length === 2, 'the fixed version to be ACKed');
  t.equal(cache.version('a'), addresses.snapshot().get('a')?.version, 'the good version is applied');
  t.same(rec.pushes.at(-1)?.upserted, ['a'], 'only the changed resource is sent after a NACK');
});

t.test('reconnect sends initial_resource_versions and gets only the difference', async (t) => {
  const addresses = new MemorySource();
  for (const n of ['a', 'b', 'c']) addresses.set(n, { resource: workload(n) });
  const s1 = await startTestXdsServer({ sources: { [TYPE_ADDRESS]: addresses } });
  const cache = addressCache();
  const states: string[] = [];
  const c = client(t, s1.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }]);
  c.on('state', (st) => states.push(st));
  await c.synced;
  await s1.close();
  await waitFor(() => c.state === 'backoff' || c.state === 'connecting', 'the client to notice');

  // The world changes while the client is away.
  addresses.set('b', { resource: workload('b', 42) });
  addresses.delete('c');
  addresses.set('d', { resource: workload('d') });
  const rec = recorder();
  const s2 = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, events: rec.events }, s1.port);
  await waitFor(() => rec.acks.length === 1, 'the reconnect response to be ACKed');
  t.same(rec.pushes[0]?.upserted.slice().sort(), ['b', 'd'], 'only changed and new resources are sent');
  t.same(rec.pushes[0]?.removed, ['c'], 'c, which the server no longer has, is removed');
  t.same([...cache.entries()].map(([n]) => n).sort(), ['a', 'b', 'd']);
  t.equal(cache.version('b'), addresses.snapshot().get('b')?.version);
  t.ok(states.includes('backoff') && states.at(-1) === 'connected', `states: ${states.join(' → ')}`);
  t.equal(s2.xds.connectedClients, 1);
});

t.test('a lost stream is retried after exactly the back-off, on the client clock', async (t) => {
  const addresses = new MemorySource();
  addresses.set('a', { resource: workload('a') });
  const s1 = await startTestXdsServer({ sources: { [TYPE_ADDRESS]: addresses } });
  const clock = new ManualClock();
  const cache = addressCache();
  const c = new XdsClient({
    address: s1.address, credentials: grpc.credentials.createInsecure(), node: { id: 'clocked' }, clock,
    types: [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }],
    backoff: { initialMs: 1000, maxMs: 8000, multiplier: 2, jitter: 0 },
  });
  t.teardown(() => c.close());
  c.start();
  await c.synced;
  const states: string[] = [];
  c.on('state', (st) => states.push(st));
  await s1.close();
  await waitFor(() => c.state === 'backoff', 'the client to notice');
  t.equal(clock.pending, 1, 'one retry armed');
  t.equal(clock.nextAt, 1000, 'the stream had answered, so the first back-off step: initialMs');
  const rec = recorder();
  await server(t, { sources: { [TYPE_ADDRESS]: addresses }, events: rec.events }, s1.port);
  clock.advance(999);
  t.same(states, ['backoff'], 'no attempt before the back-off ran out, though the server is back');
  clock.advance(1);
  await waitFor(() => rec.acks.length === 1, 'the reconnect to be ACKed');
  t.same(states, ['backoff', 'connecting', 'connected'], `states: ${states.join(' → ')}`);
  t.equal(clock.pending, 0);
});

t.test('debounce coalesces 100 rapid changes; one response in flight per type', async (t) => {
  const addresses = new MemorySource();
  for (let i = 0; i < 100; i++) addresses.set(`w${i}`, { resource: workload(`w${i}`, i) });
  const rec = recorder();
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, debounce: { quietMs: 100, maxMs: 1000 }, events: rec.events });
  const cache = addressCache();
  const c = client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }]);
  await c.synced;
  for (let i = 0; i < 100; i++) {
    addresses.set(`w${i}`, { resource: workload(`w${i}`, i + 100) });
    if (i % 10 === 0) await new Promise((r) => setImmediate(r));
  }
  const expected = (): boolean => [...addresses.snapshot()].every(([n, r]) => cache.version(n) === r.version);
  await waitFor(expected, 'all 100 changes to arrive');
  await waitFor(() => rec.acks.length === rec.pushes.length, 'the last ACK');
  const pushes = rec.pushes.length - 1;
  t.ok(pushes >= 1 && pushes <= 3, `100 changes arrived in ${pushes} push(es)`);

  // A slow client: changes keep coming while a response is un-ACKed.
  const slow = addressCache();
  const slowHandler: DeltaHandler = async (u, r) => {
    await new Promise((res) => setTimeout(res, 60));
    slow.apply(u, r);
  };
  const rec2 = recorder();
  const s2 = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, debounce: { quietMs: 0, maxMs: 0 }, events: rec2.events });
  const c2 = client(t, s2.address, [{ typeUrl: TYPE_ADDRESS, handler: slowHandler }]);
  await c2.synced;
  for (let i = 0; i < 10; i++) {
    addresses.set(`w${i}`, { resource: workload(`w${i}`, i + 200) });
    await new Promise((r) => setTimeout(r, 15));
  }
  await waitFor(() => [...addresses.snapshot()].every(([n, r]) => slow.version(n) === r.version), 'the slow client to catch up');
  await waitFor(() => rec2.order.at(-1) === 'ack', 'the last ACK');
  t.notOk(rec2.order.join(',').includes('push,push'), `never two un-ACKed pushes: ${rec2.order.join(',')}`);
  t.ok(rec2.pushes.length - 1 < 10, `10 changes during slow ACKs coalesced into ${rec2.pushes.length - 1} pushes`);
});

t.test('three clients at once, and explicit subscriptions', async (t) => {
  const addresses = new MemorySource();
  for (const n of ['a', 'b', 'c']) addresses.set(n, { resource: workload(n) });
  const rec = recorder();
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, debounce: { quietMs: 5, maxMs: 50 }, events: rec.events });
  const caches = [addressCache(), addressCache(), addressCache()];
  const clients = caches.map((cache, i) => client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }], `node-${i}`));
  await Promise.all(clients.map((c) => c.synced));
  t.equal(s.xds.connectedClients, 3);
  t.same(s.xds.streams().map((x) => x.nodeId).sort(), ['node-0', 'node-1', 'node-2']);
  addresses.set('e', { resource: workload('e') });
  await waitFor(() => caches.every((c) => c.has('e')), 'every client to get e');
  t.ok(caches.every((c) => c.size === 4));

  const onDemand = addressCache();
  const od = client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: onDemand.handler, names: ['b'] }], 'on-demand');
  await od.synced;
  t.same([...onDemand.entries()].map(([n]) => n), ['b'], 'only the subscribed name');
  od.subscribe(TYPE_ADDRESS, ['a', 'missing']);
  await waitFor(() => onDemand.has('a'), 'the on-demand subscription');
  t.ok(rec.pushes.some((p) => p.upserted.join() === 'a' && p.removed.join() === 'missing'), 'a missing name is answered with a removal');
  addresses.set('c', { resource: workload('c', 9) });
  await waitFor(() => caches[0]?.version('c') === addresses.snapshot().get('c')?.version, 'c to reach the wildcard clients');
  t.notOk(onDemand.has('c'), 'no resources beyond the subscription');

  for (const c of clients) c.close();
  await waitFor(() => s.xds.connectedClients === 1, 'the server to see three clients leave');
});

t.test('10,000 small resources to one client', async (t) => {
  const addresses = new MemorySource();
  addresses.update(Array.from({ length: 10_000 }, (_, i) => [`Kubernetes//Pod/ns/pod-${i}`, { resource: workload(`Kubernetes//Pod/ns/pod-${i}`, i) }] as const));
  const rec = recorder();
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, events: rec.events });
  const cache = addressCache();
  const start = performance.now();
  const c = client(t, s.address, [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }]);
  await c.synced;
  const initialMs = performance.now() - start;
  t.equal(cache.size, 10_000);
  const changed = Array.from({ length: 10_000 }, (_, i) => [`Kubernetes//Pod/ns/pod-${i}`, { resource: workload(`Kubernetes//Pod/ns/pod-${i}`, i + 1) }] as const);
  const changeStart = performance.now();
  addresses.update(changed);
  await waitFor(() => rec.acks.length === 2, 'the full update');
  const updateMs = performance.now() - changeStart;
  t.comment(`10,000 resources: initial push ${initialMs.toFixed(0)} ms (connect to synced); full update ${updateMs.toFixed(0)} ms (change to ACK, incl. 100 ms debounce)`);
  t.ok(initialMs < 30_000);
});

t.test('bad requests from a raw client', async (t) => {
  const lines: string[] = [];
  const logger = pino({ level: 'warn' }, { write: (l: string) => void lines.push(l) });
  const addresses = new MemorySource();
  addresses.set('a', { resource: workload('a') });
  const s = await server(t, { sources: { [TYPE_ADDRESS]: addresses }, logger });
  const raw = createGrpcClient(AggregatedDiscoveryService, s.address, grpc.credentials.createInsecure());
  t.teardown(() => raw.$client.close());

  const call = raw.deltaAggregatedResources();
  const responses: string[] = [];
  call.on('data', (r: DeltaDiscoveryResponse) => responses.push(r.typeUrl));
  call.on('error', () => undefined);
  call.write(create(DeltaDiscoveryRequestSchema, { node: { id: 'raw' }, typeUrl: 'type.googleapis.com/unknown.Type' }));
  call.write(create(DeltaDiscoveryRequestSchema, { typeUrl: TYPE_ADDRESS }));
  await waitFor(() => responses.length === 1, 'the Address response');
  t.same(responses, [TYPE_ADDRESS], 'an unknown type gets no response');
  t.ok(lines.some((l) => l.includes('type this server does not serve') && l.includes('unknown.Type')), 'and a warning');
  call.end();

  const bad = raw.deltaAggregatedResources();
  const status = new Promise<grpc.ServiceError>((resolve) => bad.on('error', resolve));
  bad.on('data', () => undefined);
  bad.write(create(DeltaDiscoveryRequestSchema, {}));
  const err = await status;
  t.equal(err.code, grpc.status.INVALID_ARGUMENT);
  t.match(err.details, /type_url is empty/);
});
