// The shared full-snapshot push: streams that start from nothing get the whole type encoded once
// per generation, and a snapshot that lags the source is corrected by the pending push.
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { create, toBinary } from '@bufbuild/protobuf';
import { AddressSchema, type Address } from '../proto/gen/istio/workload/workload_pb.js';
import { messageDecoder, ResourceCache } from './cache.js';
import { XdsClient } from './client.js';
import type { PushInfo } from './server.js';
import { MemorySource } from './source.js';
import { startTestXdsServer } from './testkit.js';
import { TYPE_ADDRESS } from './types.js';

const workload = (uid: string, octet: number): Uint8Array =>
  toBinary(AddressSchema, create(AddressSchema, { type: { case: 'workload', value: { uid, name: uid, addresses: [Uint8Array.of(10, 0, 0, octet)] } } }));

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

t.test('fresh streams share one encoding; a lagging one catches up with the pending push', async (t) => {
  const source = new MemorySource();
  for (let i = 0; i < 50; i++) source.set(`w${i}`, { resource: workload(`w${i}`, i) });
  const pushes: PushInfo[] = [];
  // A long quiet period keeps a change pending while the second client connects.
  const s = await startTestXdsServer({ sources: { [TYPE_ADDRESS]: source }, debounce: { quietMs: 400, maxMs: 400 }, events: { pushed: (_s, p) => pushes.push(p) } });
  t.teardown(() => s.close());
  const connect = (id: string): ResourceCache<Address> => {
    const cache = new ResourceCache(messageDecoder(AddressSchema));
    const c = new XdsClient({ address: s.address, credentials: grpc.credentials.createInsecure(), node: { id }, types: [{ typeUrl: TYPE_ADDRESS, handler: cache.handler }] });
    t.teardown(() => c.close());
    c.start();
    return cache;
  };
  const a = connect('a');
  await waitFor(() => a.size === 50, 'a to sync');
  source.set('w7', { resource: workload('w7', 200) });
  const b = connect('b');
  await waitFor(() => b.size === 50, 'b to sync');
  const initial = pushes.filter((p) => p.initial);
  t.equal(initial.length, 2);
  t.same(initial[0]!.upserted, initial[1]!.upserted, 'the same full snapshot');
  const want = source.snapshot().get('w7')!.version;
  await waitFor(() => a.version('w7') === want && b.version('w7') === want, 'both clients to have the new w7');
  const later = pushes.filter((p) => !p.initial);
  t.ok(later.length >= 1 && later.length <= 2, `${later.length} later push(es): a's, and b's if it connected before the flush`);
  t.ok(later.every((p) => p.upserted.join() === 'w7' && p.removed.length === 0), 'only w7 follows');
});
