import t from 'tap';
import { bucketQuantile, increaseOf, MetricHistory } from './history.js';

t.test('increaseOf counts resets like Prometheus', async (t) => {
  const pts = (vs: number[]): Array<{ at: number; value: number }> => vs.map((value, at) => ({ at, value }));
  const cases: Array<[number[], number]> = [
    [[], 0],
    [[5], 0],
    [[1, 4, 10], 9],
    [[10, 12, 3, 5], 2 + 3 + 2],
    [[0, 0, 0], 0],
  ];
  for (const [vs, want] of cases) t.equal(increaseOf(pts(vs)), want, JSON.stringify(vs));
});

t.test('bucketQuantile interpolates inside the bucket', async (t) => {
  const b = [
    { le: 10, count: 50 },
    { le: 100, count: 90 },
    { le: 1000, count: 100 },
    { le: Infinity, count: 100 },
  ];
  const cases: Array<[number, number | undefined]> = [
    [0.5, 10],
    [0.25, 5],
    [0.7, 10 + 90 * (20 / 40)],
    [0.95, 100 + 900 * 0.5],
    [1, 1000],
  ];
  for (const [q, want] of cases) t.equal(bucketQuantile(q, b), want, `q=${q}`);
  t.equal(bucketQuantile(0.5, []), undefined, 'no buckets');
  t.equal(bucketQuantile(0.5, [{ le: 1, count: 0 }, { le: Infinity, count: 0 }]), undefined, 'no observations');
  t.equal(bucketQuantile(0.99, [{ le: 1, count: 1 }, { le: Infinity, count: 10 }]), 1, 'above the last finite bucket: its bound');
});

t.test('MetricHistory: increase per group over a window, retention', async (t) => {
  const h = new MetricHistory(60_000);
  const s = (v: number, code: string): { name: string; labels: Record<string, string>; value: number } => ({ name: 'req', labels: { code }, value: v });
  h.add('a', 0, [s(0, '200'), s(0, '500')]);
  h.add('a', 10_000, [s(10, '200'), s(1, '500')]);
  h.add('b', 10_000, [s(100, '200')]);
  h.add('a', 20_000, [s(30, '200'), s(2, '500')]);
  h.add('b', 20_000, [s(110, '200')]);
  const all = h.increase('req', 0, 20_000, () => 'all');
  t.equal(all.get('all'), 30 + 2 + 10, 'sums targets and series');
  const byCode = h.increase('req', 15_000, 20_000, (l) => l.code);
  t.same(Object.fromEntries(byCode), { '200': 20 + 10, '500': 1 }, 'the window starts at the last point before it');
  t.same(Object.fromEntries(h.increase('req', 0, 20_000, (l) => (l.code === '500' ? 'err' : undefined))), { err: 2 }, 'undefined skips');
  t.equal(h.increase('other', 0, 20_000, () => 'x').size, 0, 'other names');
  h.add('a', 200_000, [s(40, '200')], (n) => n === 'req');
  t.equal(h.size, 1, 'series without a point in the retention are gone');
  h.add('a', 200_000, [{ name: 'skip', labels: {}, value: 1 }, { name: 'req', labels: { code: 'x' }, value: NaN }], (n) => n !== 'skip');
  t.equal(h.size, 1, 'filtered names and NaN values are not kept');
  h.add('a', 205_000, [s(41, '200'), s(7, '404')]);
  t.same(Object.fromEntries(h.increase('req', 200_000, 205_000, (l) => l.code)), { '200': 1, '404': 7 }, 'a series born after the last scrape counts from 0');
  h.add('c', 205_000, [s(9, '200')]);
  t.equal(h.increase('req', 0, 205_000, (l) => l.code).get('200'), 1, 'the first scrape of a target is its baseline');
});

t.test('MetricHistory: quantiles from bucket increases', async (t) => {
  const h = new MetricHistory(60_000);
  const buckets = (c10: number, c100: number, inf: number, app = 'x'): Array<{ name: string; labels: Record<string, string>; value: number }> => [
    { name: 'lat_bucket', labels: { app, le: '10' }, value: c10 },
    { name: 'lat_bucket', labels: { app, le: '100' }, value: c100 },
    { name: 'lat_bucket', labels: { app, le: '+Inf' }, value: inf },
  ];
  h.add('t', 0, buckets(5, 5, 5));
  h.add('t', 1000, buckets(15, 25, 25));
  const p50 = h.quantile(0.5, 'lat', 0, 1000, (l) => l.app);
  t.equal(p50.get('x'), 10, '10 of 20 new observations are ≤ 10');
  const p99 = h.quantile(0.99, 'lat', 0, 1000, (l) => l.app);
  t.ok(Math.abs((p99.get('x') ?? 0) - (10 + 90 * ((19.8 - 10) / 10))) < 1e-9, 'p99 interpolated in the 10–100 bucket');
});
