// `npm run bench`: the figures of the closing notes, measured side by side in one run.
// Scenarios: the local cluster's own costs (up, pod start) and the no-mesh baseline of the data
// path (pod to pod across nodes). Later issues add ztunnel and waypoint columns to the same table.
// Results: bench-results/<time>.json and a Markdown table on stdout.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { TestCluster, ROOT } from '../e2e/kit.js';
import type { Pod } from '../../lib/k8s/types.js';
import { median, type Row } from './table.js';
import { markdownTable } from './table.js';

interface LoadReport {
  requests: number;
  ok: number;
  achievedQps: number;
  latencyMs: { p50: number; p90: number; p99: number };
  bytesReceived: number;
  durationMs?: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function load(c: TestCluster, client: string, url: string, args: string[]): Promise<LoadReport> {
  const out = await c.ambit('exec', client, '--', 'ambit', 'echo', 'client', url, ...args, '--json');
  return JSON.parse(out) as LoadReport;
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = new TestCluster('bench');
  try {
    const t0 = performance.now();
    await c.up(2, [path.join(ROOT, 'test', 'fixtures', 'bench-app.yaml')]);
    rows.push({ scenario: 'cluster', metric: 'ambit up --detach, 2 nodes + 2 pods ready (s)', baseline: (performance.now() - t0) / 1000 });
    const pods = JSON.parse(await c.ambit('get', 'pods', '-n', 'bench', '-o', 'json')) as { items: Pod[] };
    const client = `bench/${pods.items.find((p) => p.metadata.labels?.app === 'client')!.metadata.name}`;
    const server = pods.items.find((p) => p.metadata.labels?.app === 'server')!;
    const direct = `http://${server.status!.podIP}:8080/`;

    const rr: number[] = [];
    const p50: number[] = [];
    const p99: number[] = [];
    const fixedP50: number[] = [];
    const fixedP90: number[] = [];
    const fixedP99: number[] = [];
    const bulk: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const closed = await load(c, client, direct, ['--connections', '8', '--duration', '5s']);
      rr.push(closed.achievedQps);
      p50.push(closed.latencyMs.p50);
      p99.push(closed.latencyMs.p99);
      const fixed = await load(c, client, direct, ['--qps', '1000', '--connections', '8', '--size', '1024', '--duration', '5s']);
      fixedP50.push(fixed.latencyMs.p50);
      fixedP90.push(fixed.latencyMs.p90);
      fixedP99.push(fixed.latencyMs.p99);
      const b = await load(c, client, `tcp://${server.status!.podIP}:9090`, ['--size', String(4 << 20), '--count', '32', '--connections', '1']);
      bulk.push((b.bytesReceived * 8) / ((b.durationMs ?? (b.requests / b.achievedQps) * 1000) / 1000) / 1e9);
    }
    rows.push({ scenario: 'pod→pod, cross-node', metric: 'HTTP/1.1 closed loop, 8 conns (req/s)', baseline: median(rr) });
    rows.push({ scenario: 'pod→pod, cross-node', metric: 'closed loop p50 / p99 (ms)', baseline: `${median(p50).toFixed(2)} / ${median(p99).toFixed(2)}` });
    rows.push({ scenario: 'pod→pod, cross-node', metric: '1 KiB at 1,000 req/s, 8 conns: p50 / p90 / p99 (ms)', baseline: `${median(fixedP50).toFixed(2)} / ${median(fixedP90).toFixed(2)} / ${median(fixedP99).toFixed(2)}` });
    rows.push({ scenario: 'pod→pod, cross-node', metric: 'TCP echo, 4 MiB messages, 1 conn (Gb/s each way)', baseline: median(bulk) });
  } finally {
    await c.down();
  }
  const dir = path.join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ rounds: ROUNDS, rows }, null, 2) + '\n');
  console.log(markdownTable(rows));
  console.log(`\n(medians of ${ROUNDS} rounds; JSON in ${path.relative(process.cwd(), file)})`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
