// Same-node handoff on loopback (pods are 127.0.0.x, as in proxy.test.ts): two pods of one
// ztunnel talk without TLS or HTTP/2 between them, yet with the source pod's identity, the same
// authorization decision, and the same metrics and access-log lines as over HBONE; a destination
// behind a waypoint still goes to the waypoint over HBONE. The same in real pod namespaces:
// test/integration/ztunnel.test.ts ("same node").
import { once } from 'node:events';
import net from 'node:net';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { HboneServer } from '../../lib/hbone/server.js';
import { createTestPki } from '../../lib/hbone/testkit.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import { startConnectInNetns } from '../../lib/native/index.js';
import type { SockAddr } from '../../lib/native/types.js';
import { AccessLog } from '../../lib/telemetry/access-log.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { TcpMetrics } from '../../lib/telemetry/metrics.js';
import { ProxyState } from '../state/state.js';
import { authz, key, svc, wl } from '../state/testkit.js';
import { ConnectionManager } from './connection-manager.js';
import type { ProxyInputs } from './context.js';
import { LocalPods } from './local-pods.js';
import { PodProxy, type PodInfo } from './pod-proxy.js';
import { netnsPodNet, type PodNet } from './sockets.js';

const A = '127.0.0.2';
const B = '127.0.0.3';
const W = '127.0.0.6';
const id = (sa: string): string => `spiffe://cluster.local/ns/demo/sa/${sa}`;
const VIP = '10.96.0.1';
const WP_VIP = '10.96.0.2';

async function listen(host: string, port = 0): Promise<net.Server> {
  const s = net.createServer({ allowHalfOpen: true });
  s.listen(port, host);
  await once(s, 'listening');
  return s;
}
const portOf = (s: net.Server): number => (s.address() as net.AddressInfo).port;

/** An app that greets with the peer address it sees, then echoes. */
async function app(t: Test, host: string, tag: string): Promise<number> {
  const s = await listen(host);
  const socks = new Set<net.Socket>();
  s.on('connection', (c: net.Socket) => {
    socks.add(c);
    c.on('error', () => {});
    c.write(`${tag} ${c.remoteAddress}\n`);
    c.pipe(c);
  });
  t.teardown(() => {
    for (const c of socks) c.destroy();
    s.close();
  });
  return portOf(s);
}

type LogLine = Record<string, unknown>;

function capturedAccessLog(): { accessLog: AccessLog; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l.trim()) lines.push(JSON.parse(l) as LogLine);
      cb();
    },
  });
  return { accessLog: new AccessLog(pino({ level: 'info' }, sink)), lines };
}

/** The final lines (both directions) of the connection dialled after `lines[from]`; outbound first. */
async function endLines(lines: LogLine[], from: number, n = 2, timeoutMs = 5000): Promise<LogLine[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hits = lines.slice(from).filter((l) => l.msg === 'connection failed' || l.msg === 'connection complete');
    if (hits.length >= n) return hits.sort((x, y) => String(y.direction).localeCompare(String(x.direction)));
    if (Date.now() > deadline) throw new Error(`${hits.length} of ${n} access-log lines within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The metric lines of the registry without values, sorted: the label sets the proxy reported. */
async function labelSets(r: Registry, names: RegExp): Promise<string[]> {
  return (await r.metrics()).split('\n').filter((l) => names.test(l)).map((l) => l.replace(/ [0-9.e+-]+$/, '')).sort();
}

t.test('same-node handoff', async (t) => {
  const pki = await createTestPki();
  const cache = new Map<string, Promise<Credentials>>();
  const certs = { get: (identity: string) => cache.get(identity) ?? (cache.set(identity, pki.issue(identity)), cache.get(identity)!) };
  const probe = await listen(B);
  const hbonePort = portOf(probe);
  probe.close();
  const state = new ProxyState({ hbonePort });
  const bPort = await app(t, B, 'b');
  const wpApp = await app(t, W, 'waypoint');
  state.applyAddresses([
    wl('a', { ns: 'demo', ips: [A], sa: 'frontend' }),
    wl('b', { ns: 'demo', ips: [B], sa: 'backend', services: { [key('b', 'demo')]: [[80, bPort]], [key('viawp', 'demo')]: [[80, bPort]] } }),
    wl('wp', { ns: 'demo', ips: [W], sa: 'waypoint' }),
    svc('b', { ns: 'demo', vips: [VIP], ports: [[80, bPort]] }),
    svc('viawp', { ns: 'demo', vips: [WP_VIP], ports: [[80, bPort]], waypoint: { ip: W, port: hbonePort } }),
  ], []);
  const registry = new Registry();
  const access = capturedAccessLog();
  const connections = new ConnectionManager(state, silentLogger());
  t.teardown(() => connections.close());
  // Clients leave from A's own address, one at a time: each is redirected to where it was last sent.
  let nextDst: SockAddr | undefined;
  const localPods = new LocalPods();
  const inputs: ProxyInputs = {
    state,
    certs,
    telemetry: { metrics: new TcpMetrics(registry), accessLog: access.accessLog },
    connections,
    logger: silentLogger(),
    originalDst: (s) => {
      if (!nextDst) throw new Error(`no original destination for ${s.remoteAddress}:${s.remotePort}`);
      return nextDst;
    },
    sourceWaitMs: 200,
    connectTimeoutMs: 2000,
    localPods,
  };
  const podNet = (ip: string): PodNet => ({
    ...netnsPodNet(null),
    startConnect: (host, port) => {
      const s = startConnectInNetns(null, host, port, { localAddress: ip });
      s.allowHalfOpen = false;
      return s;
    },
    connect: (host, port) => new Promise((resolve, reject) => {
      const s = net.connect({ host, port, localAddress: ip, allowHalfOpen: true });
      s.once('connect', () => resolve(s)).once('error', reject);
    }),
  });
  const start = async (info: PodInfo, ip: string): Promise<{ proxy: PodProxy; outbound: number }> => {
    const proxy = new PodProxy(inputs, info, podNet(ip));
    t.teardown(() => proxy.close());
    const outbound = await listen(ip);
    const plaintext = await listen(ip);
    await proxy.start({ outbound, plaintext, hbone: { port: hbonePort, host: ip } });
    return { proxy, outbound: portOf(outbound) };
  };
  const podA = await start({ uid: 'ua', name: 'a', namespace: 'demo', serviceAccount: 'frontend', identity: id('frontend') }, A);
  const podB = await start({ uid: 'ub', name: 'b', namespace: 'demo', serviceAccount: 'backend', identity: id('backend') }, B);
  t.equal(localPods.size, 2, 'both pods registered for handoff once serving');

  // A waypoint (not enrolled on this ztunnel): an HBONE server that records what it is asked for.
  const waypointAsked: string[] = [];
  const waypoint = new HboneServer({
    credentials: () => certs.get(id('waypoint')),
    onConnect: async (req) => {
      waypointAsked.push(`${req.peerIdentity} ${req.authority}`);
      const up = net.connect({ host: W, port: wpApp, localAddress: W });
      await once(up, 'connect');
      return { status: 200, upstream: up };
    },
  });
  await waypoint.listen({ port: hbonePort, host: W });
  t.teardown(() => waypoint.close());

  /** The app in pod A dials `dst`; resolves with what it read and its own address. */
  const dial = async (dst: string, port: number, payload = 'hi'): Promise<{ got: string; src: string; mark: number; code: string }> => {
    const mark = access.lines.length;
    nextDst = { address: dst, port, family: 4 };
    const s = net.connect({ host: A, port: podA.outbound, localAddress: A, allowHalfOpen: false });
    let got = '';
    let code = '';
    // A refusal resets the connection, on loopback sometimes before the connect is reported.
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    const closed = new Promise((r) => s.once('close', r));
    const src = await new Promise<string>((resolve) => {
      s.once('connect', () => resolve(`${A}:${s.localPort}`));
      s.once('close', () => resolve(`${A}:?`));
    });
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (got.includes('\n') && payload !== '') {
        s.end(payload);
        payload = '';
      }
    });
    await closed;
    return { got, src, mark, code };
  };
  const poolOfA = (): number => podA.proxy.stats().poolConnections;
  const streamsAtB = (): number => podB.proxy.stats().hboneStreamsOpened;

  await t.test('the same metrics and access-log lines as over HBONE; no TLS in between', async (t) => {
    const metricNames = /^istio_tcp_(connections_opened|connections_closed|received_bytes|sent_bytes)_total\{/;
    const handed = await dial(B, bPort, 'in process');
    t.equal(handed.got, `b ${A}\nin process`, 'handoff: the app sees the source pod IP');
    t.equal(poolOfA(), 0, 'handoff: no HBONE connection dialled');
    t.equal(streamsAtB(), 0, "handoff: B's HBONE server saw no stream");
    const lines = await endLines(access.lines, handed.mark);
    const handedSets = await labelSets(registry, metricNames);
    t.match(await registry.metrics(), /istio_tcp_received_bytes_total\{reporter="destination",source_workload="a",[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/demo\/sa\/frontend"[^}]*connection_security_policy="mutual_tls"\} 10/);
    registry.resetMetrics();

    localPods.enabled = false;
    const viaHbone = await dial(B, bPort, 'over hbone');
    localPods.enabled = true;
    t.equal(viaHbone.got, `b ${A}\nover hbone`, 'HBONE (handoff off): the app sees the source pod IP');
    t.equal(poolOfA(), 1, 'HBONE (handoff off): A pooled a connection to B');
    t.equal(streamsAtB(), 1, 'HBONE (handoff off): one stream at B');
    const hboneLines = await endLines(access.lines, viaHbone.mark);
    t.same(handedSets, await labelSets(registry, metricNames), 'the same metric label sets (reporter source and destination) as over HBONE');
    const strip = (l: LogLine): LogLine => {
      const { time: _t, duration: _d, 'src.addr': _s, bytes_sent: _bs, bytes_recv: _br, ...rest } = l;
      return rest;
    };
    t.same(lines.map(strip), hboneLines.map(strip), 'the same access-log lines as over HBONE (but for time, duration, client port, byte counts)');
    t.match(lines[0], { 'src.addr': handed.src }, 'outbound: the app socket');
    t.match(lines[1], { 'src.addr': handed.src }, 'inbound: the app socket itself (over HBONE: the HBONE connection of the same pod IP)');
    t.match(lines.find((l) => l.direction === 'inbound'), { 'src.identity': id('frontend'), 'dst.identity': id('backend'), 'dst.addr': `${B}:${bPort}` }, "inbound names A's SPIFFE id");
    t.match(lines.find((l) => l.direction === 'outbound'), { 'dst.identity': id('backend'), 'dst.addr': `${B}:${hbonePort}`, bytes_sent: 'in process'.length }, 'outbound names B and counts the bytes');
  });

  await t.test('through the service VIP too', async (t) => {
    const r = await dial(VIP, 80);
    t.equal(r.got, `b ${A}\nhi`);
    t.equal(streamsAtB(), 1, 'in process: no new stream at B');
    t.match(await endLines(access.lines, r.mark), [{ 'dst.service': 'b.demo.svc.cluster.local' }, { 'dst.service': 'b.demo.svc.cluster.local' }]);
  });

  await t.test('policy: a DENY refuses as over HBONE, and closes a live handed-off connection', async (t) => {
    const liveMark = access.lines.length;
    nextDst = { address: B, port: bPort, family: 4 };
    const s = net.connect({ host: A, port: podA.outbound, localAddress: A });
    await once(s, 'connect');
    s.setEncoding('utf8');
    const [greeting] = (await once(s, 'data')) as [string];
    t.equal(greeting, `b ${A}\n`, 'a live connection');
    t.equal(connections.size, 1, "tracked by B's inbound as any HBONE connection");
    let code = '';
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? ''));
    const closed = new Promise((r) => s.once('close', r)); // events.once would reject on the reset
    const deny = authz('demo', 'deny-frontend', { action: 'DENY', rules: [[[{ principals: [{ matchType: { case: 'exact', value: 'cluster.local/ns/demo/sa/frontend' } }] }]]] });
    state.applyAuthorizations([deny], []);
    await closed;
    t.equal(code, 'ECONNRESET', 'the live connection was reset by the policy change');
    t.equal(connections.size, 0);
    const [liveOut, liveIn] = await endLines(access.lines, liveMark);
    t.match(liveIn, { direction: 'inbound', error: /^AuthorizationPolicyLateRejection: / }, 'inbound logs the late rejection');
    t.match(liveOut, { direction: 'outbound', error: /^b was reset$/ }, 'outbound logs the reset');
    const r = await dial(B, bPort);
    t.equal(r.got, '', 'a new connection reaches nothing');
    t.equal(r.code, 'ECONNRESET', 'and is reset');
    const [outbound, inbound] = await endLines(access.lines, r.mark);
    t.match(inbound, { response_flags: 'DENY', error: /^AuthorizationPolicyRejection: / }, 'inbound: refused by the policy');
    t.match(outbound, { response_flags: 'DENY', error: /^Hbone: same-node handoff .* inbound answered 401/ }, 'outbound: DENY, as an HBONE 401');
    t.match(await registry.metrics(), /istio_tcp_connections_failed_total\{reporter="source",[^}]*destination_workload="b"[^}]*response_flags="DENY"/);
    state.applyAuthorizations([], [deny.name]);
    t.equal((await dial(B, bPort, 'again')).got, `b ${A}\nagain`, 'restored');
  });

  await t.test('a destination behind a waypoint goes to the waypoint over HBONE', async (t) => {
    const r = await dial(WP_VIP, 80);
    t.equal(r.got, `waypoint ${W}\nhi`, 'the waypoint answered, not B directly');
    t.same(waypointAsked, [`${id('frontend')} ${WP_VIP}:80`], "the waypoint saw A's identity and the VIP");
    t.equal(poolOfA(), 2, 'over an HBONE connection of its own');
    t.equal(streamsAtB(), 1, 'B was not handed the connection');
  });

  await t.test('a draining pod is no longer handed connections', async (t) => {
    await podB.proxy.drain(100);
    t.equal(localPods.size, 1, 'B unregistered');
    t.match(await dial(B, bPort), { got: '', code: 'ECONNRESET' }, 'refused with a reset: B no longer listens');
  });
});
