import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { FaultInjectionSchema, HeaderMutationSchema, MirrorSchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { chance, decideFault } from './fault.js';
import { mutateHeaders } from './headers.js';
import { mirrorsFor } from './mirror.js';

t.test('header mutation: set, add, remove, in order of the mutations', async (t) => {
  const h = { a: '1', b: ['x'], c: '3' };
  const out = mutateHeaders(
    h,
    create(HeaderMutationSchema, { set: { A: 'one', n: 'new' }, add: { b: 'y', d: 'z' }, remove: ['c'] }),
    undefined,
    create(HeaderMutationSchema, { set: { n: 'newer' } }),
  );
  t.same(out, { a: 'one', b: ['x', 'y'], n: 'newer', d: 'z' });
  t.same(h, { a: '1', b: ['x'], c: '3' }, 'the input is left alone');
});

t.test('percentages', async (t) => {
  t.equal(chance(0, () => 0), false);
  t.equal(chance(100, () => 0.9999), true);
  t.equal(chance(50, () => 0.49), true);
  t.equal(chance(50, () => 0.5), false);
  t.equal(chance(0.5, () => 0.004), true, 'fractions of a percent');
});

t.test('fault decisions', async (t) => {
  const f = create(FaultInjectionSchema, {
    delay: { fixedDelay: { seconds: 1n, nanos: 500_000_000 }, percentage: 100 },
    abort: { error: { case: 'httpStatus', value: 503 }, percentage: 50 },
  });
  t.same(decideFault(f, () => 0.1), { delayMs: 1500, abort: { httpStatus: 503 } });
  t.same(decideFault(f, () => 0.7), { delayMs: 1500 });
  const g = create(FaultInjectionSchema, { abort: { error: { case: 'grpcStatus', value: 14 }, percentage: 100 } });
  t.same(decideFault(g, () => 0.3), { abort: { grpcStatus: 14 } });
  t.same(decideFault(undefined, () => 0), {});
});

t.test('mirrors each with its own percentage', async (t) => {
  const ms = [create(MirrorSchema, { destination: { hostname: 'a' }, percentage: 100 }), create(MirrorSchema, { destination: { hostname: 'b' }, percentage: 10 })];
  t.same(mirrorsFor(ms, () => 0.5).map((d) => d.hostname), ['a']);
  t.same(mirrorsFor(ms, () => 0.05).map((d) => d.hostname), ['a', 'b']);
});
