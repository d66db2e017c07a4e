// The shape of upstream ztunnel's own benchmark, on loopback: four processes, client → ztunnel-out
// → ztunnel-in → server, against the client talking to the server directly, rounds interleaved so
// that both columns see the same machine load. Rows: bulk throughput on one connection, 1 KiB
// ping-pong latency on one connection, new connections per second to one destination with the
// HBONE pool warm and cold, and first-byte latency on a warm pool. Then the same node: one ztunnel
// process serving both pods, over HBONE (handoff off) and with the in-process same-node handoff.
//
//   node dist/test/bench/loopback-hops.js [--rounds 3]      (prints the rows as JSON on its last line)
//
// This process is the client; it forks the server and both ztunnels (each a PodProxy with its own
// state, certificates from a test PKI, pods as 127.0.0.x addresses, the original destination
// told by the client's source address since nothing redirects here).
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Registry } from 'prom-client';
import { createTestPki } from '../../lib/hbone/testkit.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import { AccessLog } from '../../lib/telemetry/access-log.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { TcpMetrics } from '../../lib/telemetry/metrics.js';
import { ConnectionManager } from '../../ztunnel/proxy/connection-manager.js';
import type { ProxyInputs } from '../../ztunnel/proxy/context.js';
import { LocalPods } from '../../ztunnel/proxy/local-pods.js';
import { PodProxy, type PodProxyOptions } from '../../ztunnel/proxy/pod-proxy.js';
import type { PodNet } from '../../ztunnel/proxy/sockets.js';
import { ProxyState } from '../../ztunnel/state/state.js';
import { authz, wl } from '../../ztunnel/state/testkit.js';
import { median, type Row } from './table.js';

/** The client pod (warm pool), the client pod whose pool forgets a connection 20 ms after its last stream, the server pod. */
const A = '127.0.0.2';
const A_COLD = '127.0.0.5';
const B = '127.0.0.3';
/** Client source addresses: which one a connection comes from tells ztunnel-out its original destination. */
const TO_ECHO = '127.0.1.1';
const TO_SINK = '127.0.1.2';
const COLD_IDLE_MS = 20;
const id = (sa: string): string => `spiffe://cluster.local/ns/bench/sa/${sa}`;

type Role = 'server' | 'zt-in' | 'zt-out' | 'zt-node';
interface Setup {
  hbonePort: number;
  /** zt-node: its own HBONE port (B's 15008 stand-in is zt-in's) and whether pods hand off in process. */
  node?: { hbonePort: number; handoff: boolean };
  echoPort: number;
  sinkPort: number;
  creds: Record<string, Credentials>;
}
type ToChild = { type: 'start'; setup: Setup } | { type: 'churn'; on: boolean };
type ToParent = { type: 'ready'; ports: Record<string, number> };

const { values: args } = parseArgs({ options: { role: { type: 'string' }, rounds: { type: 'string', default: '3' } } });

function listen(host: string, port = 0, opts: net.ServerOpts = {}): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true, ...opts });
  s.listen(port, host);
  return once(s, 'listening').then(() => s);
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

function connectFrom(localAddress: string, host: string, port: number): Promise<net.Socket> {
  const s = net.connect({ host, port, localAddress, allowHalfOpen: true, noDelay: true });
  return new Promise((resolve, reject) => s.once('connect', () => resolve(s)).once('error', reject));
}

// ---- the server and the two ztunnels (child processes) ------------------------------------------

/** Echo on one port; on the other, discard and answer "done" at the end. */
async function server(): Promise<Record<string, number>> {
  const echo = await listen(B, 0, { noDelay: true });
  echo.on('connection', (s: net.Socket) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  const sink = await listen(B, 0, { noDelay: true });
  sink.on('connection', (s: net.Socket) => {
    s.on('error', () => {});
    s.resume();
    s.on('end', () => s.end('done'));
  });
  return { echo: portOf(echo), sink: portOf(sink) };
}

/** Loopback "pods": sockets leave from the pod's own address (or the client's, for deliveries). */
function podNet(ip: string): PodNet {
  const dial = (from: string, host: string, port: number, timeoutMs: number): Promise<net.Socket> =>
    new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress: from, allowHalfOpen: true, noDelay: true });
      const timer = setTimeout(() => s.destroy(new Error(`connect to ${host}:${port} timed out`)), timeoutMs);
      s.once('connect', () => (clearTimeout(timer), resolve(s))).once('error', (e) => (clearTimeout(timer), reject(e)));
    });
  return {
    startConnect: (host, port) => net.connect({ host, port, localAddress: ip, noDelay: true }),
    connect: (host, port, timeoutMs) => dial(ip, host, port, timeoutMs),
    // The client's addresses stand for the app of pod A (they only tell original destinations
    // apart): a delivery on behalf of one leaves from A, as for a real app in A (the HBONE path's
    // peer is A too). Binding both the client's and the delivery's sockets to one address would
    // make every new connection pay the kernel's bind-port search twice on it.
    connectAs: (sourceIp, host, port, timeoutMs) => dial(sourceIp === TO_ECHO || sourceIp === TO_SINK ? A : sourceIp, host, port, timeoutMs),
  };
}

/** This child's ztunnel state (for the policy churn). */
let childState: ProxyState | undefined;

async function ztunnel(role: 'zt-in' | 'zt-out' | 'zt-node', s: Setup): Promise<Record<string, number>> {
  const hbonePort = s.node?.hbonePort ?? s.hbonePort;
  const state = new ProxyState({ hbonePort });
  childState = state;
  state.applyAddresses([
    wl('a', { ns: 'bench', ips: [A], sa: 'client' }),
    wl('a-cold', { ns: 'bench', ips: [A_COLD], sa: 'client' }),
    wl('b', { ns: 'bench', ips: [B], sa: 'server' }),
  ], []);
  const dsts: Record<string, number> = { [TO_ECHO]: s.echoPort, [TO_SINK]: s.sinkPort };
  const inputs: ProxyInputs = {
    state,
    certs: { get: async (identity) => s.creds[identity] ?? Promise.reject(new Error(`no certificate for ${identity}`)) },
    telemetry: { metrics: new TcpMetrics(new Registry()), accessLog: new AccessLog(silentLogger()) },
    connections: new ConnectionManager(state, silentLogger()),
    logger: silentLogger(),
    originalDst: (sock) => {
      const port = dsts[sock.remoteAddress ?? ''];
      if (!port) throw new Error(`no original destination for a connection from ${sock.remoteAddress}`);
      return { address: B, port, family: 4 };
    },
    sourceWaitMs: 1000,
    connectTimeoutMs: 5000,
    ...(s.node ? { localPods: new LocalPods(s.node.handoff) } : {}),
  };
  const start = async (name: string, ip: string, sa: string, hbonePort: number, opts: PodProxyOptions = {}): Promise<number> => {
    const proxy = new PodProxy(inputs, { uid: name, name, namespace: 'bench', serviceAccount: sa, identity: id(sa) }, podNet(ip), opts);
    const outbound = await listen(ip);
    await proxy.start({ outbound, plaintext: await listen(ip), hbone: { port: hbonePort, host: ip } });
    return portOf(outbound);
  };
  if (role === 'zt-in') return { hbone: await start('b', B, 'server', s.hbonePort) };
  if (role === 'zt-node') {
    await start('b', B, 'server', hbonePort);
    return { warm: await start('a', A, 'client', 0) };
  }
  return { warm: await start('a', A, 'client', 0), cold: await start('a-cold', A_COLD, 'client', 0, { pool: { idleTimeoutMs: COLD_IDLE_MS } }) };
}

function child(role: Role): void {
  let stopChurn: (() => void) | undefined;
  process.on('message', (m: ToChild) => {
    if (m.type === 'churn') {
      stopChurn?.();
      stopChurn = m.on && childState ? startChurn(childState) : undefined;
      return;
    }
    const ready = role === 'server' ? server() : ztunnel(role, m.setup);
    ready.then(
      (ports) => process.send!({ type: 'ready', ports } satisfies ToParent),
      (e: unknown) => {
        console.error(`${role}:`, e);
        process.exit(1);
      },
    );
  });
  process.on('disconnect', () => process.exit(0));
}

/**
 * A policy push on a loop: every CHURN_EVERY_MS the namespace's CHURN_POLICIES DENY policies (for
 * principals that never connect, so traffic stays allowed) are replaced by new ones. Each push is
 * decoded state, a revalidation of every live connection and the garbage of both, on the event
 * loop that copies the bytes: the control work the data path competes with.
 */
const CHURN_POLICIES = 200;
const CHURN_EVERY_MS = 100;
function startChurn(state: ProxyState): () => void {
  let gen = 0;
  let names: string[] = [];
  const timer = setInterval(() => {
    gen++;
    const ups = Array.from({ length: CHURN_POLICIES }, (_, i) =>
      authz('bench', `churn-${gen}-${i}`, { action: 'DENY', rules: [[[{ principals: [{ matchType: { case: 'exact', value: `cluster.local/ns/other/sa/x${gen}-${i}` } }] }]]] }),
    );
    state.applyAuthorizations(ups, names);
    names = ups.map((u) => u.name);
  }, CHURN_EVERY_MS);
  return () => {
    clearInterval(timer);
    state.applyAuthorizations([], names);
  };
}

// ---- the client (this process) -------------------------------------------------------------------

async function startChild(role: Role, setup: Setup): Promise<{ proc: ChildProcess; ports: Record<string, number> }> {
  const proc = fork(fileURLToPath(import.meta.url), ['--role', role], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
  const ready = once(proc, 'message') as Promise<[ToParent]>;
  proc.send({ type: 'start', setup } satisfies ToChild);
  const [m] = await Promise.race([ready, once(proc, 'exit').then(() => Promise.reject(new Error(`bench ${role} process exited before it was ready`)))]);
  return { proc, ports: m.ports };
}

/** One connection, `mib` MiB one way, until the server says it has them all: Gb/s. */
async function bulk(host: string, port: number, mib: number): Promise<number> {
  const s = await connectFrom(TO_SINK, host, port);
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  const t0 = performance.now();
  const done = once(s, 'data');
  for (let sent = 0; sent < mib << 20; sent += chunk.length) if (!s.write(chunk)) await once(s, 'drain');
  s.end();
  await done;
  const gbps = ((mib << 20) * 8) / ((performance.now() - t0) / 1000) / 1e9;
  s.destroy();
  return gbps;
}

/** Sends `payload`, resolves when as many bytes came back. */
function exchange(s: net.Socket, payload: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let left = payload.length;
    const onData = (d: Buffer): void => {
      left -= d.length;
      if (left > 0) return;
      s.off('data', onData);
      resolve();
    };
    s.on('data', onData);
    s.write(payload);
  });
}

/** 1 KiB ping-pong on one connection: per-exchange latencies in ms. */
async function pingPong(host: string, port: number, n: number): Promise<number[]> {
  const s = await connectFrom(TO_ECHO, host, port);
  const kib = Buffer.alloc(1024, 0x61);
  for (let i = 0; i < 100; i++) await exchange(s, kib); // warm-up
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await exchange(s, kib);
    out.push(performance.now() - t0);
  }
  s.destroy();
  return out;
}

/** One new connection: connect, 1 KiB there and back, close. Returns ms until the echo, and ms until the first byte of it. */
async function oneConnection(host: string, port: number, payload: Buffer): Promise<{ total: number; firstByte: number }> {
  const t0 = performance.now();
  const s = await connectFrom(TO_ECHO, host, port);
  let firstByte = 0;
  s.once('data', () => (firstByte = performance.now() - t0));
  await exchange(s, payload);
  const total = performance.now() - t0;
  s.end();
  s.destroy();
  return { total, firstByte };
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

type Sample = Record<string, number[]>;
const push = (s: Sample, k: string, v: number): void => void (s[k] ??= []).push(v);

async function measure(host: string, ports: { echo: number; sink: number; cold?: number }, out: Sample): Promise<void> {
  push(out, 'gbps', await bulk(host, ports.sink, 256));
  const pp = await pingPong(host, ports.echo, 3000);
  push(out, 'pp50', percentile(pp, 50));
  push(out, 'pp99', percentile(pp, 99));
  const kib = Buffer.alloc(1024, 0x63);
  const t0 = performance.now();
  let n = 0;
  const firstBytes: number[] = [];
  while (performance.now() - t0 < 2000) {
    firstBytes.push((await oneConnection(host, ports.echo, kib)).firstByte);
    n++;
  }
  push(out, 'cps', n / ((performance.now() - t0) / 1000));
  push(out, 'fb50', percentile(firstBytes, 50));
  push(out, 'fb99', percentile(firstBytes, 99));
  if (ports.cold !== undefined) {
    // Past the idle timeout before each one: every connection needs a new HBONE connection (TCP + mTLS + HTTP/2).
    const totals: number[] = [];
    for (let i = 0; i < 60; i++) {
      await new Promise((r) => setTimeout(r, COLD_IDLE_MS * 3));
      totals.push((await oneConnection(A_COLD, ports.cold, kib)).total);
    }
    push(out, 'coldCps', 1000 / median(totals));
    push(out, 'cold50', percentile(totals, 50));
  }
}

async function main(): Promise<void> {
  const rounds = Number(args.rounds);
  const pki = await createTestPki();
  const creds = { [id('client')]: await pki.issue(id('client')), [id('server')]: await pki.issue(id('server')) };
  const probe = await listen(B);
  const hbonePort = portOf(probe);
  probe.close();
  const children: ChildProcess[] = [];
  try {
    const srv = await startChild('server', { hbonePort, echoPort: 0, sinkPort: 0, creds });
    children.push(srv.proc);
    const setup: Setup = { hbonePort, echoPort: srv.ports.echo!, sinkPort: srv.ports.sink!, creds };
    const zin = await startChild('zt-in', setup);
    children.push(zin.proc);
    const zout = await startChild('zt-out', setup);
    children.push(zout.proc);
    const nodePort = async (): Promise<number> => {
      const p = await listen(B);
      const port = portOf(p);
      p.close();
      return port;
    };
    const nodeHbone = await startChild('zt-node', { ...setup, node: { hbonePort: await nodePort(), handoff: false } });
    children.push(nodeHbone.proc);
    const nodeHandoff = await startChild('zt-node', { ...setup, node: { hbonePort: await nodePort(), handoff: true } });
    children.push(nodeHandoff.proc);
    const direct: Sample = {};
    const mesh: Sample = {};
    const sameHbone: Sample = {};
    const sameHandoff: Sample = {};
    const churn: Sample = {};
    for (let i = 0; i < rounds; i++) {
      await measure(B, { echo: setup.echoPort, sink: setup.sinkPort }, direct);
      await measure(A, { echo: zout.ports.warm!, sink: zout.ports.warm!, cold: zout.ports.cold! }, mesh);
      await measure(A, { echo: nodeHbone.ports.warm!, sink: nodeHbone.ports.warm! }, sameHbone);
      await measure(A, { echo: nodeHandoff.ports.warm!, sink: nodeHandoff.ports.warm! }, sameHandoff);
      // The same ping-pong through the two ztunnels while the destination's receives policy pushes.
      zin.proc.send({ type: 'churn', on: true } satisfies ToChild);
      await new Promise((r) => setTimeout(r, 300));
      const churned = await pingPong(A, zout.ports.warm!, 3000);
      zin.proc.send({ type: 'churn', on: false } satisfies ToChild);
      push(churn, 'pp50', percentile(churned, 50));
      push(churn, 'pp99', percentile(churned, 99));
    }
    const m = (s: Sample, k: string): number => median(s[k] ?? []);
    const sc = 'loopback, 4 processes';
    const rows: Row[] = [
      { scenario: sc, metric: 'bulk, one connection, 256 MiB one way (Gb/s)', baseline: m(direct, 'gbps'), ztunnel: `${m(mesh, 'gbps').toFixed(2)} (${(m(mesh, 'gbps') / m(direct, 'gbps')).toFixed(2)}×)` },
      { scenario: sc, metric: '1 KiB ping-pong, one connection: p50 / p99 (ms)', baseline: `${m(direct, 'pp50').toFixed(3)} / ${m(direct, 'pp99').toFixed(3)}`, ztunnel: `${m(mesh, 'pp50').toFixed(3)} / ${m(mesh, 'pp99').toFixed(3)}` },
      { scenario: sc, metric: '… added by the two ztunnels: p50 / p99 (ms)', ztunnel: `${(m(mesh, 'pp50') - m(direct, 'pp50')).toFixed(3)} / ${(m(mesh, 'pp99') - m(direct, 'pp99')).toFixed(3)}` },
      { scenario: sc, metric: 'new connections per second to one destination, sequential, 1 KiB each, pool warm', baseline: m(direct, 'cps'), ztunnel: `${m(mesh, 'cps').toFixed(0)} (${(m(mesh, 'cps') / m(direct, 'cps')).toFixed(2)}×)` },
      { scenario: sc, metric: '… pool cold (a new HBONE connection each; 1 / median connection time)', baseline: m(direct, 'cps'), ztunnel: `${m(mesh, 'coldCps').toFixed(0)} (${m(mesh, 'cold50').toFixed(2)} ms each)` },
      { scenario: sc, metric: 'first-byte latency of a new connection, warm pool: p50 / p99 (ms)', baseline: `${m(direct, 'fb50').toFixed(3)} / ${m(direct, 'fb99').toFixed(3)}`, ztunnel: `${m(mesh, 'fb50').toFixed(3)} / ${m(mesh, 'fb99').toFixed(3)}` },
    ];
    rows.push({ scenario: sc, metric: `1 KiB ping-pong under policy pushes at ztunnel-in (${CHURN_POLICIES} policies replaced every ${CHURN_EVERY_MS} ms): p50 / p99 (ms)`, baseline: `${m(mesh, 'pp50').toFixed(3)} / ${m(mesh, 'pp99').toFixed(3)} (no pushes)`, ztunnel: `${m(churn, 'pp50').toFixed(3)} / ${m(churn, 'pp99').toFixed(3)}` });
    const pp = (x: Sample): string => `${m(x, 'pp50').toFixed(3)} / ${m(x, 'pp99').toFixed(3)}`;
    const added = (x: Sample): string => `${(m(x, 'pp50') - m(direct, 'pp50')).toFixed(3)} / ${(m(x, 'pp99') - m(direct, 'pp99')).toFixed(3)}`;
    for (const [label, x] of [['same node (one ztunnel, 3 processes), HBONE', sameHbone], ['same node, in-process handoff', sameHandoff]] as const) {
      rows.push(
        { scenario: label, metric: 'bulk, one connection, 256 MiB one way (Gb/s)', baseline: m(direct, 'gbps'), ztunnel: `${m(x, 'gbps').toFixed(2)} (${(m(x, 'gbps') / m(direct, 'gbps')).toFixed(2)}×)` },
        { scenario: label, metric: '1 KiB ping-pong, one connection: p50 / p99 (ms); added', baseline: pp(direct), ztunnel: `${pp(x)}; +${added(x)}` },
        { scenario: label, metric: 'new connections per second, sequential, 1 KiB each; first byte p50 (ms)', baseline: `${m(direct, 'cps').toFixed(0)}; ${m(direct, 'fb50').toFixed(3)}`, ztunnel: `${m(x, 'cps').toFixed(0)} (${(m(x, 'cps') / m(direct, 'cps')).toFixed(2)}×); ${m(x, 'fb50').toFixed(3)}` },
      );
    }
    console.log(JSON.stringify({ rounds, rows, samples: { direct, mesh, sameHbone, sameHandoff, churn } }));
  } finally {
    for (const c of children) c.kill();
  }
}

if (args.role) child(args.role as Role);
else
  main().catch((e: unknown) => {
    console.error(e);
    process.exit(1);
  });
