// End-to-end: the security promises on a 2-node `ambit up` cluster. Every refusal of ztunnel
// (STRICT plaintext, policy DENY, no endpoints, an unknown waypoint, a plaintext source an inbound
// policy denies) ends the client's connection with a TCP reset at once; /debug/* answers loopback
// peers only; admin ports listen where Istio's do; no private key shows in any dump, metric or log;
// a policy change cuts the live connections it now denies. Times are measured and written to
// reliability-report/security.json, never asserted.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Pod, Service } from '../../lib/k8s/types.js';
import type { KubeObject } from '../../lib/store/types.js';
import { openStore } from '../../lib/store/index.js';
import { inNetns } from '../../lib/sys/netns.js';
import { ROOT, TestCluster, eventually } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'mesh-app.yaml');
const REPORT_DIR = path.join(ROOT, 'reliability-report');
const CONTROL_ADDRESS = '10.240.0.2';
const TRIES = 5;

interface List<T> {
  items: T[];
}

interface Probe {
  /** The socket error the connection ended with; '' for a clean close, TIMEOUT after 10 s. */
  code: string;
  ms: number;
  bytes: number;
}

// A plain TCP client: connect, send an HTTP request, report how the connection ended and when.
const PROBE = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const t0 = performance.now();
const s = net.connect({ host, port: Number(port) });
let code = '', bytes = 0;
s.on('connect', () => s.write('GET / HTTP/1.1\\r\\nHost: probe\\r\\nConnection: close\\r\\n\\r\\n'));
s.on('data', (d) => (bytes += d.length));
s.on('error', (e) => (code = e.code || e.message));
const timer = setTimeout(() => { code = 'TIMEOUT'; s.destroy(); }, 10000);
s.on('close', () => { clearTimeout(timer); process.stdout.write(JSON.stringify({ code, ms: performance.now() - t0, bytes })); });
`;

// Holds one TCP connection open with a ping every 50 ms; reports when and how it ended (epoch ms).
const HOLD = `
const net = require('node:net');
const [host, port] = process.argv.slice(1);
const s = net.connect({ host, port: Number(port) });
let code = '', echoed = 0;
s.on('data', (d) => (echoed += d.length));
s.on('error', (e) => (code = e.code || e.message));
const ping = setInterval(() => s.write('ping\\n'), 50);
s.on('close', () => { clearInterval(ping); process.stdout.write(JSON.stringify({ code, closedAt: Date.now(), echoed })); });
`;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

t.test('security on a 2-node cluster: fail fast, debug and admin ports, no keys, live policy cuts', async (t) => {
  const c = new TestCluster('security');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const cluster = JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string; forwards: Record<string, string> };
  const prefix = cluster.prefix;
  const pods = async (ns: string) => (await c.json<List<Pod>>('get', 'pods', '-n', ns)).items;
  const vip = async (ns: string, name: string) => (await c.json<Service>('get', 'service', name, '-n', ns)).spec.clusterIP!;
  const mesh = await pods('mesh');
  const client = mesh.find((p) => p.metadata.labels?.app === 'client')!;
  const outside = (await pods('plain'))[0]!;
  const netnsOf = (p: Pod): string => p.metadata.annotations!['ambit.dev/netns']!;
  const node = (script: string, netns: string, ...args: string[]) => inNetns(netns, process.execPath, ['-e', script, ...args]);
  const probe = async (from: Pod, host: string, port: number): Promise<Probe> => JSON.parse((await node(PROBE, netnsOf(from), host, String(port))).stdout) as Probe;
  const fetchIn = async (netns: string, url: string): Promise<{ status: number; body: string }> =>
    JSON.parse((await node("fetch(process.argv[1]).then(async (r) => process.stdout.write(JSON.stringify({ status: r.status, body: await r.text() })))", netns, url)).stdout) as { status: number; body: string };
  const serverVip = await vip('mesh', 'server');
  const report: Record<string, unknown> = { at: new Date().toISOString() };

  const refusals: Record<string, { medianMs: number; ms: number[]; codes: string[] }> = {};
  /** Waits until `from` → host:port is refused, then measures TRIES refusals: each must be a reset. */
  const measureRefusal = async (t: Test, name: string, from: Pod, host: string, port: number): Promise<void> => {
    await eventually(`${name}: refused`, async () => (await probe(from, host, port)).bytes === 0, 60_000);
    const runs: Probe[] = [];
    for (let i = 0; i < TRIES; i++) runs.push(await probe(from, host, port));
    for (const r of runs) {
      t.equal(r.code, 'ECONNRESET', `${name}: the client sees a TCP reset (${r.ms.toFixed(1)} ms)`);
      t.equal(r.bytes, 0, `${name}: and no answer`);
    }
    const ms = runs.map((r) => Math.round(r.ms * 10) / 10);
    refusals[name] = { medianMs: median(ms), ms, codes: runs.map((r) => r.code) };
    t.comment(`${name}: time to failure median ${median(ms)} ms (${ms.join(', ')})`);
  };
  const apply = (yaml: string) => c.applyYaml(yaml);

  await t.test('every refusal resets the connection at once', async (t) => {
    const ok = await probe(outside, serverVip, 80);
    t.equal(ok.code, '', 'before any policy a plaintext client is answered');
    t.ok(ok.bytes > 0, 'with a response');
    report.successMs = Math.round(ok.ms * 10) / 10;

    const strict = 'apiVersion: security.istio.io/v1\nkind: PeerAuthentication\nmetadata: { name: strict, namespace: mesh }\nspec: { mtls: { mode: STRICT } }\n';
    await apply(strict);
    await measureRefusal(t, 'STRICT: plaintext from a pod outside the mesh', outside, serverVip, 80);
    // The old symptom was a wget that waited; GNU wget retries after a reset as after a FIN, so one try.
    const w0 = performance.now();
    const wget = await inNetns(netnsOf(outside), 'wget', ['-nv', '-T', '3', '-t', '1', '-O', '/dev/null', `http://${serverVip}/`], { allowFail: true });
    report.wgetOneTryMs = Math.round(performance.now() - w0);
    report.wgetSays = wget.stderr.trim() || wget.stdout.trim();
    t.not(wget.code, 0, `wget -T 3 -t 1 fails (${report.wgetOneTryMs} ms including its start)`);
    await c.deleteYaml(strict);
    await eventually('plaintext allowed again', async () => (await probe(outside, serverVip, 80)).bytes > 0);

    const denyPlain =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: deny-outside, namespace: mesh }\n' +
      `spec:\n  selector: { matchLabels: { app: server } }\n  action: DENY\n  rules:\n    - from:\n        - source: { ipBlocks: ["${outside.status!.podIP}/32"] }\n`;
    await apply(denyPlain);
    await measureRefusal(t, 'inbound DENY of a plaintext source', outside, serverVip, 80);
    await c.deleteYaml(denyPlain);

    const deny =
      'apiVersion: security.istio.io/v1\nkind: AuthorizationPolicy\nmetadata: { name: deny-client, namespace: mesh }\n' +
      'spec:\n  selector: { matchLabels: { app: server } }\n  action: DENY\n  rules:\n    - from:\n        - source: { principals: ["cluster.local/ns/mesh/sa/client"] }\n';
    await apply(deny);
    await measureRefusal(t, 'policy DENY of a mesh client (HBONE 401)', client, serverVip, 80);
    await c.deleteYaml(deny);
    await eventually('mesh traffic restored', async () => (await probe(client, serverVip, 80)).bytes > 0);

    await apply('apiVersion: v1\nkind: Service\nmetadata: { name: empty, namespace: mesh }\nspec:\n  selector: { app: nobody }\n  ports: [{ name: http, port: 80, targetPort: 8080 }]\n');
    await measureRefusal(t, 'no endpoints', client, await vip('mesh', 'empty'), 80);

    // A gateway (not of class istio-waypoint, so nothing deploys it) that reports an address nothing
    // in the mesh has: ztunnel cannot reach the waypoint the Service asks for.
    await apply(
      'apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata: { name: ghost, namespace: mesh }\n' +
        'spec:\n  gatewayClassName: ghost-class\n  listeners: [{ name: mesh, port: 15008, protocol: HBONE }]\n' +
        'status:\n  addresses: [{ type: IPAddress, value: 10.96.250.250 }]\n---\n' +
        'apiVersion: v1\nkind: Service\nmetadata: { name: behind-ghost, namespace: mesh, labels: { istio.io/use-waypoint: ghost } }\n' +
        'spec:\n  selector: { app: server }\n  ports: [{ name: http, port: 80, targetPort: 8080 }]\n',
    );
    await measureRefusal(t, 'unknown waypoint', client, await vip('mesh', 'behind-ghost'), 80);
    report.refusals = refusals;
  });

  await t.test('/debug/* of the control plane answers loopback peers only; /metrics and readiness stay open', async (t) => {
    const fromPod = (p: string) => fetchIn(netnsOf(outside), `http://${CONTROL_ADDRESS}:15014${p}`);
    for (const p of ['/debug/model', '/debug/connections', '/debug/config']) {
      const r = await fromPod(p);
      t.equal(r.status, 403, `${p} from a pod: 403`);
      t.match(r.body, new RegExp(`^${p} answers only loopback peers \\(127\\.0\\.0\\.1, ::1\\), not ${outside.status!.podIP!.replace(/\./g, '\\.')}; `), `${p}: the body says why`);
    }
    t.equal((await fromPod('/metrics')).status, 200, '/metrics from a pod: 200');
    t.equal((await fromPod('/ready')).status, 200, '/ready from a pod: 200');
    t.equal((await fetchIn(netnsOf(outside), `http://${CONTROL_ADDRESS}:15021/healthz/ready`)).status, 200, 'readiness port from a pod: 200');
    const forward = Object.entries(cluster.forwards).find(([k]) => k.startsWith('control'))![1];
    const host = await fetch(`http://${forward}/debug/model`);
    t.equal(host.status, 200, "the host reaches /debug/model through ambit up's forward");
    const nodeIp = (await c.json<List<{ metadata: { name: string }; status: { addresses: Array<{ type: string; address: string }> } }>>('get', 'nodes')).items
      .find((n) => n.metadata.name === outside.spec.nodeName)!
      .status.addresses.find((a) => a.type === 'InternalIP')!.address;
    t.equal((await fetchIn(netnsOf(outside), `http://${nodeIp}:15014/debug/pods`)).status, 403, "the node agent's /debug/pods from a pod: 403");
    t.equal((await fetchIn(`${prefix}-${outside.spec.nodeName}`, 'http://127.0.0.1:15014/debug/pods')).status, 200, '/debug/pods on the node loopback: 200');
  });

  await t.test('admin ports listen on loopback only where Istio has them there', async (t) => {
    const listeners = async (netns: string) =>
      (await inNetns(netns, 'ss', ['-ltnH'])).stdout
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[3]!)
        .filter(Boolean);
    const table: Record<string, string[]> = {};
    for (const ns of [`${prefix}-node-1`, `${prefix}-node-2`, `${prefix}-control`]) table[ns] = (await listeners(ns)).sort();
    report.listeners = table;
    for (const n of ['node-1', 'node-2']) {
      const l = table[`${prefix}-${n}`]!;
      t.same(l.filter((a) => a.endsWith(':15000')), ['127.0.0.1:15000'], `${n}: ztunnel admin (config dump) on loopback only`);
      t.ok(l.some((a) => /^(\*|0\.0\.0\.0|\[::\]):15020$/.test(a)), `${n}: ztunnel metrics on every address, as Istio's (${l.join(' ')})`);
      t.ok(l.some((a) => /^(\*|0\.0\.0\.0|\[::\]):15021$/.test(a)), `${n}: readiness on every address, for the kubelet`);
    }
    const cp = table[`${prefix}-control`]!;
    t.ok(cp.some((a) => /:15014$/.test(a)), `control plane monitoring port listening (${cp.join(' ')}); its /debug/* refuses other peers (above)`);
  });

  await t.test('no private key in config dumps, debug dumps, metrics or logs', async (t) => {
    const texts: Array<[string, string]> = [];
    for (const n of ['node-1', 'node-2']) {
      const ns = `${prefix}-${n}`;
      for (const [what, url] of [
        ['ztunnel /config_dump', 'http://127.0.0.1:15000/config_dump'],
        ['ztunnel /metrics', 'http://127.0.0.1:15020/metrics'],
        ['cni-agent /metrics', 'http://127.0.0.1:15014/metrics'],
        ['cni-agent /debug/pods', 'http://127.0.0.1:15014/debug/pods'],
      ] as const) {
        texts.push([`${n} ${what}`, (await fetchIn(ns, url)).body]);
      }
    }
    for (const p of ['/debug/model', '/debug/connections', '/debug/config', '/metrics']) texts.push([`control ${p}`, (await fetchIn(`${prefix}-control`, `http://127.0.0.1:15014${p}`)).body]);
    const logDir = path.join(c.stateDir, 'components');
    for (const f of readdirSync(logDir).filter((x) => x.endsWith('.log'))) texts.push([`log ${f}`, readFileSync(path.join(logDir, f), 'utf8')]);
    t.ok(texts.length > 12, `${texts.length} dumps, metric pages and logs read`);
    for (const [what, text] of texts) {
      t.ok(text.length > 0, `${what}: not empty`);
      t.notOk(text.includes('PRIVATE KEY'), `${what}: no "PRIVATE KEY"`);
    }
    report.keyScan = { sources: texts.length, bytes: texts.reduce((n, [, x]) => n + x.length, 0) };
  });

  await t.test('a policy change cuts a now-denied live connection', async (t) => {
    const hold = node(HOLD, netnsOf(client), serverVip, '9000');
    await eventually('the held connection echoing', async () => {
      const m = (await fetchIn(`${prefix}-${client.spec.nodeName}`, 'http://127.0.0.1:15020/metrics')).body;
      return /istio_tcp_connections_opened_total\{reporter="source"[^}]*source_principal="spiffe:\/\/cluster\.local\/ns\/mesh\/sa\/client"[^}]*destination_service="server\.mesh\.svc\.cluster\.local"/.test(m);
    }, 30_000);
    await new Promise((r) => setTimeout(r, 500));
    // Written to the store as `ambit apply` does, minus the CLI's start-up: the figure is the
    // control plane's push plus ztunnel's re-check, from the moment the policy exists.
    const store = openStore(path.join(c.stateDir, 'store'));
    t.teardown(() => store.close());
    const deny: KubeObject = {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'deny-live', namespace: 'mesh' },
      spec: { selector: { matchLabels: { app: 'server' } }, action: 'DENY', rules: [{ from: [{ source: { principals: ['cluster.local/ns/mesh/sa/client'] } }] }] },
    };
    await store.apply(deny);
    const written = Date.now();
    const end = JSON.parse((await hold).stdout) as { code: string; closedAt: number; echoed: number };
    t.ok(end.echoed > 0, `the connection carried data before the policy (${end.echoed} bytes echoed)`);
    t.equal(end.code, 'ECONNRESET', 'it ends with a reset');
    const ms = end.closedAt - written;
    t.comment(`the live connection was reset ${ms} ms after the policy was written to the store`);
    report.policyCloseMs = ms;
    await store.delete({ apiVersion: deny.apiVersion, kind: deny.kind, namespace: 'mesh', name: 'deny-live' });
  });

  mkdirSync(REPORT_DIR, { recursive: true });
  writeFileSync(path.join(REPORT_DIR, 'security.json'), JSON.stringify(report, null, 2) + '\n');
  console.log(JSON.stringify(report, null, 2));
});
