// The per-pod proxy on loopback, without namespaces or iptables: pods are 127.0.0.x addresses,
// the original destination is injected, certificates come from a test PKI. The decisions of
// outbound (HBONE, plain TCP, passthrough, refusals), inbound authorization and late rejection,
// and draining. The same paths in real pod namespaces: test/integration/ztunnel.test.ts.
import net from 'node:net';
import { once } from 'node:events';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { HbonePool } from '../../lib/hbone/pool.js';
import { createTestPki } from '../../lib/hbone/testkit.js';
import type { Credentials } from '../../lib/hbone/tls.js';
import { startConnectInNetns } from '../../lib/native/index.js';
import type { SockAddr } from '../../lib/native/types.js';
import { AccessLog } from '../../lib/telemetry/access-log.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { TcpMetrics } from '../../lib/telemetry/metrics.js';
import { ProxyState } from '../state/state.js';
import { authz, bytes, key, svc, wl } from '../state/testkit.js';
import { ConnectionManager } from './connection-manager.js';
import type { ProxyInputs } from './context.js';
import { PodProxy, type PodInfo } from './pod-proxy.js';
import { netnsPodNet, type PodNet } from './sockets.js';

const A = '127.0.0.2';
const B = '127.0.0.3';
const C = '127.0.0.4';
const id = (sa: string): string => `spiffe://cluster.local/ns/demo/sa/${sa}`;

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

/** Connects from `from` to a listener; everything read until the peer closes, and the error code it closed with ('' for a clean close). */
function exchangeEnd(from: string, port: number, host: string, payload?: string): Promise<{ got: string; code: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: from, allowHalfOpen: false });
    let got = '';
    let code = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      got += d;
      if (payload !== undefined && got.includes('\n')) {
        s.end(payload);
        payload = undefined;
      }
    });
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? e.message));
    s.once('close', () => resolve({ got, code }));
  });
}

type LogLine = Record<string, unknown>;

/** An access log whose lines the test can read: refusals are asserted by what ztunnel records. */
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

/** Resolves with the access-log line that ended the connection from `from` (any port). */
async function endLine(lines: LogLine[], from: string, timeoutMs = 5000): Promise<LogLine> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const hit = lines.find((l) => String(l['src.addr']).startsWith(`${from}:`) && (l.msg === 'connection failed' || l.msg === 'connection complete'));
    if (hit) return hit;
    if (Date.now() > deadline) throw new Error(`no access-log line for a connection from ${from} within ${timeoutMs} ms; last lines: ${JSON.stringify(lines.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A listener on an ephemeral port of `ip` other than `taken`: the kernel may hand out, on another
 * address, the very port a probe found free on the first one. */
async function listenBesides(ip: string, taken: number): Promise<net.Server> {
  const held: net.Server[] = [];
  for (;;) {
    const s = await listen(ip);
    if (portOf(s) !== taken) {
      for (const h of held) h.close();
      return s;
    }
    held.push(s);
  }
}

/** Connects and resolves with the socket error code; a connection that opens is a failure. */
function connectError(from: string, port: number, host: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, localAddress: from });
    s.once('connect', () => {
      s.destroy();
      resolve('connected');
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
  });
}

t.test('per-pod proxy on loopback', async (t) => {
  const pki = await createTestPki();
  const cache = new Map<string, Promise<Credentials>>();
  const certs = { get: (identity: string) => cache.get(identity) ?? (cache.set(identity, pki.issue(identity)), cache.get(identity)!) };
  // One HBONE port for every pod, as 15008 is; a free one found on B's address.
  const probe = await listen(B);
  const hbonePort = portOf(probe);
  probe.close();
  const state = new ProxyState({ hbonePort });
  const bPort = await app(t, B, 'b');
  const cPort = await app(t, C, 'c');
  const outside = await app(t, '127.0.0.9', 'outside');
  state.applyAddresses([
    wl('a', { ns: 'demo', ips: [A], sa: 'frontend' }),
    wl('b', { ns: 'demo', ips: [B], sa: 'backend', services: { [key('b', 'demo')]: [[80, bPort]] } }),
    wl('c', { ns: 'demo', ips: [C], sa: 'legacy', hbone: false }),
    svc('b', { ns: 'demo', vips: ['10.96.0.1'], ports: [[80, bPort]] }),
  ], []);
  const registry = new Registry();
  const access = capturedAccessLog();
  const connections = new ConnectionManager(state, silentLogger());
  t.teardown(() => connections.close());
  const dsts = new Map<string, SockAddr>();
  const inputs: ProxyInputs = {
    state,
    certs,
    telemetry: { metrics: new TcpMetrics(registry), accessLog: access.accessLog },
    connections,
    logger: silentLogger(),
    originalDst: (s) => {
      const d = dsts.get(s.remoteAddress ?? '');
      if (!d) throw new Error(`no original destination for ${s.remoteAddress}`);
      return d;
    },
    sourceWaitMs: 200,
    connectTimeoutMs: 2000,
  };
  // Loopback "pods": outgoing sockets leave from the pod's own address.
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
  const start = async (info: PodInfo, ip: string): Promise<{ proxy: PodProxy; outbound: number; plaintext: number }> => {
    const proxy = new PodProxy(inputs, info, podNet(ip));
    t.teardown(() => proxy.close());
    const outbound = await listenBesides(ip, hbonePort);
    const plaintext = await listenBesides(ip, hbonePort);
    await proxy.start({ outbound, plaintext, hbone: { port: hbonePort, host: ip } });
    return { proxy, outbound: portOf(outbound), plaintext: portOf(plaintext) };
  };
  const podA = await start({ uid: 'ua', name: 'a', namespace: 'demo', serviceAccount: 'frontend', identity: id('frontend') }, A);
  const podB = await start({ uid: 'ub', name: 'b', namespace: 'demo', serviceAccount: 'backend', identity: id('backend') }, B);

  let client = 10;
  /** The app in pod A dials `dst`; its connection reaches A's outbound listener, as if redirected. */
  const dialFrom = async (dst: string, port: number, payload = 'hi'): Promise<{ got: string; code: string; from: string }> => {
    const from = `127.0.1.${client++}`;
    dsts.set(from, { address: dst, port, family: 4 });
    return { ...(await exchangeEnd(from, podA.outbound, A, payload)), from };
  };
  const dial = async (dst: string, port: number, payload = 'hi'): Promise<string> => (await dialFrom(dst, port, payload)).got;
  /** A refusal: nothing read, and the access log says why, with the error code and response flag. */
  const refused = async (t: Test, what: string, read: Promise<{ got: string; code: string; from: string }>, code: string, flag: string): Promise<void> => {
    const { got, code: ended, from } = await read;
    t.equal(got, '', `${what}: nothing reached the app`);
    t.equal(ended, 'ECONNRESET', `${what}: the client sees a TCP reset, not a FIN`);
    const line = await endLine(access.lines, from);
    t.match(line, { response_flags: flag, error: new RegExp(`^${code}: `) }, `${what}: ${code}, flag ${flag}`);
  };

  t.equal(await dial(B, bPort), `b ${A}\nhi`, 'HBONE to the pod; the app sees the source pod IP');
  t.equal(await dial('10.96.0.1', 80), `b ${A}\nhi`, 'HBONE via the service VIP');
  t.equal(await dial(C, cPort), `c ${A}\nhi`, 'plain TCP to a workload outside the mesh');
  t.equal(await dial('127.0.0.9', outside), `outside ${A}\nhi`, 'passthrough to an unknown destination');
  await refused(t, "refused: ztunnel's own port", dialFrom('127.0.0.1', 15001), 'SelfCall', 'CONNECT');
  await refused(t, 'refused: a service port that does not exist', dialFrom('10.96.0.1', 81), 'NoHealthyUpstream', 'NO_HEALTHY_UPSTREAM');
  for (const ok of ['127.0.1.10', '127.0.1.11', '127.0.1.12', '127.0.1.13']) {
    t.notOk((await endLine(access.lines, ok)).error, `${ok}: the connections that worked completed without error`);
  }
  const text = await registry.metrics();
  t.match(text, /istio_tcp_connections_opened_total\{reporter="destination",source_workload="a",[^}]*source_principal="spiffe:\/\/cluster.local\/ns\/demo\/sa\/frontend"[^}]*connection_security_policy="mutual_tls"\} 2/);
  t.match(text, /istio_tcp_connections_failed_total\{reporter="source",[^}]*destination_service="b.demo.svc.cluster.local"[^}]*response_flags="NO_HEALTHY_UPSTREAM"/);

  await t.test('a pod unknown to xDS cannot send', async (t) => {
    const ghost = await start({ uid: 'ug', name: 'ghost', namespace: 'demo', serviceAccount: 'x', identity: id('x') }, '127.0.0.5');
    dsts.set('127.0.1.200', { address: B, port: bPort, family: 4 });
    const t0 = Date.now();
    t.same(await exchangeEnd('127.0.1.200', ghost.outbound, '127.0.0.5'), { got: '', code: 'ECONNRESET' }, 'reset after the wait');
    t.ok(Date.now() - t0 >= 150, 'after waiting for the workload');
    t.match(await endLine(access.lines, '127.0.1.200'), { msg: 'connection failed', response_flags: 'CONNECT', error: /^UnknownSourceWorkload: pod demo\/ghost/ }, 'refused as an unknown source');
  });

  await t.test('plaintext inbound: authorized without identity, closed by a later DENY', async (t) => {
    const from = '127.0.1.201';
    dsts.set(from, { address: B, port: bPort, family: 4 });
    const s = net.connect({ host: B, port: podB.plaintext, localAddress: from });
    s.setEncoding('utf8');
    const [greeting] = (await once(s, 'data')) as [string];
    t.equal(greeting, `b ${from}\n`, 'the app sees the client address');
    t.equal(connections.size, 1, 'tracked');
    let code = '';
    s.on('error', (e: NodeJS.ErrnoException) => (code = e.code ?? ''));
    const closed = new Promise((r) => s.once('close', r)); // events.once would reject on the reset
    state.applyAuthorizations([authz('demo', 'no-201', { action: 'DENY', rules: [[[{ sourceIps: [{ address: bytes(from), length: 32 }] }]]] })], []);
    await closed;
    t.equal(code, 'ECONNRESET', 'the live connection is reset');
    t.equal(connections.size, 0, 'closed by the policy change');
    const before = access.lines.length;
    t.same(await exchangeEnd(from, podB.plaintext, B), { got: '', code: 'ECONNRESET' }, 'and refused from now on, with a reset');
    const lines = access.lines.slice(before);
    t.ok(lines.some((l) => l.response_flags === 'DENY' && /^AuthorizationPolicyRejection: /.test(String(l.error))), `the new connection refused by the policy: ${JSON.stringify(lines)}`);
    t.match(await registry.metrics(), /istio_tcp_connections_closed_total\{reporter="destination",[^}]*response_flags="DENY",connection_security_policy="unknown"\} 1/);
    state.applyAuthorizations([], ['demo/no-201']);
  });

  await t.test('baggage from a source unknown to xDS: hostile values cannot mint metric series', async (t) => {
    const pool = new HbonePool();
    t.teardown(() => pool.close());
    const stranger = id('stranger');
    const from = '127.0.1.230';
    const tunnel = async (baggage: string): Promise<void> => {
      const s = await pool.connect({
        sourceIdentity: stranger,
        destinationIdentities: [id('backend')],
        destination: `${B}:${hbonePort}`,
        authority: `${B}:${bPort}`,
        baggage,
        credentials: () => certs.get(stranger),
        socketFactory: (host, port) => net.connect({ host, port, localAddress: from }),
      });
      s.setEncoding('utf8');
      await once(s, 'data'); // the app's greeting: the tunnel reached it
      s.end();
      s.resume();
      await once(s, 'close');
    };
    const hostile = (i: number): string[] => [
      `k8s.namespace.name=demo,k8s.deployment.name=evil%20${i},service.name=%3C${i}%3E,service.version=v${i}%0A`,
      `k8s.namespace.name=other-${i},k8s.deployment.name=w${i},service.name=s${i}`,
      `k8s.cluster.name=${'c'.repeat(64)}${i},user.id=${i},k8s.namespace.name=demo`,
      `service.name=s${i},pad=${'x'.repeat(2048)}`,
    ];
    for (let i = 0; i < 25; i++) for (const b of hostile(i)) await tunnel(b);
    await tunnel('k8s.namespace.name=demo,k8s.deployment.name=honest,service.name=honest,service.version=v1');
    const opened = (await registry.getSingleMetric('istio_tcp_connections_opened_total')!.get()).values.filter(
      (v) => v.labels.reporter === 'destination' && v.labels.source_principal === stranger,
    );
    const series = opened.map((v) => `${String(v.labels.source_workload)}/${String(v.labels.source_workload_namespace)}`).sort();
    // The namespace label comes from valid baggage that matches the certificate, or is unknown.
    t.same(series, ['honest/demo', 'unknown/demo', 'unknown/unknown'], `101 tunnels with 100 hostile baggage headers make three series: ${JSON.stringify(opened.map((v) => v.labels))}`);
    const hostileCount = opened.filter((v) => v.labels.source_workload === 'unknown').reduce((n, v) => n + v.value, 0);
    t.equal(hostileCount, 100, 'every hostile header counted under "unknown"');
    for (const v of opened.filter((v) => v.labels.source_workload === 'unknown')) {
      t.match(v.labels, { source_canonical_service: 'unknown', source_canonical_revision: 'unknown', source_cluster: 'unknown' }, 'no hostile value in any label');
    }
    t.match(opened.find((v) => v.labels.source_workload === 'honest')!.labels, { source_workload_namespace: 'demo', source_canonical_service: 'honest', source_canonical_revision: 'v1' });
  });

  await t.test('drain: listeners stop, live connections may finish', async (t) => {
    const from = '127.0.1.202';
    dsts.set(from, { address: B, port: bPort, family: 4 });
    const s = net.connect({ host: A, port: podA.outbound, localAddress: from, allowHalfOpen: true });
    s.setEncoding('utf8');
    await once(s, 'data');
    const drained = podA.proxy.drain(5000);
    // The listener is closed when drain() returns to us: a new connection is refused by the kernel.
    t.equal(await connectError('127.0.1.203', podA.outbound, A), 'ECONNREFUSED', 'no new connections');
    s.write('still there\n');
    const [echo] = (await once(s, 'data')) as [string];
    t.equal(echo, 'still there\n', 'the live one still works while draining');
    s.end();
    s.on('end', () => s.destroy());
    const t0 = Date.now();
    await drained;
    t.ok(Date.now() - t0 < 4000, 'drain ends when the last connection does');
    t.same(podA.proxy.stats().plainConnections, 0);
  });
});
