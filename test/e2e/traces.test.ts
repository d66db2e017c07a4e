// End-to-end: tracing on the local cluster. One request client → waypoint → server is one trace
// with a span per hop — the client's ztunnel (outbound, CLIENT, the root), the waypoint (SERVER,
// its child) and the server's ztunnel (inbound, SERVER, the waypoint's child) — found through the
// control plane's embedded receiver (`/api/traces`, the default of `ambit up`), and, in a second
// cluster started with `--otlp-endpoint` pointed at a real Jaeger (test/jaeger/setup), through
// Jaeger's own query API.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t, { type Test } from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { inNetns } from '../../lib/sys/netns.js';
import { ROOT, TestCluster, eventually } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'waypoint-app.yaml');
const NS = 'wp';
const WAYPOINT_SERVICE = `waypoint.${NS}`;
// Jaeger's own ports, moved off its defaults (4318, 16686) so nothing else on the machine collides.
const JAEGER_OTLP = 14318;
const JAEGER_QUERY = 16696;

interface JaegerSpan {
  traceID: string;
  spanID: string;
  operationName: string;
  references: Array<{ refType: string; spanID: string }>;
  tags: Array<{ key: string; value: unknown }>;
  processID: string;
}
interface JaegerTrace {
  traceID: string;
  spans: JaegerSpan[];
  processes: Record<string, { serviceName: string }>;
}

interface Hop {
  service: string;
  kind: unknown;
  span: JaegerSpan;
}

/** The trace's spans as the three hops, or undefined while any is missing. */
function hops(tr: JaegerTrace): { out: Hop; wp: Hop; inb: Hop } | undefined {
  const all = tr.spans.map((s) => ({ service: tr.processes[s.processID]!.serviceName, kind: s.tags.find((x) => x.key === 'span.kind')?.value, span: s }));
  const wp = all.find((h) => h.service === WAYPOINT_SERVICE);
  const out = all.find((h) => h.service === 'ztunnel' && h.kind === 'client');
  const inb = all.find((h) => h.service === 'ztunnel' && h.kind === 'server');
  return wp && out && inb ? { out, wp, inb } : undefined;
}

function clusterInfo(c: TestCluster): { prefix: string; forwards: Record<string, string> } {
  return JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string; forwards: Record<string, string> };
}

/** Enrols the fixture's namespace in a waypoint, then sends requests until one trace has all three hops. */
async function traceOneRequest(t: Test, c: TestCluster, search: () => Promise<JaegerTrace[]>): Promise<void> {
  const applied = await c.try('waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait', '--waypoint-timeout', '120s');
  t.equal(applied.code, 0, `waypoint apply --wait: ${applied.stderr}`);
  const client = (await c.json<{ items: Pod[] }>('get', 'pods', '-n', NS, '-l', 'app=client')).items[0]!;
  const call = () => c.try('exec', `${NS}/${client.metadata.name}`, '--', 'ambit', 'echo', 'request', 'http://server/', '--timeout', '5s');
  // The binding reaches the ztunnels shortly after the status says so; until then requests go direct.
  let sent = 0;
  const found = await eventually(
    'a trace with the three hops',
    async () => {
      const traces = await search();
      const full = traces.map((tr) => ({ tr, h: hops(tr) })).find((x) => x.h);
      if (full) return full;
      // A request through the waypoint traced already: wait for its inbound span (it ends with
      // the waypoint's upstream connection, which the echo app closes after 5 s idle).
      if (traces.length === 0 || sent < 3) {
        sent++;
        const r = await call();
        if (r.code !== 0) throw new Error(`request failed: ${r.stderr}`);
      }
      return undefined;
    },
    90_000,
    1000,
  );
  const { out, wp, inb } = found.h!;
  t.pass(`trace ${found.tr.traceID}: ${found.tr.spans.length} spans after ${sent} request(s)`);
  t.same(out.span.references, [], "the client's ztunnel starts the trace");
  t.equal(wp.span.references[0]?.spanID, out.span.spanID, "the waypoint's span is a child of the outbound connection");
  t.equal(inb.span.references[0]?.spanID, wp.span.spanID, "the server's ztunnel's span is a child of the waypoint's");
  t.ok([out, wp, inb].every((h) => h.span.traceID === found.tr.traceID), 'one trace');
  const tag = (h: Hop, k: string) => h.span.tags.find((x) => x.key === k)?.value;
  t.equal(tag(wp, 'http.status_code'), 200);
  t.equal(tag(wp, 'upstream_cluster'), `outbound|80||server.${NS}.svc.cluster.local`);
  t.equal(tag(wp, 'peer.identity'), `spiffe://cluster.local/ns/${NS}/sa/client`, "the waypoint's peer is the client's identity");
  t.equal(tag(inb, 'src.identity'), `spiffe://cluster.local/ns/${NS}/sa/waypoint`, "the server's peer is the waypoint");
  t.match(tag(out, 'dst.service'), /^server\.wp\.svc\.cluster\.local$/);
}

t.test('a request through a waypoint is one trace in the embedded receiver', async (t) => {
  const c = new TestCluster('traces');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const control = Object.entries(clusterInfo(c).forwards).find(([k]) => k.startsWith('control'))![1];
  const search = async (): Promise<JaegerTrace[]> => {
    const r = await fetch(`http://${control}/api/traces?service=${WAYPOINT_SERVICE}&limit=50`);
    if (r.status !== 200) throw new Error(`/api/traces answered ${r.status}: ${await r.text()}`);
    return ((await r.json()) as { data: JaegerTrace[] }).data;
  };
  await traceOneRequest(t, c, search);
  const services = (await (await fetch(`http://${control}/api/services`)).json()) as { data: string[] };
  t.same(services.data, [WAYPOINT_SERVICE, 'ztunnel'], '/api/services lists who reported');
});

t.test('the same trace through a real Jaeger (--otlp-endpoint)', async (t) => {
  const setup = spawnSync('bash', [path.join(ROOT, 'test', 'jaeger', 'setup'), '--print'], { encoding: 'utf8' });
  const jaeger = /: (\S+)$/m.exec(setup.stdout)?.[1];
  if (setup.status !== 0 || !jaeger || !existsSync(jaeger)) {
    t.fail(`Jaeger is not built: run test/jaeger/setup (npm test runs it) — ${setup.stderr.trim()}`);
    return;
  }
  const c = new TestCluster('jaeger');
  t.teardown(async () => {
    await c.down();
  });
  // The control plane's address on the fabric: Jaeger runs in the control-plane namespace there.
  const at = '10.240.0.2';
  await c.ambit('up', '--detach', '--nodes', '2', '--otlp-endpoint', `http://${at}:${JAEGER_OTLP}/v1/traces`, '-f', FIXTURE);
  const { prefix } = clusterInfo(c);
  const config = path.join(c.stateDir, 'jaeger.yaml');
  writeFileSync(config, jaegerConfig(at));
  const proc = spawn('ip', ['netns', 'exec', `${prefix}-control`, jaeger, '--config', config], { detached: true, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
  t.teardown(() => {
    try {
      process.kill(-proc.pid!, 'SIGKILL');
    } catch {
      /* gone */
    }
  });
  const query = async (p: string): Promise<unknown> => {
    const script = `fetch('http://${at}:${JAEGER_QUERY}${p}').then(async r=>{if(!r.ok)throw new Error(r.status+' '+await r.text());process.stdout.write(await r.text())})`;
    return JSON.parse((await inNetns(`${prefix}-control`, process.execPath, ['-e', script])).stdout);
  };
  await eventually('Jaeger answering', async () => {
    if (proc.exitCode !== null) throw new Error(`jaeger exited ${proc.exitCode}: ${stderr}`);
    return (await query('/api/services')) !== undefined;
  }, 60_000, 500).catch((e: Error) => {
    throw new Error(`${e.message}\njaeger stderr: ${stderr}`);
  });
  await traceOneRequest(t, c, async () => ((await query(`/api/traces?service=${WAYPOINT_SERVICE}&limit=50&lookback=1h`)) as { data: JaegerTrace[] | null }).data ?? []);
});

/** Jaeger v2's all-in-one on memory storage, with its receivers and query API on `host`. */
function jaegerConfig(host: string): string {
  return `service:
  extensions: [jaeger_storage, jaeger_query]
  pipelines:
    traces:
      receivers: [otlp]
      processors: [batch]
      exporters: [jaeger_storage_exporter]
  telemetry:
    metrics:
      level: none
extensions:
  jaeger_query:
    storage:
      traces: memstore
    http:
      endpoint: ${host}:${JAEGER_QUERY}
    grpc:
      endpoint: ${host}:${JAEGER_QUERY + 1}
  jaeger_storage:
    backends:
      memstore:
        memory:
          max_traces: 10000
receivers:
  otlp:
    protocols:
      http:
        endpoint: ${host}:${JAEGER_OTLP}
processors:
  batch:
    timeout: 200ms
exporters:
  jaeger_storage_exporter:
    trace_storage: memstore
`;
}
