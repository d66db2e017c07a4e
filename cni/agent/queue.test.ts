import t from 'tap';
import { KeyedQueue, Reconciler } from './queue.js';

const tick = (ms = 5): Promise<void> => new Promise((r) => setTimeout(r, ms));

t.test('KeyedQueue: one pod at a time, pods in parallel, failures do not block', async (t) => {
  const q = new KeyedQueue();
  const log: string[] = [];
  const job = (name: string, ms: number, fail = false) => async (): Promise<string> => {
    log.push(`start ${name}`);
    await tick(ms);
    log.push(`end ${name}`);
    if (fail) throw new Error(name);
    return name;
  };
  const a1 = q.run('a', job('a1', 30, true));
  const a2 = q.run('a', job('a2', 1));
  const b1 = q.run('b', job('b1', 1));
  await t.rejects(a1, /a1/);
  t.equal(await a2, 'a2');
  t.equal(await b1, 'b1');
  t.ok(log.indexOf('end b1') < log.indexOf('end a1'), 'b did not wait for a');
  t.ok(log.indexOf('end a1') < log.indexOf('start a2'), 'a2 ran after a1, although a1 failed');
  await q.idle();
  t.equal(q.size, 0);
});

t.test('Reconciler: coalesces, retries with back-off, retryNow', async (t) => {
  const q = new KeyedQueue();
  const runs: string[] = [];
  let failures = 2;
  const errors: number[] = [];
  const r = new Reconciler(q, async (key) => {
    runs.push(key);
    await tick(1);
    if (key === 'bad' && failures-- > 0) throw new Error('not yet');
  }, (_k, _e, delay) => errors.push(delay), { initialMs: 20, maxMs: 25 });
  t.teardown(() => r.stop());
  for (let i = 0; i < 5; i++) r.schedule('x');
  await r.idle();
  t.same(runs, ['x'], 'five schedules before it ran: one run');
  r.schedule('bad');
  await r.idle();
  t.same(r.failing, ['bad']);
  const deadline = Date.now() + 5000;
  while (r.failing.length > 0 && Date.now() < deadline) await tick();
  t.same(errors, [20, 25], 'back-off doubles up to the maximum');
  t.same(runs.filter((k) => k === 'bad').length, 3, 'retried until it worked');

  failures = 1;
  r.schedule('bad');
  await r.idle();
  t.same(r.failing, ['bad']);
  r.retryNow();
  await r.idle();
  t.same(r.failing, [], 'retryNow does not wait for the timer');
});
