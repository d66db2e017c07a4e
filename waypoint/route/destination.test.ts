import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { DestinationSchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { pickDestination } from './destination.js';

const d = (hostname: string, weight: number) => create(DestinationSchema, { hostname, weight });

t.test('weighted pick follows the weights exactly for evenly spread random numbers', async (t) => {
  const dests = [d('a', 90), d('b', 10)];
  const counts: Record<string, number> = { a: 0, b: 0 };
  for (let i = 0; i < 1000; i++) counts[pickDestination(dests, () => (i + 0.5) / 1000)!.hostname]!++;
  t.same(counts, { a: 900, b: 100 });
});

t.test('edges', async (t) => {
  t.equal(pickDestination([], () => 0.5), undefined);
  t.equal(pickDestination([d('a', 0), d('b', 5)], () => 0)?.hostname, 'b', 'a zero weight is never picked');
  t.equal(pickDestination([d('a', 1), d('b', 1)], () => 0.999999)?.hostname, 'b');
  t.equal(pickDestination([d('a', 0), d('b', 0)], () => 0.75)?.hostname, 'b', 'all zero: equal shares');
});
