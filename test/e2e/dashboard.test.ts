// End-to-end, in a real browser: `ambit up --demo`, `ambit dashboard`, and Debian's chromium
// (headless, driven by playwright-core) on the page. The graph shows the demo's services with
// traffic and mTLS locks; a DENY AuthorizationPolicy makes the denied edge's error rate rise on the
// page; the backend's page has charts with data. Then a second control plane on the same cluster
// answers from a real Prometheus server (Debian's `prometheus`, scraping the ztunnels) and the same
// page shows the same services. A productpage → reviews request's trace opens from the reviews
// page and draws one waterfall bar per hop (ztunnel outbound, the waypoint; ztunnel inbound when
// its pooled connection has ended). Screenshots go to test-results/dashboard/ (gitignored).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t from 'tap';
import { chromium, type Browser, type Page } from 'playwright-core';
import { AMBIT, ROOT, TestCluster, eventually } from './testkit.js';
import { readClusterInfo } from '../../cli/commands/common.js';

const CHROMIUM = '/usr/bin/chromium';
const PROMETHEUS = '/usr/bin/prometheus';
const SHOTS = path.join(ROOT, 'test-results', 'dashboard');
// The bookstore demo: productpage calls details through the ztunnels only, and reviews through the
// namespace's waypoint.
const CALLER = 'workload:bookinfo/productpage-v1';
const BACKEND = 'service:bookinfo/details';
const VIA_WAYPOINT = 'service:bookinfo/reviews';

const DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dashboard-e2e-deny
  namespace: bookinfo
spec:
  selector:
    matchLabels:
      app: details
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
`;

const L7_DENY = `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: dashboard-e2e-l7-deny
  namespace: bookinfo
spec:
  targetRefs:
    - { kind: Service, group: "", name: reviews }
  action: DENY
  rules:
    - from:
        - source:
            principals: ["cluster.local/ns/bookinfo/sa/bookinfo-productpage"]
`;

const WAYPOINT = 'waypoint:bookinfo/waypoint';
const REVIEWS_HOST = 'reviews.bookinfo.svc.cluster.local';

interface ApiSpan {
  spanId: string;
  parentSpanId: string | null;
  service: string;
  kind: string;
  durationMs: number;
  attributes: Record<string, unknown>;
}

/**
 * A request to reviews through the waypoint: the caller's ztunnel span (outbound, the root) and the
 * waypoint's span under it, with the reviews pod's ztunnel span (inbound) under that when it has
 * arrived. ztunnel reports a connection's span when the connection ends, and the waypoint keeps its
 * upstream connections to reviews open while the demo's traffic flows, so in the demo that third
 * span comes only after traffic stops.
 */
function reviewsHops(spans: ApiSpan[]): { out: ApiSpan; wp: ApiSpan; inb: ApiSpan | undefined } | undefined {
  for (const out of spans.filter((s) => s.service === 'ztunnel' && s.kind === 'client' && s.parentSpanId === null && s.attributes['dst.service'] === REVIEWS_HOST)) {
    const wp = spans.find((s) => s.parentSpanId === out.spanId && s.service === 'waypoint.bookinfo' && s.attributes['istio.destination_service'] === REVIEWS_HOST);
    if (wp) return { out, wp, inb: spans.find((s) => s.parentSpanId === wp.spanId && s.service === 'ztunnel' && s.kind === 'server') };
  }
  return undefined;
}

interface BarOnPage {
  span: string;
  parent: string;
  depth: number;
  service: string;
  kind: string;
  duration: number;
  width: number;
  label: string;
}

async function barsOnPage(page: Page): Promise<BarOnPage[]> {
  return page.evaluate(`[...document.querySelectorAll('[data-waterfall] [data-span]')].map((g) => ({
    span: g.getAttribute('data-span'),
    parent: g.getAttribute('data-parent'),
    depth: Number(g.getAttribute('data-depth')),
    service: g.getAttribute('data-service'),
    kind: g.getAttribute('data-kind'),
    duration: Number(g.getAttribute('data-duration')),
    width: Number(g.querySelector('rect')?.getAttribute('width')),
    label: g.querySelector('text.label')?.textContent ?? '',
  }))`);
}

interface EdgeOnPage {
  id: string;
  rps: number;
  cps: number;
  bytes: number;
  error: number;
  mtls: boolean;
  label: string;
  /** The padlock drawn on the edge. */
  lock: boolean;
}

/** What the graph on the page shows: its nodes and its edges with the numbers they carry. */
async function graphOnPage(page: Page): Promise<{ nodes: string[]; edges: EdgeOnPage[] }> {
  // A string: this file compiles without the DOM types; the expression runs in the page.
  return page.evaluate(`({
    nodes: [...document.querySelectorAll('[data-node]')].map((n) => n.getAttribute('data-node') ?? ''),
    edges: [...document.querySelectorAll('[data-edge]')].map((e) => ({
      id: e.getAttribute('data-edge') ?? '',
      rps: Number(e.getAttribute('data-rps')),
      cps: Number(e.getAttribute('data-cps')),
      bytes: Number(e.getAttribute('data-bytes')),
      error: Number(e.getAttribute('data-error')),
      mtls: e.getAttribute('data-mtls') === 'true',
      label: e.querySelector('text')?.textContent ?? '',
      lock: e.querySelector('.lock') !== null,
    })),
  })`);
}

const edgeOf = (g: { edges: EdgeOnPage[] }, from: string, to: string): EdgeOnPage | undefined => g.edges.find((e) => e.id === `${from}->${to}`);

async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Starts a process and ends it (by its pid) at teardown; its output goes to `log`. */
function startProcess(t: { teardown(fn: () => unknown): void }, argv: string[], log: string): ChildProcess {
  const out = openSync(log, 'w');
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', out, out] });
  t.teardown(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  );
  return child;
}

t.test('the dashboard in chromium against the demo, then against Prometheus', async (t) => {
  mkdirSync(SHOTS, { recursive: true });
  const c = new TestCluster('dashboard');
  // The demo's productpage forward: any free port, so parallel clusters do not collide.
  c.env = { AMBIT_DEMO_PORT: '0' };
  t.teardown(async () => {
    await c.down();
    rmSync(c.stateDir, { recursive: true, force: true });
  });
  await c.ambit('up', '--detach', '--nodes', '2', '--demo');
  const url = (await c.ambit('dashboard')).trim();
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/, 'ambit dashboard prints the loopback URL');

  const browser: Browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'], headless: true });
  t.teardown(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await page.goto(url);

  // 1. The graph: the demo's services, traffic on the caller's edge, a lock on it.
  const live = await eventually(
    'the productpage → details edge with traffic on the page',
    async () => {
      const g = await graphOnPage(page);
      const e = edgeOf(g, CALLER, BACKEND);
      return e && (e.cps > 0 || e.rps > 0) && e.bytes > 0 && e.mtls ? g : undefined;
    },
    90_000,
    1000,
  );
  t.ok(live.nodes.includes(BACKEND) && live.nodes.includes('service:bookinfo/productpage'), `the demo's services are nodes: ${live.nodes.join(', ')}`);
  const before = edgeOf(live, CALLER, BACKEND)!;
  t.ok(before.lock, 'the mTLS edge is drawn with a lock');
  t.equal(before.error, 0, 'no errors before the policy');
  await page.screenshot({ path: path.join(SHOTS, 'graph.png') });

  // 1b. Traces: the reviews page links to its traces; a productpage → reviews request opens as a
  // waterfall with a bar per hop. The test sends requests from productpage's pod on connections of
  // their own (the demo's keep-alive connections are spans that have not ended). What the store
  // holds goes to traces.json for a failing run.
  const productpage = (await c.json<{ items: Array<{ metadata: { name: string } }> }>('get', 'pods', '-n', 'bookinfo', '-l', 'app=productpage')).items[0]!.metadata.name;
  await page.goto(`${url}#/services/bookinfo/reviews`);
  await page.locator('[data-link="traces"]').click();
  let sent = 0;
  const traced = await eventually(
    'a reviews trace from the outbound ztunnel through the waypoint',
    async () => {
      if (sent < 5) {
        sent++;
        const r = await c.try('exec', `bookinfo/${productpage}`, '--', 'ambit', 'echo', 'request', 'http://reviews:9080/', '--timeout', '5s');
        if (r.code !== 0) throw new Error(`request to reviews failed: ${r.stderr}`);
      }
      const list = (await (await fetch(`${url}api/traces?service=bookinfo/reviews&limit=30`)).json()) as { traces: Array<{ traceId: string; spanCount: number }> };
      const details = await Promise.all(list.traces.filter((x) => x.spanCount < 50).map(async (x) => (await (await fetch(`${url}api/traces/${x.traceId}`)).json()) as { traceId: string; spans: ApiSpan[] }));
      writeFileSync(path.join(SHOTS, 'traces.json'), JSON.stringify(details, null, 2));
      for (const d of details) {
        const h = reviewsHops(d.spans);
        if (h && (await page.locator(`[data-trace="${d.traceId}"]`).count()) > 0) return { id: d.traceId, spans: d.spans, hops: h };
      }
      return undefined;
    },
    90_000,
    2000,
  );
  t.equal(await page.locator('[data-traces="bookinfo/reviews"]').count(), 1, 'the traces list of the reviews service');
  await page.screenshot({ path: path.join(SHOTS, 'traces-reviews.png'), fullPage: true });
  await page.locator(`[data-trace="${traced.id}"]`).click();
  await page.locator(`[data-waterfall="${traced.id}"]`).waitFor({ timeout: 10_000 });
  const bars = await barsOnPage(page);
  t.equal(bars.length, traced.spans.length, `one bar per span of the trace (${bars.length})`);
  const hops = [traced.hops.out, traced.hops.wp, ...(traced.hops.inb ? [traced.hops.inb] : [])];
  t.comment(`the inbound ztunnel hop is ${traced.hops.inb ? 'in' : 'not yet in'} the trace`);
  const hopBars = hops.map((h) => bars.filter((b) => b.span === h.spanId));
  t.ok(hopBars.every((b) => b.length === 1), `one bar for each hop (${hops.length})`);
  const [out, wp, inb] = hopBars.map((b) => b[0]!);
  t.same([out!.service, out!.kind, out!.depth, wp!.service, wp!.depth], ['ztunnel', 'client', 0, 'waypoint.bookinfo', 1], "the outbound ztunnel's bar, the waypoint's indented under it");
  if (inb) t.same([inb.service, inb.kind, inb.depth], ['ztunnel', 'server', 2], "the inbound ztunnel's bar under the waypoint's");
  for (const b of [out!, wp!, ...(inb ? [inb] : [])]) {
    t.ok(b.duration > 0 && b.width > 0, `${b.service} ${b.kind}: ${b.duration} ms, a ${b.width}px bar`);
    t.match(b.label, b.service, `the bar's label names ${b.service}: "${b.label}"`);
  }
  await page.screenshot({ path: path.join(SHOTS, 'trace-waterfall.png'), fullPage: true });
  await page.goto(url);

  // 2. Deny the caller: its edge's error rate rises on the page within a few scrapes.
  await c.applyYaml(DENY);
  const denied = await eventually(
    'the denied edge showing errors',
    async () => {
      const e = edgeOf(await graphOnPage(page), CALLER, BACKEND);
      return e && e.error > 0.5 ? e : undefined;
    },
    90_000,
    1000,
  );
  t.ok(denied.error > 0.5, `error rate on the page after the DENY: ${denied.error} ("${denied.label}")`);
  t.match(denied.label, /err/, 'the label shows the error rate');
  t.ok(denied.lock, 'the refused connections came over mTLS: the lock stays');
  await page.screenshot({ path: path.join(SHOTS, 'graph-denied.png') });

  // 3. The backend's page: charts with data, its endpoints with identities and certificates.
  await page.goto(`${url}#/services/bookinfo/details`);
  const charts = await eventually(
    'the backend page with chart data',
    async () => {
      const got = await page.evaluate<Record<string, number>>(`Object.fromEntries([...document.querySelectorAll('[data-chart]')].map((c) => [c.getAttribute('data-chart'), Number(c.getAttribute('data-nonzero'))]))`);
      return (got.tcp ?? 0) > 0 && (got.errors ?? 0) > 0 ? got : undefined;
    },
    60_000,
    1000,
  );
  t.ok(charts.tcp! > 0 && charts.errors! > 0, `TCP and error charts have points: ${JSON.stringify(charts)}`);
  const text = await page.locator('[data-page="service:bookinfo/details"]').innerText();
  t.match(text, /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/bookinfo-details/, 'endpoint identities');
  t.match(text, /dashboard-e2e-deny/, 'the policy that applies');
  t.match(text, /serial/, 'a certificate the CA issued for the endpoints');
  await page.screenshot({ path: path.join(SHOTS, 'service-backend.png'), fullPage: true });

  // 4. The same page from Prometheus: a real server scraping the ztunnels through their forwards,
  // and a second control plane on the cluster's store answering with PromQL.
  const info = readClusterInfo(c.stateDir)!;
  const ztunnels = Object.entries(info.forwards).filter(([name]) => /^ztunnel .* metrics$/.test(name)).map(([, addr]) => addr);
  t.equal(ztunnels.length, 2, 'both ztunnels are scraped');
  const control = info.forwards['control (metrics, /debug/model)'];
  t.ok(control, 'and the control plane');
  const promDir = mkdtempSync(path.join(os.tmpdir(), 'ambit-e2e-prom-'));
  t.teardown(() => rmSync(promDir, { recursive: true, force: true }));
  const promPort = await freePort();
  writeFileSync(
    path.join(promDir, 'prometheus.yml'),
    `global:\n  scrape_interval: 2s\nscrape_configs:\n  - job_name: ztunnel\n    metrics_path: /stats/prometheus\n    static_configs:\n      - targets: [${ztunnels.map((a) => `"${a}"`).join(', ')}]\n  - job_name: control\n    static_configs:\n      - targets: ["${control}"]\n`,
  );
  startProcess(t, [PROMETHEUS, `--config.file=${path.join(promDir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(promDir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`], path.join(promDir, 'prometheus.log'));
  const promUrl = `http://127.0.0.1:${promPort}`;
  await eventually('Prometheus ready', async () => (await fetch(`${promUrl}/-/ready`)).ok, 60_000, 500);

  const dashPort = await freePort();
  const controlDir = path.join(promDir, 'control');
  startProcess(
    t,
    [process.execPath, AMBIT, 'control', '--state-dir', controlDir, '--store-dir', path.join(c.stateDir, 'store'), '--no-status', '--no-deployment-controller', '--grpc-address', '127.0.0.1:0', '--monitoring-address', '127.0.0.1:0', '--readiness-address', '127.0.0.1:0', '--dashboard-address', `127.0.0.1:${dashPort}`, '--prometheus-url', promUrl],
    path.join(promDir, 'control.log'),
  );
  const promPage = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  await eventually('the second control plane', async () => (await fetch(`http://127.0.0.1:${dashPort}/api/graph`)).ok, 60_000, 500);
  await promPage.goto(`http://127.0.0.1:${dashPort}/`);
  const fromProm = await eventually(
    'the graph from Prometheus with the caller edge',
    async () => {
      const g = await graphOnPage(promPage);
      const e = edgeOf(g, CALLER, BACKEND);
      return e && e.error > 0 && e.mtls && e.lock ? g : undefined;
    },
    90_000,
    1000,
  );
  t.same(fromProm.nodes.filter((n) => n.startsWith('service:')).sort(), live.nodes.filter((n) => n.startsWith('service:')).sort(), 'the same services as the embedded source');
  t.match(await promPage.locator('#source').innerText(), /^Prometheus http:\/\/127\.0\.0\.1:\d+$/, 'the page says where its numbers come from');
  const up = (await (await fetch(`${promUrl}/api/v1/query?query=up`)).json()) as { data: { result: Array<{ metric: { job: string }; value: [number, string] }> } };
  t.same(up.data.result.filter((r) => r.value[1] === '1').map((r) => r.metric.job).sort(), ['control', 'ztunnel', 'ztunnel'], 'Prometheus scrapes the control plane and both ztunnels');
  await promPage.screenshot({ path: path.join(SHOTS, 'graph-prometheus.png') });

  // 5. The demo's waypoint serves reviews: HTTP numbers (rate, p50/p99) on edges drawn via the
  // waypoint, and a waypoint-enforced DENY raising the error rate there (403s).
  await c.deleteYaml(DENY);
  await page.goto(url);
  const via = await eventually(
    'requests through the waypoint on the page',
    async () => {
      const g = await graphOnPage(page);
      const a = edgeOf(g, CALLER, WAYPOINT);
      const b = edgeOf(g, WAYPOINT, VIA_WAYPOINT);
      return a && b && a.rps > 0 && a.error === 0 && a.lock && b.rps > 0 ? { g, a, b } : undefined;
    },
    120_000,
    1000,
  );
  t.ok(via.g.nodes.includes(WAYPOINT), 'the waypoint is its own node');
  t.match(via.a.label, /rps · 0\.0% err p50 [\d.]+ \/ p99 [\d.]+ ms/, `the caller's edge carries HTTP numbers: "${via.a.label}"`);
  t.equal(edgeOf(via.g, CALLER, VIA_WAYPOINT)?.rps ?? 0, 0, 'no requests drawn past the waypoint');
  await page.screenshot({ path: path.join(SHOTS, 'graph-waypoint.png') });
  await c.applyYaml(L7_DENY);
  const l7 = await eventually(
    'the waypoint-denied edge showing errors',
    async () => {
      const e = edgeOf(await graphOnPage(page), CALLER, WAYPOINT);
      return e && e.error > 0.5 ? e : undefined;
    },
    90_000,
    1000,
  );
  t.ok(l7.error > 0.5, `error rate after the waypoint's DENY: ${l7.error} ("${l7.label}")`);
  await page.screenshot({ path: path.join(SHOTS, 'graph-waypoint-denied.png') });
});
