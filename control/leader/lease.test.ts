import t from 'tap';
import { decideLease, leaseSpecFor, microTime, type LeaseObject } from './lease.js';

const lease = (holder: string, seconds = 10, rv = '5'): LeaseObject => ({
  apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'ns', resourceVersion: rv },
  spec: { holderIdentity: holder, leaseDurationSeconds: seconds, leaseTransitions: 2 },
});

t.test('who may take the lease, on the local clock', async (t) => {
  t.same(decideLease('a', undefined, 0, 0, 15_000), { action: 'create' });
  t.same(decideLease('a', lease('a'), 0, 99_999, 15_000), { action: 'renew' }, 'its own lease, however old');
  t.same(decideLease('a', lease(''), 1000, 1000, 15_000), { action: 'take' }, 'a released lease at once');
  t.same(decideLease('a', lease('b', 10), 1000, 5000, 15_000), { action: 'wait', holder: 'b', lapsesInMs: 6000 }, "the holder's duration, from when we saw it change");
  t.same(decideLease('a', lease('b', 10), 1000, 11_000, 15_000), { action: 'take' }, 'lapsed');
  t.same(decideLease('a', lease('b', 0), 1000, 11_000, 15_000), { action: 'wait', holder: 'b', lapsesInMs: 5000 }, 'no duration: ours');
});

t.test('the spec written', async (t) => {
  const now = new Date('2026-01-02T03:04:05.678Z');
  t.equal(microTime(now), '2026-01-02T03:04:05.678000Z');
  t.same(leaseSpecFor('a', 'renew', lease('a').spec, 1500, now), { holderIdentity: 'a', leaseDurationSeconds: 2, renewTime: '2026-01-02T03:04:05.678000Z' });
  t.match(leaseSpecFor('a', 'take', lease('b').spec, 15_000, now), { holderIdentity: 'a', leaseTransitions: 3, acquireTime: '2026-01-02T03:04:05.678000Z' });
  t.match(leaseSpecFor('a', 'create', undefined, 15_000, now), { leaseTransitions: 0, leaseDurationSeconds: 15 });
});
