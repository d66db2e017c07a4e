import t from 'tap';
import { PriorityLimiter, Priority } from './limiter.js';
import { refreshDelayMs } from './schedule.js';

t.test('refresh at half the lifetime', async (t) => {
  const d = (ms: number): Date => new Date(ms);
  type Case = [name: string, notBefore: number, notAfter: number, requestedAt: number, now: number, min: number, want: number];
  const H = 3_600_000;
  const cases: Case[] = [
    ['24 h certificate, just issued', 0, 24 * H, 0, 0, 0, 12 * H],
    ['checked later', 0, 24 * H, 0, 5 * H, 0, 7 * H],
    ['backdated notBefore counts from the request', -60_000, 4000, 0, 0, 0, 2000],
    ['notBefore after the request', 1000, 5000, 0, 1000, 0, 2000],
    ['overdue renews now', 0, 1000, 0, 900, 0, 0],
    ['overdue, with a floor', 0, 1000, 0, 900, 250, 250],
    ['already expired', 0, 1000, 0, 2000, 100, 100],
    ['notAfter before the request', -10_000, -5000, 0, 0, 0, 0],
  ];
  for (const [name, nb, na, req, now, min, want] of cases) {
    t.equal(refreshDelayMs({ notBefore: d(nb), notAfter: d(na) }, req, now, min), want, name);
  }
});

t.test('priority limiter', async (t) => {
  const lim = new PriorityLimiter(1);
  const order: string[] = [];
  let release!: () => void;
  const first = lim.run(Priority.Background, () => new Promise<void>((r) => (release = r)).then(() => void order.push('first')));
  const jobs = [
    lim.run(Priority.Background, async () => void order.push('background')),
    lim.run(Priority.Warmup, async () => void order.push('warmup')),
    lim.run(Priority.RealTime, async () => void order.push('realtime')),
    lim.run(Priority.RealTime, async () => void order.push('realtime 2')),
  ];
  t.equal(lim.queued, 4);
  release();
  await Promise.all([first, ...jobs]);
  t.same(order, ['first', 'realtime', 'realtime 2', 'warmup', 'background']);
  t.equal(lim.active, 0);
  await t.rejects(lim.run(Priority.RealTime, async () => { throw new Error('boom'); }), /boom/);
  t.equal(lim.active, 0, 'a failing job frees its slot');
  t.throws(() => new PriorityLimiter(0), /positive integer/);
});
