import t from 'tap';
import { renderReport } from './report.js';
import { trend } from './stats.js';

t.test('the report carries every figure it is given', async (t) => {
  const flat = trend([{ t: 0, v: 100 << 20 }, { t: 60, v: 100 << 20 }], 0.1, 1 << 20);
  const leak = trend([{ t: 0, v: 100 << 20 }, { t: 60, v: 150 << 20 }], 0.1, 1 << 20);
  const md = renderReport({
    when: new Date('2026-01-01T00:00:00Z'),
    settings: { fuzzRuns: 100, chaosRounds: 2, soakMs: 60_000 },
    fuzz: [
      { target: 'hpack decode', runs: 100, ms: 50, seed: 1, failed: false },
      { target: 'zds framing', runs: 40, ms: 20, seed: 7, failed: true, counterexample: '[Buffer.from([0])]', error: 'Error: unexpected TypeError: x\n at y' },
    ],
    chaos: {
      seed: 3,
      callMs: 1500,
      qps: 20,
      rounds: [
        { round: 1, component: 'ztunnel-node-1', requests: 120, failed: 6, errors: { ECONNRESET: 6 }, reconnects: 2, restartedMs: 600, recoveryMs: 2500, afterOk: 20, afterFailed: 0 },
        { round: 2, component: 'control', requests: 120, failed: 0, errors: {}, reconnects: 0, restartedMs: 500, recoveryMs: 1200, afterOk: 20, afterFailed: 0 },
      ],
      packets: 900,
      hbonePackets: 880,
      appPortPackets: 0,
      markerInClear: false,
    },
    soak: { durationMs: 60_000, requests: 3000, failed: 0, components: { control: { rss: flat, lagP99: flat }, 'ztunnel-node-1': { rss: leak, lagP99: flat } } },
    notes: ['a note'],
  });
  t.match(md, /2 targets, 140 executions, 1 finding\(s\)/);
  t.match(md, /\| zds framing \| 40 \| 0\.0 s \| 1 \|/);
  t.match(md, /AMBIT_FUZZ_SEED=7.*unexpected TypeError/);
  t.match(md, /2 kills survived .* in clear on the node link: \*\*never\*\*/);
  t.match(md, /Requests during the kills: 240, failed 6/);
  t.match(md, /control 0\.0, ztunnel-node-1 6\.0/);
  t.match(md, /\| 1 \| ztunnel-node-1 \| 120 \| 6 \| 0\.3 s \| 2 \| 0\.6 s \| 2\.5 s \| 20 \/ 0 \|/);
  t.match(md, /\| ztunnel-node-1 \| 2 \| 100\.0 → 150\.0 MiB \| 50\.00 MiB\/min .* \*\*RSS grows\*\* \|/);
  t.match(md, /\| control \| 2 .* flat \|/);
  t.match(md, /PADDED DATA/);
  t.match(md, /one such request takes 1\.5 s/);
  t.match(md, /- a note/);
});
