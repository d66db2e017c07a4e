// Control plane benchmark (not a test): N workloads and M services in an in-memory ClusterStore,
// the real control plane (TLS gRPC on loopback), C delta-xDS clients in child processes (so the
// control plane's RSS is its own, and the clients can use the other cores). Measures the initial push to every client and the latency from
// one pod change to every client having it; prints JSON and a Markdown table.
//
//   node dist-test/test/bench/control.js [--workloads 10000] [--services 1000] [--clients 50] [--changes 20]
//     [--client-processes 2] [--raw-clients] [--debounce-quiet 50ms] [--max-concurrent-syncs 8]
import { fork, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { startControlPlane } from '../../control/app.js';
import { resolveConfig } from '../../control/config.js';
import { syntheticCluster } from '../../control/model/testkit.js';
import { createLogger } from '../../lib/telemetry/log.js';
import { XdsClient } from '../../lib/xds/client.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from '../../lib/xds/types.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import { RawAdsClient } from './raw-client.js';

type ToChild = { type: 'start'; address: string; rootPem: string; token: string; clients: number; first: number; raw: boolean } | { type: 'expect'; seq: number; name: string } | { type: 'stop' };
type ToParent = { type: 'ready' } | { type: 'synced'; resources: number; cpuMs: number } | { type: 'armed'; seq: number } | { type: 'seen'; seq: number } | { type: 'error'; message: string };

const { values: args } = parseArgs({
  options: {
    workloads: { type: 'string', default: '10000' },
    services: { type: 'string', default: '1000' },
    namespaces: { type: 'string', default: '50' },
    clients: { type: 'string', default: '50' },
    'client-processes': { type: 'string', default: '2' },
    /** Clients that ACK without decoding resources (see rawclient.ts). */
    'raw-clients': { type: 'boolean', default: false },
    changes: { type: 'string', default: '20' },
    'debounce-quiet': { type: 'string', default: '50ms' },
    'max-concurrent-syncs': { type: 'string', default: '8' },
    role: { type: 'string', default: 'main' },
  },
});

// ---- the clients (child process) ----------------------------------------------------------------

interface BenchClient {
  synced: Promise<void>;
  close(): void;
  /** Resources held (or received, for raw clients), all types. */
  resources(): number;
}

function xdsClient(m: Extract<ToChild, { type: 'start' }>, i: number, seen: (names: string[]) => void): BenchClient {
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${m.token}`);
  const c = new XdsClient({
    address: m.address,
    credentials: grpc.credentials.createSsl(Buffer.from(m.rootPem)),
    // One connection per client, as separate ztunnels would have.
    channelOptions: { 'grpc.use_local_subchannel_pool': 1, 'grpc.ssl_target_name_override': 'istiod.istio-system.svc' },
    node: { id: `ztunnel~10.0.0.1~bench-ztunnel-${m.first + i}.istio-system~istio-system.svc.cluster.local`, metadata: { NODE_NAME: 'node-1' } },
    metadata: () => md,
    types: [
      { typeUrl: TYPE_ADDRESS, handler: (up) => seen(up.map((r) => r.name)) },
      { typeUrl: TYPE_AUTHORIZATION, handler: () => undefined },
    ],
  });
  c.start();
  return { synced: c.synced, close: () => c.close(), resources: () => c.versions(TYPE_ADDRESS).size + c.versions(TYPE_AUTHORIZATION).size };
}

function rawClient(m: Extract<ToChild, { type: 'start' }>, i: number, seen: (names: string[]) => void): BenchClient {
  let count = 0;
  const c = new RawAdsClient(m.address, m.rootPem, m.token, `ztunnel~10.0.0.1~bench-raw-${m.first + i}.istio-system~istio-system.svc.cluster.local`, [TYPE_ADDRESS, TYPE_AUTHORIZATION], (r) => {
    count += r.resources;
    if (r.typeUrl === TYPE_ADDRESS) seen(r.names);
  });
  return { synced: c.synced, close: () => c.close(), resources: () => count };
}

function runClients(): void {
  const send = (m: ToParent): void => void process.send?.(m);
  let expected: { seq: number; name: string; have: Set<number> } | undefined;
  let total = 0;
  const clients: BenchClient[] = [];
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
    const cpu0 = process.cpuUsage();
    for (let i = 0; i < m.clients; i++) {
      const seen = (names: string[]): void => {
        const e = expected;
        if (!e || e.have.has(i) || !names.includes(e.name)) return;
        e.have.add(i);
        if (e.have.size === total) send({ type: 'seen', seq: e.seq });
      };
      clients.push(m.raw ? rawClient(m, i, seen) : xdsClient(m, i, seen));
    }
    void Promise.all(clients.map((c) => c.synced)).then(
      () => {
        const cpu = process.cpuUsage(cpu0);
        send({ type: 'synced', resources: clients[0]!.resources(), cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
      },
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

/** The next message of a type from every child. */
function fromAll(children: ChildProcess[], want: ToParent['type'], timeoutMs: number): Promise<ToParent[]> {
  return Promise.all(children.map((c) => nextMessage(c, want, timeoutMs)));
}

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
  const nProcs = Math.max(1, Math.min(nClients, Number(args['client-processes'])));
  const children = Array.from({ length: nProcs }, () => fork(fileURLToPath(import.meta.url), ['--role', 'clients'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const sendAll = (m: ToChild): void => children.forEach((c) => c.send(m));
  try {
    const cluster = syntheticCluster(workloads, services, Number(args.namespaces));
    const store = new MemoryStore();
    store.load([...cluster.namespaces, ...cluster.services, ...cluster.pods, ...cluster.authorizationPolicies, ...cluster.peerAuthentications, ...cluster.gateways]);
    const rssBefore = process.memoryUsage().rss;
    const config = resolveConfig({ stateDir, grpcAddress: '127.0.0.1:0', monitoringAddress: '127.0.0.1:0', readinessAddress: '127.0.0.1:0', dashboardAddress: '127.0.0.1:0', debounceQuiet: args['debounce-quiet'], maxConcurrentSyncs: args['max-concurrent-syncs'], status: false }, {});
    const t0 = performance.now();
    const plane = await startControlPlane(config, { store, logger: createLogger('control', 'warn') });
    const startupMs = performance.now() - t0;
    const rssStarted = process.memoryUsage().rss;
    await fromAll(children, 'ready', 30_000);

    let peakRss = process.memoryUsage().rss;
    const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
    const cpu0 = process.cpuUsage();
    const t1 = performance.now();
    const token = plane.issueNodeCredential('node-1');
    children.forEach((c, k) => {
      const first = Math.floor((k * nClients) / nProcs);
      const clients = Math.floor(((k + 1) * nClients) / nProcs) - first;
      c.send({ type: 'start', address: plane.addresses.grpc, rootPem: plane.rootCertPem, token, clients, first, raw: args['raw-clients'] } satisfies ToChild);
    });
    const syncedAll = (await fromAll(children, 'synced', 120_000)) as Array<Extract<ToParent, { type: 'synced' }>>;
    const synced = { resources: syncedAll[0]!.resources, cpuMs: syncedAll.reduce((a, x) => a + x.cpuMs, 0) };
    const initialPushMs = performance.now() - t1;
    const cpu = process.cpuUsage(cpu0);
    const memAfterPush = process.memoryUsage();
    const rssAfterPush = memAfterPush.rss;

    const latencies: number[] = [];
    for (let i = 0; i < nChanges; i++) {
      const pod = cluster.pods[(i * 7919) % cluster.pods.length]!;
      const name = `Kubernetes//Pod/${pod.metadata.namespace}/${pod.metadata.name}`;
      sendAll({ type: 'expect', seq: i, name });
      await fromAll(children, 'armed', 10_000);
      const start = performance.now();
      await store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: pod.metadata.namespace, name: pod.metadata.name }, { metadata: { labels: { ...pod.metadata.labels, version: `v${i + 2}` } } });
      await fromAll(children, 'seen', 30_000);
      latencies.push(performance.now() - start);
      await new Promise((r) => setTimeout(r, 20));
    }
    clearInterval(sampler);
    const finalRss = process.memoryUsage().rss;
    sendAll({ type: 'stop' });
    await plane.close();

    const result = {
      workloads, services, clients: nClients, clientKind: args['raw-clients'] ? 'raw (no decoding)' : 'XdsClient', clientProcesses: nProcs, resourcesPerClient: synced.resources, debounceQuiet: config.debounce.quietMs, maxConcurrentSyncs: config.maxConcurrentSyncs,
      startupMs: Math.round(startupMs),
      initialPushMs: Math.round(initialPushMs),
      initialPushCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      clientsCpuMs: synced.cpuMs,
      changeLatencyMs: { median: round(median(latencies)), min: round(Math.min(...latencies)), max: round(Math.max(...latencies)), samples: latencies.length },
      rssMb: { storeLoaded: mb(rssBefore), started: mb(rssStarted), afterInitialPush: mb(rssAfterPush), peak: mb(Math.max(peakRss, finalRss)), final: mb(finalRss) },
      afterPushMb: { heapUsed: mb(memAfterPush.heapUsed), heapTotal: mb(memAfterPush.heapTotal), external: mb(memAfterPush.external), arrayBuffers: mb(memAfterPush.arrayBuffers) },
      goals: { initialPushUnder2s: initialPushMs < 2000, changeUnder100ms: median(latencies) < 100, rssUnder400Mb: mb(Math.max(peakRss, finalRss)) < 400 },
    };
    process.stdout.write(JSON.stringify(result, null, 2) + '\n\n');
    const ok = (b: boolean): string => (b ? 'met' : 'MISSED');
    process.stdout.write(
      [
        `| control plane, ${workloads} workloads / ${services} services / ${nClients} ${args['raw-clients'] ? 'raw (non-decoding) clients' : 'XdsClients'} | value | goal |`,
        '|---|---|---|',
        `| startup (load store, build model, TLS, listen) | ${result.startupMs} ms | — |`,
        `| initial push to all ${nClients} clients (${synced.resources} resources each) | ${result.initialPushMs} ms (CPU: control plane ${result.initialPushCpuMs} ms; the clients, in ${nProcs} processes, ${result.clientsCpuMs} ms) | < 2000 ms: ${ok(result.goals.initialPushUnder2s)} |`,
        `| one pod change → every client has it (median of ${latencies.length}) | ${result.changeLatencyMs.median} ms (min ${result.changeLatencyMs.min}, max ${result.changeLatencyMs.max}; debounce ${config.debounce.quietMs} ms) | < 100 ms: ${ok(result.goals.changeUnder100ms)} |`,
        `| control-plane RSS (peak) | ${result.rssMb.peak} MB (store loaded ${result.rssMb.storeLoaded}, after push ${result.rssMb.afterInitialPush}) | < 400 MB: ${ok(result.goals.rssUnder400Mb)} |`,
      ].join('\n') + '\n',
    );
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

if (args.role === 'clients') runClients();
else
  runMain().catch((e: unknown) => {
    process.stderr.write(`control benchmark failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  });
