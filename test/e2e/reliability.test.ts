// Reliability on the local cluster, shortened for `npm test` and full length under
// `npm run reliability` (test/reliability/run.ts sets the environment):
// - no plaintext, ever: traffic between enrolled pods while ztunnel, the node agent and the
//   control plane are killed (SIGKILL) and restarted in random order; a capture on the link
//   between the nodes never holds the payload marker in clear, and requests started once the
//   component is back all succeed. Requests failed per kill are counted.
// - soak: steady mixed HTTP and TCP traffic; RSS and event-loop delay of every component sampled
//   from its /metrics, the least-squares slope reported and a growing RSS flagged.
// AMBIT_CHAOS_ROUNDS (default 5: each component once), AMBIT_SOAK_DURATION (default 60s); figures
// go to the JSON lines file AMBIT_RELIABILITY_OUT when set.
import { appendFileSync, readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { parseDuration } from '../../lib/config/duration.js';
import type { Pod } from '../../lib/k8s/types.js';
import { inNetns } from '../../lib/sys/netns.js';
import { metricValue, trend, type Sample, type Trend } from '../reliability/stats.js';
import { startCapture } from './capture.js';
import { ROOT, TestCluster, eventually, run } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'mesh-app.yaml');
const ROUNDS = Number(process.env.AMBIT_CHAOS_ROUNDS ?? 5);
/** The load during each kill: failed requests / this rate ≈ how long new requests failed. */
const CHAOS_QPS = 20;
const SOAK_MS = parseDuration(process.env.AMBIT_SOAK_DURATION ?? '60s', 'AMBIT_SOAK_DURATION');
/** CI fails on a climb this steep (MB a minute); the report flags far smaller growth. */
const MAX_RSS_MB_PER_MIN = Number(process.env.AMBIT_SOAK_MAX_RSS_MB_PER_MIN ?? 100);

function figure(kind: string, data: Record<string, unknown>): void {
  const out = process.env.AMBIT_RELIABILITY_OUT;
  if (out) appendFileSync(out, `${JSON.stringify({ kind, ...data })}\n`);
}

interface LoadReport {
  requests: number;
  /** Connections the client lost and reopened (the load goes on over a new one). */
  reconnects: number;
  ok: number;
  errorCount: number;
  errors: Record<string, number>;
}

/** A small seeded generator, so that a failing order can be replayed (AMBIT_CHAOS_SEED). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 0x1_0000_0000;
  };
}

t.test('reliability on a 2-node cluster', async (t) => {
  const c = new TestCluster('reliability');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const cluster = JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string; forwards: Record<string, string> };
  const prefix = cluster.prefix;
  const pods = (await c.json<{ items: Pod[] }>('get', 'pods', '-n', 'mesh')).items;
  const client = pods.find((p) => p.metadata.labels?.app === 'client')!;
  const clientRef = `mesh/${client.metadata.name}`;
  const pidOf = (name: string): number => Number(readFileSync(path.join(c.stateDir, 'components', `${name}.pid`), 'utf8').trim().split(' ')[0]);
  /** A load from the client pod; `--duration` may exceed TestCluster's 4-minute command limit. */
  const load = async (args: string[], limitMs = 240_000): Promise<LoadReport> => {
    const r = await run(['exec', clientRef, '--state-dir', c.stateDir, '--', 'ambit', 'echo', 'client', ...args, '--json'], { timeoutMs: limitMs, env: c.env });
    if (!r.stdout.trim().startsWith('{')) throw new Error(`echo client failed (${r.code}): ${r.stderr}`);
    return JSON.parse(r.stdout) as LoadReport;
  };
  const once = async (): Promise<boolean> => (await c.try('exec', clientRef, '--', 'ambit', 'echo', 'request', 'http://server/', '--timeout', '3s')).code === 0;
  await eventually('the mesh answering', once, 60_000);
  /** Connections from the client pod that its node's ztunnel opened: the sign that a load is flowing. */
  const openedFromClient = async (): Promise<number> => {
    const text = await (await fetch(`http://${cluster.forwards['ztunnel node-1 metrics']}/metrics`)).text();
    let n = 0;
    for (const m of text.matchAll(/^istio_tcp_connections_opened_total\{([^}]*)\} (\d+)/gm)) {
      if (m[1]!.includes('reporter="source"') && m[1]!.includes('source_principal="spiffe://cluster.local/ns/mesh/sa/client"')) n += Number(m[2]);
    }
    return n;
  };

  await t.test(`no plaintext while components are killed and restarted (${ROUNDS} rounds)`, async (t) => {
    const seed = Number(process.env.AMBIT_CHAOS_SEED ?? Date.now() % 1_000_000);
    const random = rng(seed);
    const components = ['ztunnel-node-1', 'ztunnel-node-2', 'cni-agent-node-1', 'cni-agent-node-2', 'control'];
    const marker = `ambit-plaintext-marker-${process.pid}-${Date.now()}`;
    const cap = await startCapture(`${prefix}-fabric`);
    const rounds: Record<string, unknown>[] = [];
    let callMs = 0;
    try {
      const t0 = Date.now();
      await once();
      callMs = Date.now() - t0;
      let cycle: string[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        // Every component in turn, in a fresh random order each cycle.
        if (i % components.length === 0) cycle = [...components].sort(() => random() - 0.5);
        const name = cycle[i % components.length]!;
        const pid = pidOf(name);
        const baseline = await openedFromClient();
        const running = load(['http://server/', '--qps', String(CHAOS_QPS), '--connections', '2', '--duration', '10s', '--timeout', '2s', '-H', `x-marker:${marker}`]);
        // Killed while traffic flows: once both load connections are open end to end, then a while later.
        await eventually('the load flowing', async () => (await openedFromClient()) >= baseline + 2, 30_000, 100).catch(async (e: Error) => {
          // Say why the load never started, if it failed.
          throw new Error(`${e.message}; the load: ${await running.then((r) => JSON.stringify(r), (x: Error) => x.message)}`);
        });
        await new Promise((r) => setTimeout(r, 500 + random() * 2000));
        const killedAt = Date.now();
        process.kill(pid, 'SIGKILL');
        // Recovery is timed while the load goes on: from the kill to the restarted process
        // serving a fresh request.
        const back = (async () => {
          await eventually(`${name} restarted`, async () => pidOf(name) !== pid, 60_000, 50);
          const restartedMs = Date.now() - killedAt;
          await eventually(`traffic after ${name} came back`, once, 60_000, 100);
          return { restartedMs, recoveryMs: Date.now() - killedAt };
        })();
        const [during, { restartedMs, recoveryMs }] = await Promise.all([running, back]);
        // Requests started once the component is back: none may fail.
        const after = await load(['http://server/', '--count', '20', '--connections', '2', '--timeout', '3s', '-H', `x-marker:${marker}`]);
        t.equal(after.errorCount, 0, `round ${i + 1}, ${name}: requests started after it came back succeed (${JSON.stringify(after.errors)})`);
        const row = { round: i + 1, component: name, requests: during.requests, failed: during.errorCount, errors: during.errors, reconnects: during.reconnects, restartedMs, recoveryMs, afterOk: after.ok, afterFailed: after.errorCount };
        rounds.push(row);
        t.comment(JSON.stringify(row));
      }
    } finally {
      const seen = await cap.stop();
      const clear = seen.text.includes(marker);
      t.notOk(clear, 'the payload marker never crossed the nodes in clear');
      t.ok((seen.ports.get(15008) ?? 0) > 0, `HBONE on the wire (${seen.packets} packets)`);
      t.notOk(seen.ports.has(8080), 'no plaintext connection to the app port between nodes');
      figure('chaos', { seed, callMs, qps: CHAOS_QPS, rounds, packets: seen.packets, hbonePackets: seen.ports.get(15008) ?? 0, appPortPackets: seen.ports.get(8080) ?? 0, markerInClear: clear });
    }
  });

  await t.test(`soak: steady mixed traffic for ${Math.round(SOAK_MS / 1000)} s, memory and event-loop delay flat`, async (t) => {
    const targets: { name: string; fetch: () => Promise<string> }[] = [
      ...['node-1', 'node-2'].map((n) => ({ name: `ztunnel-${n}`, fetch: async () => (await fetch(`http://${cluster.forwards[`ztunnel ${n} metrics`]}/metrics`)).text() })),
      { name: 'control', fetch: async () => (await fetch(`http://${cluster.forwards['control (metrics, /debug/model)']}/metrics`)).text() },
      ...['node-1', 'node-2'].map((n) => ({
        name: `cni-agent-${n}`,
        fetch: async () => (await inNetns(`${prefix}-${n}`, process.execPath, ['-e', "fetch('http://127.0.0.1:15014/metrics').then(r=>r.text()).then(t=>process.stdout.write(t))"])).stdout,
      })),
    ];
    const rss = new Map<string, Sample[]>(targets.map((x) => [x.name, []]));
    const lag = new Map<string, Sample[]>(targets.map((x) => [x.name, []]));
    const duration = `${Math.round(SOAK_MS / 1000)}s`;
    const limit = SOAK_MS + 180_000;
    const http = load(['http://server/', '--qps', '40', '--connections', '4', '--duration', duration, '--timeout', '3s'], limit);
    const tcp = load(['tcp://server:9000', '--qps', '10', '--connections', '2', '--duration', duration, '--timeout', '3s'], limit);
    const start = Date.now();
    // Samples from the end of the warm-up (a tenth of the run, at most a minute) on.
    const warmup = Math.min(60_000, SOAK_MS / 10);
    const every = Math.max(2000, Math.min(30_000, SOAK_MS / 60));
    while (Date.now() - start < SOAK_MS) {
      await new Promise((r) => setTimeout(r, every));
      if (Date.now() - start < warmup) continue;
      const at = (Date.now() - start) / 1000;
      await Promise.all(
        targets.map(async (x) => {
          const text = await x.fetch().catch(() => '');
          const r = metricValue(text, 'process_resident_memory_bytes');
          const l = metricValue(text, 'nodejs_eventloop_lag_p99_seconds');
          if (r !== undefined) rss.get(x.name)!.push({ t: at, v: r });
          if (l !== undefined) lag.get(x.name)!.push({ t: at, v: l });
        }),
      );
    }
    const [h, p] = await Promise.all([http, tcp]);
    const requests = h.requests + p.requests;
    const failed = h.errorCount + p.errorCount;
    t.ok(requests > 0 && failed <= requests * 0.01, `mixed traffic: ${requests} requests, ${failed} failed (${JSON.stringify({ ...h.errors, ...p.errors })})`);
    const components: Record<string, { rss: Trend; lagP99: Trend }> = {};
    for (const x of targets) {
      const r = trend(rss.get(x.name)!, 0.1, 1 << 20);
      const l = trend(lag.get(x.name)!, 0.5, 0.001);
      components[x.name] = { rss: r, lagP99: l };
      t.ok(r.samples >= 2, `${x.name}: ${r.samples} RSS samples`);
      // A short run's slope is mostly garbage-collector noise: only a steep, sustained climb fails it.
      t.ok(r.samples < 5 || !r.grows || r.slopePerMinute < MAX_RSS_MB_PER_MIN * (1 << 20), `${x.name}: RSS ${(r.first / 2 ** 20).toFixed(1)} → ${(r.last / 2 ** 20).toFixed(1)} MiB, slope ${(r.slopePerMinute / 2 ** 20).toFixed(2)} MiB/min${r.grows ? ' (GROWS)' : ''}`);
      t.comment(`${x.name}: event-loop p99 ${(l.first * 1000).toFixed(1)} → ${(l.last * 1000).toFixed(1)} ms, slope ${(l.slopePerMinute * 1000).toFixed(3)} ms/min${l.grows ? ' (GROWS)' : ''}`);
    }
    figure('soak', { durationMs: SOAK_MS, requests, failed, http: h, tcp: p, components });
  });
});
