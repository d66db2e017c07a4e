// Control plane benchmark (not a test): N workloads and M services in an in-memory ClusterStore,
// the real control plane (TLS gRPC on loopback), C delta-xDS clients in a child process (so the
// control plane's RSS is its own). Measures the initial push to every client and the latency from
// one pod change to every client having it; prints JSON and a Markdown table.
//
//   node dist/test/bench/control.js [--workloads 10000] [--services 1000] [--clients 50] [--changes 20]
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { resolveConfig, startControlPlane } from '../../control/main.js';
import { syntheticCluster } from '../../control/model/testkit.js';
import { createLogger } from '../../lib/telemetry/log.js';
import { XdsClient } from '../../lib/xds/client.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from '../../lib/xds/types.js';
import { MemoryStore } from './memstore.js';

type ToChild = { type: 'start'; address: string; rootPem: string; token: string; clients: number } | { type: 'expect'; seq: number; name: string } | { type: 'stop' };
type ToParent = { type: 'ready' } | { type: 'synced'; resources: number } | { type: 'armed'; seq: number } | { type: 'seen'; seq: number } | { type: 'error'; message: string };

const { values: args } = parseArgs({
  options: {
    workloads: { type: 'string', default: '10000' },
    services: { type: 'string', default: '1000' },
    namespaces: { type: 'string', default: '50' },
    clients: { type: 'string', default: '50' },
    changes: { type: 'string', default: '20' },
    'debounce-quiet': { type: 'string', default: '50ms' },
    role: { type: 'string', default: 'main' },
  },
});

// ---- the clients (child process) ----------------------------------------------------------------

function runClients(): void {
  const send = (m: ToParent): void => void process.send?.(m);
  let expected: { seq: number; name: string; have: Set<number> } | undefined;
  let total = 0;
  const clients: XdsClient[] = [];
  process.on('message', (m: ToChild) => {
    if (m.type === 'stop') {
      for (const c of clients) c.close();
      process.exit(0);
    }
    if (m.type === 'expect') {
      expected = { seq: m.seq, name: m.name, have: new Set() };
      send({ type: 'armed', seq: m.seq });
      return;
    }
    total = m.clients;
    const md = new grpc.Metadata();
    md.set('authorization', `Bearer ${m.token}`);
    for (let i = 0; i < m.clients; i++) {
      const seen = (upserts: ReadonlyArray<{ name: string }>): void => {
        const e = expected;
        if (!e || e.have.has(i) || !upserts.some((r) => r.name === e.name)) return;
        e.have.add(i);
        if (e.have.size === total) send({ type: 'seen', seq: e.seq });
      };
      const c = new XdsClient({
        address: m.address,
        credentials: grpc.credentials.createSsl(Buffer.from(m.rootPem)),
        // One connection per client, as separate ztunnels would have.
        channelOptions: { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' },
        node: { id: `bench-ztunnel-${i}` },
        metadata: () => md,
        types: [
          { typeUrl: TYPE_ADDRESS, handler: (up) => seen(up) },
          { typeUrl: TYPE_AUTHORIZATION, handler: () => undefined },
        ],
      });
      clients.push(c);
      c.start();
    }
    void Promise.all(clients.map((c) => c.synced)).then(
      () => send({ type: 'synced', resources: clients[0]!.versions(TYPE_ADDRESS).size + clients[0]!.versions(TYPE_AUTHORIZATION).size }),
      (e: unknown) => send({ type: 'error', message: (e as Error).message }),
    );
  });
  send({ type: 'ready' });
}

// ---- the control plane and the measurements (main process) -------------------------------------

const mb = (n: number): number => Math.round(n / 1048576);
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s[Math.floor((s.length - 1) / 2)]! + s[Math.ceil((s.length - 1) / 2)]!) / 2 : NaN;
};
const round = (n: number): number => Math.round(n * 10) / 10;

function nextMessage(child: ChildProcess, want: ToParent['type'], timeoutMs: number): Promise<ToParent> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`benchmark clients: no '${want}' within ${timeoutMs} ms`)), timeoutMs);
    const on = (m: ToParent): void => {
      if (m.type === 'error') reject(new Error(`benchmark clients: ${m.message}`));
      else if (m.type !== want) return;
      clearTimeout(timer);
      child.off('message', on);
      resolve(m);
    };
    child.on('message', on);
  });
}

async function runMain(): Promise<void> {
  const workloads = Number(args.workloads);
  const services = Number(args.services);
  const nClients = Number(args.clients);
  const nChanges = Number(args.changes);
  const stateDir = mkdtempSync(path.join(tmpdir(), `ambit-bench-control-${process.pid}-`));
  const child = fork(fileURLToPath(import.meta.url), ['--role', 'clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const cluster = syntheticCluster(workloads, services, Number(args.namespaces));
    const store = new MemoryStore();
    store.load([...cluster.namespaces, ...cluster.services, ...cluster.pods, ...cluster.authorizationPolicies, ...cluster.peerAuthentications, ...cluster.gateways]);
    const rssBefore = process.memoryUsage().rss;
    const config = resolveConfig({ stateDir, grpcAddress: '127.0.0.1:0', monitoringAddress: '127.0.0.1:0', readinessAddress: '127.0.0.1:0', debounceQuiet: args['debounce-quiet'], status: false }, {});
    const t0 = performance.now();
    const plane = await startControlPlane(config, { store, logger: createLogger('control', 'warn') });
    const startupMs = performance.now() - t0;
    const rssStarted = process.memoryUsage().rss;
    await nextMessage(child, 'ready', 30_000);

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    child.send({ type: 'start', address: plane.addresses.grpc, rootPem: plane.rootCertPem, token: plane.issueNodeCredential('node-1'), clients: nClients } satisfies ToChild);
    const synced = (await nextMessage(child, 'synced', 120_000)) as Extract<ToParent, { type: 'synced' }>;
    const initialPushMs = performance.now() - t1;
    const cpu = process.cpuUsage(cpu0);
    const memAfterPush = process.memoryUsage();
    const rssAfterPush = memAfterPush.rss;

    const latencies: number[] = [];
    for (let i = 0; i < nChanges; i++) {
      const pod = cluster.pods[(i * 7919) % cluster.pods.length]!;
      const name = `Kubernetes//Pod/${pod.metadata.namespace}/${pod.metadata.name}`;
      child.send({ type: 'expect', seq: i, name } satisfies ToChild);
      await nextMessage(child, 'armed', 10_000);
      const start = performance.now();
      await store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name }, { metadata: { labels: { ...pod.metadata.labels, version: `v${i + 2}` } } });
      await nextMessage(child, 'seen', 30_000);
      latencies.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(sampler);
    const finalRss = process.memoryUsage().rss;
    child.send({ type: 'stop' } satisfies ToChild);
    await plane.close();

    const result = {
      workloads, services, clients: nClients, resourcesPerClient: synced.resources, debounceQuiet: config.debounce.quietMs,
      startupMs: Math.round(startupMs),
      initialPushMs: Math.round(initialPushMs),
      initialPushCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      changeLatencyMs: { median: round(median(latencies)), min: round(Math.min(...latencies)), max: round(Math.max(...latencies)), samples: latencies.length },
      rssMb: { storeLoaded: mb(rssBefore), started: mb(rssStarted), afterInitialPush: mb(rssAfterPush), peak: mb(Math.max(peakRss, finalRss)), final: mb(finalRss) },
      afterPushMb: { heapUsed: mb(memAfterPush.heapUsed), heapTotal: mb(memAfterPush.heapTotal), external: mb(memAfterPush.external), arrayBuffers: mb(memAfterPush.arrayBuffers) },
      goals: { initialPushUnder2s: initialPushMs < 2000, changeUnder100ms: median(latencies) < 100, rssUnder400Mb: mb(Math.max(peakRss, finalRss)) < 400 },
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n\n');
    const ok = (b: boolean): string => (b ? 'met' : 'MISSED');
    process.stdout.write(
      [
        `| control plane, ${workloads} workloads / ${services} services / ${nClients} clients | value | goal |`,
        '|---|---|---|',
        `| startup (load store, build model, TLS, listen) | ${result.startupMs} ms | — |`,
        `| initial push to all ${nClients} clients (${synced.resources} resources each) | ${result.initialPushMs} ms (control-plane CPU ${result.initialPushCpuMs} ms) | < 2000 ms: ${ok(result.goals.initialPushUnder2s)} |`,
        `| one pod change → every client has it (median of ${latencies.length}) | ${result.changeLatencyMs.median} ms (min ${result.changeLatencyMs.min}, max ${result.changeLatencyMs.max}; debounce ${config.debounce.quietMs} ms) | < 100 ms: ${ok(result.goals.changeUnder100ms)} |`,
        `| control-plane RSS (peak) | ${result.rssMb.peak} MB (store loaded ${result.rssMb.storeLoaded}, after push ${result.rssMb.afterInitialPush}) | < 400 MB: ${ok(result.goals.rssUnder400Mb)} |`,
      ].join('\n') + '\n',
    );
  } finally {
    if (child.exitCode === null) child.kill();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (args.role === 'clients') runClients();
else
  runMain().catch((e: unknown) => {
    process.stderr.write(`control benchmark failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
