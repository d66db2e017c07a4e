import t from 'tap';
import { create } from '@bufbuild/protobuf';
import { RetryPolicySchema } from '../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { backoffMs, isRetriable, type TryOutcome } from './retry.js';

const policy = (retryOn: string[], codes: number[] = []) => create(RetryPolicySchema, { attempts: 2, retryOn, retriableStatusCodes: codes });
const resp = (status: number, grpcStatus?: number): TryOutcome => ({ kind: 'response', status, ...(grpcStatus !== undefined ? { grpcStatus } : {}) });

t.test('retry_on conditions, as Envoy names them', async (t) => {
  const rows: Array<[string[], TryOutcome, boolean]> = [
    [['5xx'], resp(500), true],
    [['5xx'], resp(404), false],
    [['5xx'], { kind: 'connect-failure' }, true],
    [['5xx'], { kind: 'reset' }, true],
    [['5xx'], { kind: 'timeout' }, true],
    [['gateway-error'], resp(500), false],
    [['gateway-error'], resp(503), true],
    [['gateway-error'], { kind: 'timeout' }, true],
    [['connect-failure'], { kind: 'connect-failure' }, true],
    [['connect-failure'], { kind: 'reset' }, false],
    [['reset'], { kind: 'reset' }, true],
    [['reset'], resp(503), false],
    [['refused-stream'], { kind: 'refused-stream' }, true],
    [['retriable-4xx'], resp(409), true],
    [['retriable-4xx'], resp(400), false],
    [['retriable-status-codes'], resp(418), true],
    [['unavailable'], resp(200, 14), true],
    [['unavailable'], resp(200, 13), false],
    [['internal', 'cancelled'], resp(200, 1), true],
    [['deadline-exceeded'], resp(200, 4), true],
    [['resource-exhausted'], resp(200, 8), true],
    [[], resp(503), false],
  ];
  for (const [on, o, want] of rows) t.equal(isRetriable(policy(on, [418]), o), want, `${on.join(',')} / ${JSON.stringify(o)}`);
});

t.test('back-off: jittered, exponential, capped at 10x the base', async (t) => {
  const p = create(RetryPolicySchema, { attempts: 5, backoff: { seconds: 0n, nanos: 100_000_000 } });
  t.equal(backoffMs(p, 1, () => 0.999), 199);
  t.equal(backoffMs(p, 2, () => 0.999), 399);
  t.equal(backoffMs(p, 10, () => 0.999), 999);
  t.equal(backoffMs(p, 1, () => 0), 0);
  t.equal(backoffMs(create(RetryPolicySchema, {}), 1, () => 0.5), 25, 'default base 25ms');
});
