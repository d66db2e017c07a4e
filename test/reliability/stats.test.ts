import t from 'tap';
import { metricValue, slope, trend } from './stats.js';

t.test('least-squares slope', async (t) => {
  const rows: Array<[string, Array<[number, number]>, number]> = [
    ['flat', [[0, 5], [1, 5], [2, 5]], 0],
    ['a line', [[0, 1], [10, 21], [20, 41]], 2],
    ['noise around a line', [[0, 0], [1, 3], [2, 2], [3, 5]], 1.4],
    ['one sample', [[3, 9]], 0],
    ['one time', [[1, 2], [1, 4]], 0],
  ];
  for (const [name, pts, want] of rows) t.equal(Math.round(slope(pts.map(([x, v]) => ({ t: x, v }))) * 1000) / 1000, want, name);
});

t.test('metricValue reads unlabelled samples only', async (t) => {
  const text = '# HELP process_resident_memory_bytes x\nprocess_resident_memory_bytes 123456\nnodejs_eventloop_lag_p99_seconds 0.021\nfoo{a="b"} 3\nfoo_total 9\n';
  t.equal(metricValue(text, 'process_resident_memory_bytes'), 123456);
  t.equal(metricValue(text, 'nodejs_eventloop_lag_p99_seconds'), 0.021);
  t.equal(metricValue(text, 'foo'), undefined, 'labelled');
  t.equal(metricValue(text, 'missing'), undefined);
});

t.test('trend: growth is flagged only when both relative and absolute', async (t) => {
  const series = (f: (i: number) => number) => Array.from({ length: 61 }, (_, i) => ({ t: i * 60, v: f(i) }));
  const flat = trend(series((i) => 100e6 + (i % 2) * 1e6), 0.1, 1e6);
  t.notOk(flat.grows, 'flat with noise');
  const leak = trend(series((i) => 100e6 + i * 2e6), 0.1, 1e6);
  t.ok(leak.grows, 'two MB a minute for an hour');
  t.equal(Math.round(leak.slopePerMinute / 1e6), 2);
  t.notOk(trend(series((i) => 100e6 + i * 1e5), 0.1, 1e6).grows, '0.1 MB a minute is below the absolute floor');
});
