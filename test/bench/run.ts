// `npm run bench`: the figures of the closing notes, measured side by side in one run.
// - the local cluster's own cost (ambit up);
// - the data path, no mesh (namespace `bench`) vs through two ztunnels (namespace `bench-mesh`,
//   ambient), pod to pod across nodes, rounds interleaved so that both columns see the same
//   machine load; before them, node-1's ztunnel RSS with 20 more idle pods enrolled
//   (bench-idle-pods.yaml) and the memory of idle connections on fresh ztunnels;
//   issue 9's targets next to the figures;
// - the waypoint: 1 KiB HTTP through the Service direct vs ztunnel only vs ztunnel + waypoint
//   (test/bench/waypoint.ts), rounds interleaved as well;
// - the control plane at scale (test/bench/control.ts, in its own process);
// - upstream ztunnel's benchmark shape, four processes on loopback (test/bench/loopback-hops.ts).
// Results: bench-results/<time>.json and a Markdown table on stdout.
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { eventually, TestCluster, ROOT } from '../e2e/testkit.js';
import type { Pod } from '../../lib/k8s/types.js';
import { markdownTable, median, type Row } from './table.js';
import { measureWaypointRound, setUpWaypointBench, waypointRows, type Samples } from './waypoint.js';

interface LoadReport {
  requests: number;
  ok: number;
  errorCount: number;
  achievedQps: number;
  durationMs: number;
  latencyMs: { p50: number; p90: number; p99: number };
  bytesReceived: number;
}

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const here = path.dirname(fileURLToPath(import.meta.url));

interface Side {
  client: string;
  serverIp: string;
}

type Sample = Record<string, number[]>;

function push(s: Sample, k: string, v: number): void {
  (s[k] ??= []).push(v);
}

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** Pods ztunnel serves, by its log: proxies started less pods removed. */
function enrolledPods(c: TestCluster, node: string): number {
  const log = readFileSync(path.join(c.stateDir, 'components', `ztunnel-${node}.log`), 'utf8');
  const count = (msg: string): number => log.split(msg).length - 1;
  return count('pod proxy started') - count('pod removed; draining its proxy');
}

/** node-1's ztunnel RSS (MB) once 20 more idle pods are enrolled there and it has settled. */
async function rssWithIdlePods(c: TestCluster): Promise<{ pods: number; rssMb: number }> {
  const before = enrolledPods(c, 'node-1');
  await c.ambit('apply', '-f', path.join(ROOT, 'test', 'fixtures', 'bench-idle-pods.yaml'));
  const pods = await eventually('20 idle pods enrolled on node-1', async () => {
    const n = enrolledPods(c, 'node-1');
    return n >= before + 20 && n;
  }, 120_000, 500);
  await new Promise((r) => setTimeout(r, 10_000));
  return { pods, rssMb: rssKiB(ztunnelPids(c)[0]!) / 1024 };
}

function rssKiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN);
}

/** PIDs of the nodes' ztunnels, from the runner's component records. */
function ztunnelPids(c: TestCluster): number[] {
  return ['node-1', 'node-2'].map((n) => Number(readFileSync(path.join(c.stateDir, 'components', `ztunnel-${n}.pid`), 'utf8').split(' ')[0]));
}

/** Opens `n` TCP connections from the client pod to the server and holds them idle for `ms`. */
const HOLD = (ip: string, n: number, ms: number) =>
  `const net=require('net');let up=0;const s=[];for(let i=0;i<${n};i++){const c=net.connect(9090,'${ip}',()=>{if(++up===${n})console.log('up')});c.on('error',()=>{});s.push(c)}setTimeout(()=>process.exit(0),${ms})`;

async function idleConnections(c: TestCluster, side: Side, out: Sample, mesh: boolean): Promise<void> {
  const pids = mesh ? ztunnelPids(c) : [];
  const before = pids.map(rssKiB);
  const n = 1000;
  const hold = c.ambit('exec', side.client, '--', 'node', '-e', HOLD(side.serverIp, n, 8000));
  await new Promise((r) => setTimeout(r, 6000));
  const during = pids.map(rssKiB);
  await hold;
  if (mesh) {
    push(out, 'idleRss', Math.min(...before) / 1024);
    push(out, 'perConnKiB', during.reduce((a, b, i) => a + (b - before[i]!), 0) / n);
  }
}

async function measure(c: TestCluster, side: Side, out: Sample, mesh: boolean): Promise<void> {
  const load = async (url: string, args: string[]): Promise<LoadReport> =>
    JSON.parse(await c.ambit('exec', side.client, '--', 'ambit', 'echo', 'client', url, ...args, '--json')) as LoadReport;
  const http = `http://${side.serverIp}:8080/`;
  const pids = mesh ? ztunnelPids(c) : [];
  const cpu0 = pids.map(cpuSeconds);
  const closed = await load(http, ['--connections', '8', '--duration', '5s']);
  if (mesh) {
    const used = pids.map((p, i) => cpuSeconds(p) - cpu0[i]!);
    push(out, 'cpuPer1k', Math.max(...used) / (closed.requests / 1000));
  }
  push(out, 'rps', closed.achievedQps);
  push(out, 'p50', closed.latencyMs.p50);
  push(out, 'p99', closed.latencyMs.p99);
  const fixed = await load(http, ['--qps', '1000', '--connections', '8', '--size', '1024', '--duration', '5s']);
  push(out, 'fp50', fixed.latencyMs.p50);
  push(out, 'fp90', fixed.latencyMs.p90);
  push(out, 'fp99', fixed.latencyMs.p99);
  push(out, 'ferr', fixed.errorCount);
  const bulk = await load(`tcp://${side.serverIp}:9090`, ['--size', String(4 << 20), '--count', '24', '--connections', '1']);
  push(out, 'gbps', (bulk.bytesReceived * 8) / (bulk.durationMs / 1000) / 1e9);
  await idleConnections(c, side, out, mesh);
}

/** The rows of a bench file that runs in processes of its own and prints JSON on its last line. */
function childBench(file: string, args: string[]): Promise<Row[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(here, file), ...args, '--rounds', String(ROUNDS)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`test/bench/${file} exited with ${code}`));
      resolve((JSON.parse(out.trim().split('\n').pop()!) as { rows: Row[] }).rows);
    });
  });
}

function controlPlaneBench(): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(here, 'control.js'), '--workloads', '10000', '--services', '1000', '--clients', '50'], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.on('close', () => resolve(out));
  });
}

async function main(): Promise<void> {
  const rows: Row[] = [];
  const c = new TestCluster('bench');
  const base: Sample = {};
  const mesh: Sample = {};
  let idle = { pods: NaN, rssMb: NaN };
  const wp: Samples = {};
  const fresh: Sample = {};
  try {
    const t0 = performance.now();
    await c.up(2, [path.join(ROOT, 'test', 'fixtures', 'bench-app.yaml')]);
    rows.push({ scenario: 'cluster', metric: 'ambit up --detach: 2 nodes, control plane, ztunnels, 4 pods ready (s)', baseline: (performance.now() - t0) / 1000 });
    const side = async (ns: string): Promise<Side> => {
      const pods = JSON.parse(await c.ambit('get', 'pods', '-n', ns, '-o', 'json')) as { items: Pod[] };
      const client = pods.items.find((p) => p.metadata.labels?.app === 'client')!;
      const server = pods.items.find((p) => p.metadata.labels?.app === 'server')!;
      return { client: `${ns}/${client.metadata.name}`, serverIp: server.status!.podIP! };
    };
    const plain = await side('bench');
    const ambient = await side('bench-mesh');
    if (!process.env.BENCH_SKIP_PODS) {
      // Idle cost first, before any load has grown the ztunnels' heaps (after it, a collection of
      // the load's garbage during the hold can outweigh what 1,000 connections add).
      idle = await rssWithIdlePods(c);
      await idleConnections(c, ambient, fresh, true);
      for (let i = 0; i < ROUNDS; i++) {
        await measure(c, plain, base, false);
        await measure(c, ambient, mesh, true);
      }
    }
    if (!process.env.BENCH_SKIP_WAYPOINT) {
      const w = await setUpWaypointBench(c);
      for (let i = 0; i < ROUNDS; i++) await measureWaypointRound(c, w, wp);
    }
  } finally {
    await c.down();
  }
  const m = (s: Sample, k: string) => median(s[k] ?? []);
  const ms = (s: Sample, ...ks: string[]) => ks.map((k) => m(s, k).toFixed(2)).join(' / ');
  const ratio = (a: number, b: number) => `${(b / a).toFixed(2)}×`;
  const sc = 'pod→pod across nodes';
  if (!process.env.BENCH_SKIP_PODS) {
    rows.push({ scenario: sc, metric: 'HTTP/1.1 closed loop, 8 connections (req/s)', baseline: m(base, 'rps'), ztunnel: `${m(mesh, 'rps').toFixed(0)} (${ratio(m(base, 'rps'), m(mesh, 'rps'))})` });
    rows.push({ scenario: sc, metric: 'closed loop latency p50 / p99 (ms)', baseline: ms(base, 'p50', 'p99'), ztunnel: ms(mesh, 'p50', 'p99') });
    const added = (k: string): string => (m(mesh, k) - m(base, k)).toFixed(2);
    rows.push({ scenario: sc, metric: '1 KiB at 1,000 req/s over 8 connections: p50 / p90 / p99 (ms)', baseline: ms(base, 'fp50', 'fp90', 'fp99'), ztunnel: ms(mesh, 'fp50', 'fp90', 'fp99') });
    rows.push({ scenario: sc, metric: '… added by the two ztunnels: p50 / p99 (ms; target ≤ 0.15 / ≤ 0.5)', ztunnel: `${added('fp50')} / ${added('fp99')}` });
    rows.push({ scenario: sc, metric: '… errors at 1,000 req/s', baseline: m(base, 'ferr'), ztunnel: m(mesh, 'ferr') });
    rows.push({ scenario: sc, metric: 'TCP echo of 4 MiB messages, one connection (Gb/s each way; target ≥ 0.3×)', baseline: m(base, 'gbps'), ztunnel: `${m(mesh, 'gbps').toFixed(2)} (${ratio(m(base, 'gbps'), m(mesh, 'gbps'))})` });
    rows.push({ scenario: sc, metric: 'ztunnel CPU seconds per 1,000 requests (the busier of the two, closed loop; target ≤ 0.06)', ztunnel: m(mesh, 'cpuPer1k').toFixed(3) });
    rows.push({ scenario: sc, metric: 'ztunnel memory per idle proxied connection (KiB, both ztunnels, 1,000 connections; target ≤ 8): before the load / after each round', ztunnel: `${m(fresh, 'perConnKiB').toFixed(2)} / ${m(mesh, 'perConnKiB').toFixed(2)}` });
    rows.push({ scenario: sc, metric: 'ztunnel RSS at rest (MB, the smaller of the two: node-2, 2 enrolled pods): before the load / after the load runs', ztunnel: `${m(fresh, 'idleRss').toFixed(0)} / ${m(mesh, 'idleRss').toFixed(0)}` });
    rows.push({ scenario: sc, metric: `node-1's ztunnel RSS with ${idle.pods} enrolled pods, idle, before the load (MB; target ≤ 60 with 20)`, ztunnel: idle.rssMb });
  }
  if (!process.env.BENCH_SKIP_WAYPOINT) rows.push(...waypointRows(wp));
  // One tunnel in one process (TCP, TLS, HBONE, HBONE over node:http2), then upstream ztunnel's own
  // shape: client → ztunnel → ztunnel → server as four processes on loopback.
  if (!process.env.BENCH_SKIP_TUNNEL) rows.push(...(await childBench('tunnel.js', ['--json'])));
  if (!process.env.BENCH_SKIP_HOPS) rows.push(...(await childBench('loopback-hops.js', [])));
  const control = process.env.BENCH_SKIP_CONTROL ? '' : await controlPlaneBench();
  const dir = path.join(ROOT, 'bench-results');
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(file, JSON.stringify({ rounds: ROUNDS, rows, samples: { baseline: base, ztunnel: mesh, fresh, waypoint: wp }, idle, control }, null, 2) + '\n');
  console.log(markdownTable(rows));
  console.log(`\n(medians of ${ROUNDS} interleaved rounds; ratios are ztunnel / baseline)\n`);
  if (control) console.log(control.slice(control.lastIndexOf('| control plane')));
  console.log(`JSON in ${path.relative(process.cwd(), file)}`);
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
