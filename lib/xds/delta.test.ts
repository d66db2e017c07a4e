import t from 'tap';
import { create, equals, fromBinary, toBinary } from '@bufbuild/protobuf';
import { AddressSchema } from '../proto/gen/istio/workload/workload_pb.js';
import { DeltaDiscoveryResponseSchema, ResourceSchema } from '../proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { backoffDelay, DEFAULT_BACKOFF, scheduleRetry } from './backoff.js';
import { ManualClock } from '../sys/clock.js';
import { messageDecoder, ResourceCache } from './cache.js';
import { Debouncer, mergeChanges, type ChangeSet } from './debounce.js';
import { encodeDeltaResponse, resourceChunk } from './encode.js';
import { changeSubscription, commitDelta, computeDelta, openSubscription } from './delta.js';
import { MemorySource } from './source.js';
import type { VersionedResource } from './types.js';

const res = (version: string): VersionedResource => ({ version, resource: new Uint8Array() });
const snap = (o: Record<string, string>): Map<string, VersionedResource> => new Map(Object.entries(o).map(([k, v]) => [k, res(v)]));
const names = (d: ReturnType<typeof computeDelta>): { up: string[]; rm: string[] } => ({ up: d.upserts.map(([n]) => n).sort(), rm: [...d.removals].sort() });

t.test('computeDelta', async (t) => {
  const cases: Array<{
    name: string; sub: string[]; unsub?: string[]; initial?: Record<string, string>; server: Record<string, string>;
    changed?: string[]; want: { up: string[]; rm: string[] };
  }> = [
    { name: 'wildcard, new client gets everything', sub: [], server: { a: '1', b: '1' }, want: { up: ['a', 'b'], rm: [] } },
    { name: 'reconnect sends only the difference', sub: [], initial: { a: '1', b: '1', c: '1' }, server: { a: '1', b: '2', d: '1' }, want: { up: ['b', 'd'], rm: ['c'] } },
    { name: 'explicit names only', sub: ['a', 'x'], server: { a: '1', b: '1' }, want: { up: ['a'], rm: ['x'] } },
    { name: 'explicit names already held are not forced on reconnect', sub: ['a'], initial: { a: '1' }, server: { a: '1' }, want: { up: [], rm: [] } },
    { name: 'on-demand start: * subscribed and unsubscribed = nothing', sub: ['*'], unsub: ['*'], server: { a: '1' }, want: { up: [], rm: [] } },
    { name: 'wildcard plus explicit', sub: ['*', 'a'], server: { a: '1', b: '1' }, want: { up: ['a', 'b'], rm: [] } },
    { name: 'changed names only look at those names', sub: [], initial: { a: '1', b: '1' }, server: { a: '2', b: '2' }, changed: ['a'], want: { up: ['a'], rm: [] } },
  ];
  for (const c of cases) {
    const { sub, forced } = openSubscription(c.sub, c.unsub ?? [], c.initial ?? {});
    const d = computeDelta(sub, snap(c.server), c.changed ? new Set(c.changed) : 'all', forced);
    t.same(names(d), c.want, c.name);
  }
});

t.test('subscription changes', async (t) => {
  const { sub } = openSubscription(['a'], [], {});
  commitDelta(sub, computeDelta(sub, snap({ a: '1', b: '1' }), 'all', new Set(['a'])));
  t.same([...sub.sent], [['a', '1']]);
  // Re-subscribing a held name forces it out again (the client may have dropped it).
  const forced = changeSubscription(sub, ['a', 'b'], []);
  t.same(names(computeDelta(sub, snap({ a: '1', b: '1' }), new Set(), forced)), { up: ['a', 'b'], rm: [] });
  commitDelta(sub, computeDelta(sub, snap({ a: '1', b: '1' }), new Set(), forced));
  changeSubscription(sub, [], ['a']);
  t.same([...sub.sent.keys()], ['b'], 'unsubscribed names are forgotten, no removal is sent');
  t.same(names(computeDelta(sub, snap({ a: '2', b: '1' }), new Set(['a']), new Set())), { up: [], rm: [] }, 'no longer interested in a');
  changeSubscription(sub, ['*'], []);
  t.same(names(computeDelta(sub, snap({ a: '2', b: '1' }), 'all', new Set())), { up: ['a'], rm: [] }, 'wildcard brings a back');
});

t.test('backoff', async (t) => {
  const b = { ...DEFAULT_BACKOFF, initialMs: 100, maxMs: 1000, jitter: 0.2 };
  t.same([0, 1, 2, 3, 4, 10].map((a) => backoffDelay(b, a, () => 0.5)), [100, 200, 400, 800, 1000, 1000]);
  t.equal(backoffDelay(b, 0, () => 0), 80, 'jitter down');
  t.equal(backoffDelay(b, 0, () => 1), 120, 'jitter up');
  t.equal(backoffDelay(b, 10, () => 1), 1000, 'capped even with jitter');

  // The retry timer runs on the given clock: not a millisecond early, not late.
  const clock = new ManualClock(1000);
  let fired = 0;
  const { delayMs, timer } = scheduleRetry(b, 2, () => fired++, clock, () => 0.5);
  t.equal(delayMs, 400);
  t.equal(clock.nextAt, 1400, 'due one delay from now');
  clock.advance(399);
  t.equal(fired, 0, 'not before the delay');
  clock.advance(1);
  t.equal(fired, 1, 'at the delay');
  scheduleRetry(b, 0, () => fired++, clock, () => 0.5).timer.cancel();
  timer.cancel();
  clock.advance(10_000);
  t.equal(fired, 1, 'a cancelled retry never runs');
  t.equal(clock.pending, 0);
});

t.test('debounce', async (t) => {
  t.same(mergeChanges(new Set(['a']), ['b']), new Set(['a', 'b']));
  t.equal(mergeChanges(new Set(['a']), undefined), 'all');
  t.throws(() => new Debouncer({ quietMs: 10, maxMs: 5 }, () => undefined), /maxMs/);
  const clock = new ManualClock();
  const flushed: Array<[ChangeSet, number]> = [];
  const d = new Debouncer({ quietMs: 30, maxMs: 1000 }, (c, first) => flushed.push([c, first]), clock);
  for (let i = 0; i < 10; i++) {
    d.add([`n${i % 3}`]);
    clock.advance(5);
  }
  // The last change came at 45 ms: quiet until 75 ms.
  clock.advance(24);
  t.same(flushed, [], 'nothing while changes are less than quietMs apart');
  t.ok(d.pending, 'the burst is waiting');
  clock.advance(1);
  t.same(flushed, [[new Set(['n0', 'n1', 'n2']), 0]], 'one flush per burst, quietMs after its last change, with the time of its first');
  t.notOk(d.pending);
  clock.advance(10_000);
  t.equal(flushed.length, 1, 'and nothing more without changes');

  // A continuous stream of changes still flushes at maxMs: each change restarts the quiet period,
  // so without the max nothing would flush before the changes stop.
  const during: number[] = [];
  const clock2 = new ManualClock();
  const d2 = new Debouncer({ quietMs: 200, maxMs: 200 }, () => during.push(clock2.now()), clock2);
  const noMax: number[] = [];
  const d3 = new Debouncer({ quietMs: 200, maxMs: 10_000 }, () => noMax.push(clock2.now()), clock2);
  while (clock2.now() < 500) {
    d2.add(['x']);
    d3.add(['x']);
    clock2.advance(10);
  }
  d2.cancel();
  d3.cancel();
  t.same(during, [200, 400], 'max wait forces a flush every maxMs under constant change');
  t.same(noMax, [], 'while the quiet period alone never ends');
  clock2.advance(10_000);
  t.same(during, [200, 400], 'cancel drops what was pending');
});

t.test('ResourceCache is all or nothing', async (t) => {
  const good = (name: string, uid: string, version: string) => create(ResourceSchema, {
    name, version, resource: { typeUrl: 'type.googleapis.com/istio.workload.Address', value: toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid } } })) },
  });
  const bad = (name: string) => create(ResourceSchema, { name, version: 'x', resource: { typeUrl: 'type.googleapis.com/istio.workload.Address', value: Uint8Array.of(0xff) } });
  const cache = new ResourceCache(messageDecoder(AddressSchema), {
    validate: (next) => {
      if (next.has('forbidden')) throw new Error('forbidden is not allowed');
    },
  });
  cache.apply([good('a', 'a', '1'), good('b', 'b', '1')], []);
  t.equal(cache.size, 2);
  t.throws(() => cache.apply([good('a', 'a2', '2'), bad('c')], ['b']), /resource "c" is not a valid istio.workload.Address/);
  t.equal(cache.version('a'), '1', 'a keeps its last good version');
  t.ok(cache.has('b'), 'the removal in the rejected response did not happen');
  t.throws(() => cache.apply([good('forbidden', 'f', '1')], []), /forbidden/);
  t.notOk(cache.has('forbidden'));
  const wrongType = create(ResourceSchema, { name: 'w', version: '1', resource: { typeUrl: 'type.googleapis.com/other', value: new Uint8Array() } });
  t.throws(() => cache.apply([wrongType], []), /resource "w" is a type.googleapis.com\/other, expected/);
  cache.apply([good('a', 'a2', '2')], ['b']);
  const a = cache.get('a');
  t.equal(a?.type.case === 'workload' ? a.type.value.uid : undefined, 'a2');
  t.notOk(cache.has('b'));
});

t.test('MemorySource', async (t) => {
  const s = new MemorySource();
  const seen: Array<readonly string[] | undefined> = [];
  s.onChange((n) => seen.push(n));
  s.set('a', { resource: Uint8Array.of(1) });
  s.set('a', { resource: Uint8Array.of(1) });
  t.equal(seen.length, 1, 'same content, same version, no change');
  s.replaceAll([['b', { resource: Uint8Array.of(2) }]]);
  t.same(seen[1], ['b', 'a']);
  t.same([...s.snapshot().keys()], ['b']);
  t.throws(() => s.set('', { resource: Uint8Array.of(1) }), /name must not be empty/);
});

t.test('pre-encoded responses decode like generated ones', async (t) => {
  const typeUrl = 'type.googleapis.com/istio.workload.Address';
  const body = toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid: 'a' } } }));
  const r1: VersionedResource = { version: 'v1', resource: body, aliases: ['net/10.0.0.1'] };
  const r2: VersionedResource = { version: 'v2', resource: { $typeName: 'google.protobuf.Any', typeUrl, value: body } };
  const chunk = resourceChunk(typeUrl, 'a', r1);
  t.equal(resourceChunk(typeUrl, 'a', r1), chunk, 'chunks are cached per resource version');
  const wire = encodeDeltaResponse(
    { typeUrl, nonce: '1.1', systemVersionInfo: '3', removedResources: ['gone'], controlPlaneId: 'cp-0' },
    [chunk, resourceChunk(typeUrl, 'b', r2)],
  );
  const want = create(DeltaDiscoveryResponseSchema, {
    typeUrl, nonce: '1.1', systemVersionInfo: '3', removedResources: ['gone'], controlPlane: { identifier: 'cp-0' },
    resources: [
      { name: 'a', version: 'v1', aliases: ['net/10.0.0.1'], resource: { typeUrl, value: body } },
      { name: 'b', version: 'v2', resource: { typeUrl, value: body } },
    ],
  });
  t.ok(equals(DeltaDiscoveryResponseSchema, fromBinary(DeltaDiscoveryResponseSchema, wire), want));
});
