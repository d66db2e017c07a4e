// The global rate limiter against a real redis-server started for this test on a free port.
import { setTimeout as sleep } from 'node:timers/promises';
import t from 'tap';
import { GlobalLimit_Unit, GlobalRateLimit_FailureMode } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import type { L7Request } from './l7-request.js';
import { RateLimits, type RateLimitDecision } from './rate-limit.js';
import { checkGlobal, RedisCounters } from './redis-limiter.js';
import { rateLimit, RedisServer, WAYPOINT } from './testkit.js';

const HOST = 'web.default.svc.cluster.local';
const req: L7Request = { method: 'GET', path: '/', host: 'web', port: 80, headers: { 'x-user': 'alice' }, sourceIp: '10.0.0.1' };

// A timeout generous enough for a loaded machine; where a test shows that a call does not wait
// for it, "not waiting" means taking well under half of it.
const TIMEOUT_MS = 2000;
const perSecond = (name: string, n: number, failureMode = GlobalRateLimit_FailureMode.OPEN, redisAddress = '') =>
  rateLimit({
    name,
    global: { redisAddress, failureMode, timeout: { seconds: BigInt(TIMEOUT_MS / 1000), nanos: 0 }, limits: [{ requestsPerUnit: BigInt(n), unit: GlobalLimit_Unit.SECOND }] },
  });

/** Waits until the wall clock is `ms` past a whole second, so a run stays inside one window. */
async function alignToSecond(ms = 20): Promise<void> {
  const now = Date.now();
  await sleep(1000 - (now % 1000) + ms);
}

async function timed<T>(f: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const start = performance.now();
  const value = await f();
  return { value, ms: performance.now() - start };
}

t.test('global limits in Redis', async (t) => {
  const redis = await RedisServer.start();
  t.teardown(() => redis.close());

  // Two waypoint replicas: separate limiters and connections, one Redis.
  const replicas = [0, 1].map(() => new RateLimits({ waypoint: WAYPOINT, redisAddress: redis.address }));
  t.teardown(() => Promise.all(replicas.map((r) => r.close())));
  for (const r of replicas) r.update([perSecond('shared', 10)]);

  await t.test('two replicas sharing 10 req/s let 10±1 of 100 requests in one second through', async (t) => {
    // Connect both first, so the run measures counting, not connecting.
    for (const r of replicas) await r.check(HOST, { ...req, headers: { 'x-user': 'warm-up' } });
    // One request every 9ms, alternating replicas, each started on time rather than after the
    // previous answer. A run that a loaded machine stretches past its second is tried again (at
    // most three times); the last one is judged by the windows it spanned.
    let allowed = 0;
    let windows = 0;
    let decisions: RateLimitDecision[] = [];
    for (let attempt = 0; attempt < 3 && windows !== 1; attempt++) {
      await alignToSecond();
      const start = Date.now();
      const pending: Array<Promise<RateLimitDecision>> = [];
      for (let i = 0; i < 100; i++) {
        await sleep(Math.max(0, start + i * 9 - Date.now()));
        pending.push((replicas[i % 2] as RateLimits).check(HOST, req));
      }
      decisions = await Promise.all(pending);
      windows = Math.floor(Date.now() / 1000) - Math.floor(start / 1000) + 1;
      allowed = decisions.filter((d) => d.allowed).length;
      t.comment(`attempt ${attempt + 1}: ${allowed} of 100 allowed over ${windows} one-second window(s)`);
    }
    t.same([...new Set(decisions.filter((d) => !d.allowed).map((d) => d.policy))], ['default/shared'], 'refusals name the policy');
    t.ok(allowed >= 9 && allowed <= 10 * windows + 1, `${allowed} of 100 allowed (${windows} window(s))`);
  });

  await t.test('remaining and reset come from the counter', async (t) => {
    const counters = new RedisCounters(redis.address);
    t.teardown(() => counters.close());
    // Three hits inside one minute window: start early enough in the minute.
    if (Date.now() % 60_000 > 50_000) await sleep(60_000 - (Date.now() % 60_000) + 50);
    const policy = rateLimit({ name: 'per-user', global: { timeout: { seconds: 2n, nanos: 0 }, limits: [{ requestsPerUnit: 3n, unit: GlobalLimit_Unit.MINUTE, descriptors: [{ key: { case: 'header', value: 'x-user' } }] }] } }).global!;
    const user = { ...req, headers: { 'x-user': `u-${Date.now()}` } };
    const results = [];
    for (let i = 0; i < 4; i++) results.push(await checkGlobal('default/per-user', policy, user, counters));
    t.same(results.map((r) => [r.allowed, r.limit, r.remaining]), [[true, 3, 2], [true, 3, 1], [true, 3, 0], [false, 3, 0]]);
    t.ok(results.every((r) => r.resetSeconds >= 1 && r.resetSeconds <= 60), 'reset within the minute window');
    const other = await checkGlobal('default/per-user', policy, { ...req, headers: { 'x-user': `v-${Date.now()}` } }, counters);
    t.same([other.allowed, other.remaining], [true, 2], 'another user has a counter of their own');
  });

  await t.test('with Redis stopped: fail open lets all through, fail closed refuses all, each quickly', async (t) => {
    const open = new RateLimits({ waypoint: WAYPOINT, redisAddress: redis.address });
    const closed = new RateLimits({ waypoint: WAYPOINT, redisAddress: redis.address });
    t.teardown(() => Promise.all([open.close(), closed.close()]));
    open.update([perSecond('open', 1, GlobalRateLimit_FailureMode.OPEN)]);
    closed.update([perSecond('closed', 1000, GlobalRateLimit_FailureMode.CLOSED)]);
    t.equal((await closed.check(HOST, req)).allowed, true, 'closed mode with Redis up: allowed under the limit');
    t.equal((await open.check(HOST, req)).failure, undefined, 'open mode connected and counting');

    await redis.stop();
    await sleep(50);
    const took: number[] = [];
    let through = 0;
    let refused = 0;
    for (let i = 0; i < 50; i++) {
      const o = await timed(() => open.check(HOST, req));
      const c = await timed(() => closed.check(HOST, req));
      took.push(o.ms, c.ms);
      if (o.value.allowed) through++;
      if (!c.value.allowed) refused++;
      if (i === 0) {
        t.equal(o.value.failure, 'open', 'the decision says the failure mode applied');
        t.match(c.value.reason, /CLOSED refuses/, 'and why');
      }
    }
    t.equal(through, 50, 'fail open: every request through');
    t.equal(refused, 50, 'fail closed: every request refused');
    took.sort((a, b) => a - b);
    const median = took[took.length >> 1] ?? 0;
    const slowest = took[took.length - 1] ?? 0;
    t.ok(median < TIMEOUT_MS / 2, `decisions do not wait while Redis is known down (median ${median.toFixed(2)}ms)`);
    t.ok(slowest < TIMEOUT_MS, `none waited for the ${TIMEOUT_MS}ms timeout (slowest ${slowest.toFixed(1)}ms)`);

    await redis.restart();
    const deadline = Date.now() + 5000;
    let counted = false;
    while (!counted && Date.now() < deadline) {
      const d = await closed.check(HOST, req);
      counted = d.allowed && d.failure === undefined;
      if (!counted) await sleep(50);
    }
    t.ok(counted, 'when Redis is back the limiter reconnects and counts again');
  });
});

t.test('a Redis that never came up costs at most the timeout once, then nothing', async (t) => {
  // A port nothing listens on: take a free one from a server started and stopped.
  const gone = await RedisServer.start();
  const address = gone.address;
  await gone.close();
  const rl = new RateLimits({ waypoint: WAYPOINT });
  t.teardown(() => rl.close());
  rl.update([perSecond('p', 5, GlobalRateLimit_FailureMode.CLOSED, address)]);
  const first = await timed(() => rl.check(HOST, req));
  t.equal(first.value.allowed, false, 'fail closed');
  t.ok(first.ms < TIMEOUT_MS * 1.5, `first call bounded by the ${TIMEOUT_MS}ms timeout (${first.ms.toFixed(1)}ms)`);
  await sleep(20);
  const later = await timed(() => rl.check(HOST, req));
  t.equal(later.value.allowed, false);
  t.ok(later.ms < TIMEOUT_MS / 2, `later calls fail at once, not after the ${TIMEOUT_MS}ms timeout (${later.ms.toFixed(1)}ms)`);
  t.match(rl.redisStatus(), [{ address, ready: false }], 'status shows the connection down');
});
