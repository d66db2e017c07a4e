import t from 'tap';
import { LatencyRecorder, LoadStats, percentile, scheduledOffsetMs, summarize, Tally } from './stats.js';

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i + 1);

t.test('nearest-rank percentiles', async (t) => {
  const table: Array<{ samples: number[]; p: number; want: number }> = [
    { samples: [], p: 50, want: 0 },
    { samples: [7], p: 0, want: 7 },
    { samples: [7], p: 99.9, want: 7 },
    { samples: [1, 2, 3, 4], p: 50, want: 2 },
    { samples: [1, 2, 3, 4], p: 51, want: 3 },
    { samples: [1, 2, 3, 4], p: 100, want: 4 },
    { samples: range(10), p: 90, want: 9 },
    { samples: range(100), p: 99, want: 99 },
    { samples: range(1000), p: 99.9, want: 999 },
    { samples: range(1000), p: 99.95, want: 1000 },
    { samples: range(1001), p: 50, want: 501 },
  ];
  for (const { samples, p, want } of table) t.equal(percentile(samples, p), want, `p${p} of ${samples.length}`);
  t.throws(() => percentile([1], 101), /within 0..100/);
});

t.test('summary sorts numerically, not as strings', async (t) => {
  const s = summarize([10, 9, 100, 2, 1000, 3]);
  t.same(s, { count: 6, min: 2, mean: 187.333, p50: 9, p90: 1000, p99: 1000, p999: 1000, max: 1000 });
  t.same(summarize([]), { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 });
});

t.test('recorder grows past its first buffer', async (t) => {
  const r = new LatencyRecorder();
  for (let i = 10_000; i >= 1; i--) r.add(i / 10);
  t.equal(r.count, 10_000);
  t.match(r.summary(), { count: 10_000, min: 0.1, p50: 500, p90: 900, p99: 990, p999: 999, max: 1000 });
});

t.test('tally sorts keys and totals', async (t) => {
  const m = new Tally();
  m.add('v2');
  m.add('v1', 3);
  m.add('v2');
  t.same(m.toJSON(), { v1: 3, v2: 2 });
  t.same(Object.keys(m.toJSON()), ['v1', 'v2']);
  t.equal(m.total, 5);
});

t.test('load report: errors by kind, latency over answered requests, splits', async (t) => {
  const s = new LoadStats();
  s.record({ answered: true, latencyMs: 1, bytesSent: 10, bytesReceived: 100, hostname: 'a', version: 'v1' });
  s.record({ answered: true, latencyMs: 3, bytesSent: 10, bytesReceived: 100, hostname: 'b', version: 'v2' });
  s.record({ answered: true, latencyMs: 2, bytesSent: 10, bytesReceived: 50, error: 'status:503', hostname: 'a', version: 'v1' });
  s.record({ answered: false, latencyMs: 5000, bytesSent: 0, bytesReceived: 0, error: 'timeout' });
  s.record({ answered: false, latencyMs: 0.1, bytesSent: 0, bytesReceived: 0, error: 'connect' });
  const r = s.report({ target: 'http://x:1/', protocol: 'http', mode: 'closed-loop', qps: 0, connections: 2, streams: 1 }, 500);
  t.match(r, {
    requests: 5,
    ok: 2,
    errorCount: 3,
    errors: { connect: 1, 'status:503': 1, timeout: 1 },
    achievedQps: 10,
    bytesSent: 30,
    bytesReceived: 250,
    hostnames: { a: 2, b: 1 },
    versions: { v1: 2, v2: 1 },
    durationMs: 500,
    reconnects: 0,
  });
  t.equal(s.report({ target: 'tcp://x:1', protocol: 'tcp', mode: 'closed-loop', qps: 0, connections: 1, streams: 1 }, 500, 3).reconnects, 3, 'reconnects as counted by the connections');
  t.match(r.latencyMs, { count: 3, p50: 2, max: 3 });
});

t.test('open-loop schedule interleaves loops evenly', async (t) => {
  // 4 loops at 100 qps: one request every 10 ms overall, each loop every 40 ms.
  const due = [];
  for (let k = 0; k < 2; k++) for (let j = 0; j < 4; j++) due.push(scheduledOffsetMs(k, j, 4, 100));
  t.same(
    due.sort((a, b) => a - b),
    [0, 10, 20, 30, 40, 50, 60, 70],
  );
  t.equal(scheduledOffsetMs(3, 1, 4, 100), 130);
});
