// The waypoint's cost, side by side: 1 KiB HTTP requests from a client pod on node-1 to a server
// on node-2 through the Service, direct (namespace `bench`, no mesh) vs ztunnel only
// (`bench-mesh`) vs ztunnel + waypoint (`bench-wp`, whose waypoint `ambit waypoint apply
// --enroll-namespace` deploys), rounds interleaved so every column sees the same machine load.
// Rows: the maximum request rate (closed loop), p50/p99 at 1,000 req/s, the waypoint's CPU
// seconds per 1,000 requests and its RSS while it serves 1,000 req/s.
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { TestCluster } from '../e2e/testkit.js';
import type { Pod } from '../../lib/k8s/types.js';
import { median, type Row } from './table.js';

interface LoadReport {
  requests: number;
  errorCount: number;
  achievedQps: number;
  latencyMs: { p50: number; p99: number };
}

export type Column = 'direct' | 'ztunnel' | 'waypoint';
const COLUMNS: Column[] = ['direct', 'ztunnel', 'waypoint'];
const NAMESPACES: Record<Column, string> = { direct: 'bench', ztunnel: 'bench-mesh', waypoint: 'bench-wp' };

export type Samples = Record<string, number[]>;

/** CPU seconds (user + system) a process has used so far, from /proc. */
function cpuSeconds(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? NaN) / 1024;
}

/** The waypoint pod's process, from the pod runner's record (`pods/<ns>_<pod>/pids.json`). */
function waypointPid(c: TestCluster, ns: string): number {
  const dir = path.join(c.stateDir, 'pods');
  const pod = readdirSync(dir).find((d) => d.startsWith(`${ns}_waypoint-`));
  if (!pod) throw new Error(`no waypoint pod of namespace ${ns} under ${dir}`);
  const rec = JSON.parse(readFileSync(path.join(dir, pod, 'pids.json'), 'utf8')) as { containers: Record<string, { pid: number }> };
  const first = Object.values(rec.containers)[0];
  if (!first) throw new Error(`${pod}/pids.json names no container`);
  return first.pid;
}

export interface WaypointBench {
  clients: Record<Column, string>;
  waypointPid: number;
}

/** Deploys the waypoint of `bench-wp` and finds the three client pods. */
export async function setUpWaypointBench(c: TestCluster): Promise<WaypointBench> {
  await c.ambit('waypoint', 'apply', '-n', NAMESPACES.waypoint, '--enroll-namespace', '--wait', '--waypoint-timeout', '120s');
  const clients = {} as Record<Column, string>;
  for (const col of COLUMNS) {
    const ns = NAMESPACES[col];
    const pods = JSON.parse(await c.ambit('get', 'pods', '-n', ns, '-l', 'app=client', '-o', 'json')) as { items: Pod[] };
    clients[col] = `${ns}/${pods.items[0]!.metadata.name}`;
  }
  const bench = { clients, waypointPid: waypointPid(c, NAMESPACES.waypoint) };
  // The namespace binding reaches the ztunnels through xDS shortly after the status says so: wait
  // until the waypoint has used CPU for requests, not just for starting.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const before = cpuSeconds(bench.waypointPid);
    await load(c, bench.clients.waypoint, ['--count', '200', '--connections', '4']);
    if (cpuSeconds(bench.waypointPid) - before >= 0.02) break;
    if (Date.now() > deadline) throw new Error('requests in bench-wp never reached the waypoint');
  }
  return bench;
}

const url = (col: Column): string => `http://server.${NAMESPACES[col]}.svc.cluster.local:8080/`;

async function load(c: TestCluster, client: string, args: string[], col: Column = 'waypoint'): Promise<LoadReport> {
  return JSON.parse(await c.ambit('exec', client, '--', 'ambit', 'echo', 'client', url(col), '--size', '1024', ...args, '--json')) as LoadReport;
}

function push(s: Samples, k: string, v: number): void {
  (s[k] ??= []).push(v);
}

/** One round: every column, one after the other. */
export async function measureWaypointRound(c: TestCluster, b: WaypointBench, out: Samples): Promise<void> {
  for (const col of COLUMNS) {
    const client = b.clients[col];
    const cpu0 = cpuSeconds(b.waypointPid);
    const closed = await load(c, client, ['--connections', '8', '--duration', '5s'], col);
    push(out, `${col}.rps`, closed.achievedQps);
    if (col === 'waypoint') push(out, 'waypoint.cpuPer1k', (cpuSeconds(b.waypointPid) - cpu0) / (closed.requests / 1000));
    // RSS sampled while the fixed-rate run is under way, the largest of the samples.
    let rss = 0;
    const sampler = col === 'waypoint' ? setInterval(() => (rss = Math.max(rss, rssMiB(b.waypointPid))), 500) : undefined;
    const fixed = await load(c, client, ['--qps', '1000', '--connections', '8', '--duration', '5s'], col);
    if (sampler) {
      clearInterval(sampler);
      push(out, 'waypoint.rss', rss);
    }
    push(out, `${col}.p50`, fixed.latencyMs.p50);
    push(out, `${col}.p99`, fixed.latencyMs.p99);
    push(out, `${col}.errors`, fixed.errorCount);
  }
}

export function waypointRows(s: Samples): Row[] {
  const m = (k: string): number => median(s[k] ?? []);
  const sc = '1 KiB HTTP via the Service, across nodes';
  const cols = (f: (col: Column) => string | number): Pick<Row, 'baseline' | 'ztunnel' | 'waypoint'> => ({ baseline: f('direct'), ztunnel: f('ztunnel'), waypoint: f('waypoint') });
  const ratio = (col: Column): string => `${m(`${col}.rps`).toFixed(0)} (${(m(`${col}.rps`) / m('direct.rps')).toFixed(2)}×)`;
  const signed = (x: number): string => `${x >= 0 ? '+' : '−'}${Math.abs(x).toFixed(2)}`;
  const added = (k: 'p50' | 'p99'): string => `${m(`waypoint.${k}`).toFixed(2)} (${signed(m(`waypoint.${k}`) - m(`ztunnel.${k}`))})`;
  return [
    { scenario: sc, metric: 'maximum rate, closed loop, 8 connections (req/s; × direct)', ...cols((col) => (col === 'direct' ? m('direct.rps') : ratio(col))) },
    { scenario: sc, metric: 'p50 at 1,000 req/s, 8 connections (ms; waypoint: + over ztunnel only)', ...cols((col) => (col === 'waypoint' ? added('p50') : m(`${col}.p50`))) },
    { scenario: sc, metric: 'p99 at 1,000 req/s (ms; target: waypoint adds ≤ 2 ms)', ...cols((col) => (col === 'waypoint' ? added('p99') : m(`${col}.p99`))) },
    { scenario: sc, metric: '… errors at 1,000 req/s', ...cols((col) => m(`${col}.errors`)) },
    { scenario: sc, metric: 'waypoint CPU seconds per 1,000 requests (closed loop; target ≤ 0.25)', waypoint: m('waypoint.cpuPer1k') },
    { scenario: sc, metric: 'waypoint RSS at 1,000 req/s (MB; target ≤ 100)', waypoint: m('waypoint.rss') },
  ];
}
