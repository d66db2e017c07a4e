// The dashboard page: polls the control plane's JSON API every few seconds and draws the service
// graph and the service/workload pages as plain SVG and tables. Routes: #/ (graph),
// #/services/<ns>/<name>, #/workloads/<ns>/<name>, #/traces?service=S (recent traces: S is a
// service's <ns>/<name> or a reporting service such as waypoint.bookinfo) and #/trace/<id> (one
// trace as a waterfall).

interface GraphNode {
  id: string;
  kind: 'workload' | 'service' | 'waypoint';
  namespace: string;
  name: string;
}

interface GraphEdge {
  from: string;
  to: string;
  requestsPerSecond: number;
  connectionsPerSecond: number;
  errorRatio: number;
  p50Ms?: number;
  p99Ms?: number;
  tcpBytesPerSecond: number;
  mtls: boolean;
  via?: string;
}

interface Graph {
  source: string;
  windowSeconds: number;
  nodes: GraphNode[];
  edges: GraphEdge[];
}

interface GoldenPoint {
  at: number;
  requestsPerSecond: number;
  errorRatio: number;
  p50Ms: number | null;
  p99Ms: number | null;
  tcpBytesPerSecond: number;
  connectionsPerSecond: number;
}

interface Applying {
  kind: string;
  namespace: string;
  name: string;
  enforcedBy?: string;
  valid: boolean;
  conditions: Array<{ type: string; status: string; reason: string; message: string }>;
}

interface Endpoint {
  pod: string;
  workload: string;
  addresses: string[];
  node: string;
  status: string;
  identity: string;
  certificate: { serialNumber: string; notAfter: string } | null;
}

interface Page {
  kind: 'service' | 'workload';
  namespace: string;
  name: string;
  hostname?: string;
  addresses?: string[];
  waypoint: string | null;
  endpoints?: Endpoint[];
  pods?: Endpoint[];
  services?: string[];
  nodes: string[];
  policies: Applying[];
  routes?: Applying[];
  inbound: GraphEdge[];
  outbound: GraphEdge[];
  series: GoldenPoint[];
}

interface TraceSummary {
  traceId: string;
  root: string;
  rootService: string;
  services: string[];
  startedAt: string;
  durationMs: number;
  spanCount: number;
  error: boolean;
}

interface TraceList {
  source: string;
  service?: string;
  traces: TraceSummary[];
}

interface WaterfallSpan {
  spanId: string;
  parentSpanId: string | null;
  depth: number;
  missingParent: boolean;
  service: string;
  name: string;
  kind: string;
  offsetMs: number;
  durationMs: number;
  attributes: Record<string, string | number | boolean>;
  status: { code: string; message?: string };
}

interface TraceDetail extends TraceSummary {
  spans: WaterfallSpan[];
}

const POLL_MS = 2500;
const SVG = 'http://www.w3.org/2000/svg';

function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  e.append(...children);
  return e;
}

function svg(tag: string, attrs: Record<string, string | number> = {}, ...children: Array<Node | string>): SVGElement {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
  e.append(...children);
  return e;
}

const fmt = (n: number, digits = 1): string => (n >= 100 ? n.toFixed(0) : n.toFixed(digits));
const pct = (r: number): string => `${fmt(r * 100)}%`;
function bytes(n: number): string {
  if (n >= 1e6) return `${fmt(n / 1e6)} MB/s`;
  if (n >= 1e3) return `${fmt(n / 1e3)} kB/s`;
  return `${fmt(n, 0)} B/s`;
}

/** The edge's label: HTTP numbers when a waypoint saw requests, else TCP connections and bytes. */
function edgeLabel(e: GraphEdge, mtlsText = true): string {
  const lock = e.mtls && mtlsText ? 'mTLS · ' : '';
  if (e.requestsPerSecond > 0) {
    const lat = e.p99Ms !== undefined ? ` p50 ${fmt(e.p50Ms ?? 0)} / p99 ${fmt(e.p99Ms)} ms` : '';
    return `${lock}${fmt(e.requestsPerSecond, 2)} rps · ${pct(e.errorRatio)} err${lat}`;
  }
  return `${lock}${fmt(e.connectionsPerSecond, 2)} conn/s · ${bytes(e.tcpBytesPerSecond)}${e.errorRatio > 0 ? ` · ${pct(e.errorRatio)} err` : ''}`;
}

/** Room between two columns for an edge and its label. */
const COLUMN = 420;

/** Columns by distance from the callers: a node with no incoming edge starts a column 0. */
function layout(g: Graph): Map<string, { x: number; y: number }> {
  const incoming = new Map<string, number>();
  for (const e of g.edges) incoming.set(e.to, (incoming.get(e.to) ?? 0) + 1);
  const depth = new Map<string, number>();
  for (const n of g.nodes) if (!incoming.has(n.id)) depth.set(n.id, 0);
  for (let pass = 0; pass < g.nodes.length; pass++) {
    for (const e of g.edges) {
      const d = depth.get(e.from);
      if (d !== undefined && e.from !== e.to && (depth.get(e.to) ?? -1) < d + 1 && d + 1 < g.nodes.length) depth.set(e.to, d + 1);
    }
  }
  const columns = new Map<number, string[]>();
  for (const n of g.nodes) {
    const d = depth.get(n.id) ?? 0;
    columns.set(d, [...(columns.get(d) ?? []), n.id]);
  }
  const pos = new Map<string, { x: number; y: number }>();
  for (const [d, ids] of columns) ids.forEach((id, i) => pos.set(id, { x: 30 + d * COLUMN, y: 40 + i * 90 }));
  return pos;
}

/** A padlock drawn by hand (no icon font in a headless browser): the edge is mutual TLS. */
function lockIcon(x: number, y: number): SVGElement {
  const g = svg('g', { class: 'lock', transform: `translate(${x} ${y})` });
  g.append(svg('title', {}, 'mutual TLS'));
  g.append(svg('path', { d: 'M2.5 6 V3.5 a3 3 0 0 1 6 0 V6', fill: 'none', stroke: '#1b7f3a', 'stroke-width': 1.5 }));
  g.append(svg('rect', { x: 0.5, y: 6, width: 10, height: 7, rx: 1.5, fill: '#1b7f3a' }));
  return g;
}

/** The traces page of a graph node: a service's (by <ns>/<name>) or a waypoint's (its span service name). */
function tracesOf(nodeId: string): string | undefined {
  const m = /^(service|waypoint):([^/]+)\/(.+)$/.exec(nodeId);
  if (!m) return undefined;
  const service = m[1] === 'service' ? `${m[2]}/${m[3]}` : `${m[3]}.${m[2]}`;
  return `#/traces?service=${encodeURIComponent(service)}`;
}

const NODE_W = 190;
const NODE_H = 40;

function drawGraph(g: Graph): Node {
  const pos = layout(g);
  const width = Math.max(600, ...[...pos.values()].map((p) => p.x + NODE_W + 40));
  const height = Math.max(200, ...[...pos.values()].map((p) => p.y + NODE_H + 40));
  const root = svg('svg', { class: 'graph', width, height, viewBox: `0 0 ${width} ${height}` });
  root.append(svg('defs', {}, svg('marker', { id: 'arrow', viewBox: '0 0 10 10', refX: 10, refY: 5, markerWidth: 8, markerHeight: 8, orient: 'auto-start-reverse' }, svg('path', { d: 'M 0 0 L 10 5 L 0 10 z', fill: '#7a869a' }))));
  for (const e of g.edges) {
    const a = pos.get(e.from);
    const b = pos.get(e.to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    const group = svg('g', {
      class: `edge${e.errorRatio > 0 ? ' errors' : ''}`,
      'data-edge': `${e.from}->${e.to}`,
      'data-rps': e.requestsPerSecond,
      'data-cps': e.connectionsPerSecond,
      'data-bytes': e.tcpBytesPerSecond,
      'data-error': e.errorRatio,
      'data-mtls': String(e.mtls),
    });
    group.append(svg('path', { d: `M ${x1} ${y1} C ${mid} ${y1}, ${mid} ${y2}, ${x2} ${y2}`, 'marker-end': 'url(#arrow)' }));
    const ly = (y1 + y2) / 2 - 6;
    group.append(svg('text', { x: mid, y: ly, 'text-anchor': 'middle' }, edgeLabel(e, false)));
    if (e.mtls) group.append(lockIcon(mid - 5, ly - 26));
    const traces = tracesOf(e.to);
    if (traces) {
      group.append(svg('title', {}, 'click: recent traces to this destination'));
      group.addEventListener('click', () => (location.hash = traces));
    }
    root.append(group);
  }
  for (const n of g.nodes) {
    const p = pos.get(n.id)!;
    const node = svg('g', { class: `node ${n.kind}`, 'data-node': n.id, transform: `translate(${p.x} ${p.y})` });
    node.append(svg('rect', { width: NODE_W, height: NODE_H, rx: n.kind === 'service' ? 18 : 4 }));
    node.append(svg('text', { x: 8, y: 16 }, n.name));
    node.append(svg('text', { x: 8, y: 32, opacity: 0.6 }, `${n.kind} · ${n.namespace}`));
    node.addEventListener('click', () => (location.hash = `#/${n.kind === 'service' ? 'services' : 'workloads'}/${n.namespace}/${n.name}`));
    root.append(node);
  }
  return root;
}

/** A line chart of one signal over the page's range, with its latest value. */
function chart(name: string, title: string, points: GoldenPoint[], lines: Array<{ pick: (p: GoldenPoint) => number | null; color: string }>, unit: (v: number) => string): Node {
  const w = 340;
  const h = 150;
  const pad = 28;
  const values = points.flatMap((p) => lines.map((l) => l.pick(p)).filter((v): v is number => v !== null));
  const max = Math.max(1e-9, ...values);
  const t0 = points[0]?.at ?? 0;
  const t1 = points.at(-1)?.at ?? 1;
  const x = (t: number): number => pad + ((t - t0) / Math.max(1, t1 - t0)) * (w - 2 * pad);
  const y = (v: number): number => h - pad - (v / max) * (h - 2 * pad);
  const nonZero = values.filter((v) => v > 0).length;
  const root = svg('svg', { class: 'chart', width: w, height: h, 'data-chart': name, 'data-nonzero': nonZero });
  root.append(svg('text', { x: pad, y: 14 }, `${title} (max ${unit(max)})`));
  root.append(svg('line', { x1: pad, y1: h - pad, x2: w - pad, y2: h - pad, stroke: '#aab' }));
  for (const l of lines) {
    const pts = points.map((p) => [p.at, l.pick(p)] as const).filter((p): p is readonly [number, number] => p[1] !== null);
    if (pts.length === 0) continue;
    root.append(svg('polyline', { fill: 'none', stroke: l.color, 'stroke-width': 1.5, points: pts.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ') }));
  }
  root.append(svg('text', { x: pad, y: h - 8 }, `${new Date(t0).toLocaleTimeString()} – ${new Date(t1).toLocaleTimeString()}`));
  return root;
}

function table(head: string[], rows: Array<Array<Node | string>>): Node {
  if (rows.length === 0) return el('p', {}, 'none');
  return el('table', {}, el('tr', {}, ...head.map((h) => el('th', {}, h))), ...rows.map((r) => el('tr', {}, ...r.map((c) => el('td', {}, c)))));
}

function applyingRows(list: Applying[]): Array<Array<Node | string>> {
  return list.map((p) => [
    p.kind,
    `${p.namespace}/${p.name}`,
    p.enforcedBy ?? '',
    el('span', { class: p.valid ? 'ok' : 'bad' }, p.valid ? 'valid' : 'invalid'),
    p.conditions.map((c) => `${c.type}=${c.status} ${c.reason}${c.status === 'True' ? '' : `: ${c.message}`}`).join('; '),
  ]);
}

function drawPage(p: Page): Node {
  const box = el('div', { 'data-page': `${p.kind}:${p.namespace}/${p.name}` });
  box.append(el('h2', {}, `${p.kind} ${p.namespace}/${p.name}`));
  if (p.kind === 'service') box.append(el('p', {}, el('a', { href: `#/traces?service=${encodeURIComponent(`${p.namespace}/${p.name}`)}`, 'data-link': 'traces' }, 'Traces to this service')));
  const facts: Array<[string, string]> = [];
  if (p.hostname) facts.push(['hostname', p.hostname]);
  if (p.addresses) facts.push(['addresses', p.addresses.join(', ')]);
  if (p.services) facts.push(['services', p.services.join(', ') || 'none']);
  facts.push(['waypoint', p.waypoint ?? 'none']);
  facts.push(['nodes', p.nodes.join(', ') || 'none']);
  box.append(table(['', ''], facts.map(([k, v]) => [k, v])));
  box.append(el('h3', {}, 'Golden signals, last 15 minutes'));
  box.append(
    el(
      'div',
      { class: 'charts' },
      chart('rps', 'requests/s', p.series, [{ pick: (x) => x.requestsPerSecond, color: '#2b6cb0' }], (v) => fmt(v, 2)),
      chart('errors', 'error ratio', p.series, [{ pick: (x) => x.errorRatio, color: '#d23b3b' }], pct),
      chart('latency', 'latency p50 / p99 (ms)', p.series, [{ pick: (x) => x.p50Ms, color: '#2f855a' }, { pick: (x) => x.p99Ms, color: '#b7791f' }], (v) => fmt(v)),
      chart('tcp', 'TCP bytes/s', p.series, [{ pick: (x) => x.tcpBytesPerSecond, color: '#6b46c1' }], bytes),
    ),
  );
  const eps = p.endpoints ?? p.pods ?? [];
  box.append(el('h3', {}, p.kind === 'service' ? 'Endpoints' : 'Pods'));
  box.append(
    table(
      ['pod', 'workload', 'addresses', 'node', 'status', 'identity', 'certificate expires'],
      eps.map((e) => [e.pod, e.workload, e.addresses.join(', '), e.node, e.status, e.identity, e.certificate ? `${new Date(e.certificate.notAfter).toLocaleString()} (serial ${e.certificate.serialNumber})` : 'not issued by this control plane yet']),
    ),
  );
  box.append(el('h3', {}, 'Policies'), table(['kind', 'name', 'enforced by', 'validity', 'conditions'], applyingRows(p.policies)));
  if (p.routes) box.append(el('h3', {}, 'Routes'), table(['kind', 'name', 'enforced by', 'validity', 'conditions'], applyingRows(p.routes)));
  const edgeRows = (list: GraphEdge[]): Array<Array<Node | string>> => list.map((e) => [e.from, e.to, edgeLabel(e)]);
  box.append(el('h3', {}, 'Traffic'), table(['from', 'to', 'now'], [...edgeRows(p.inbound), ...edgeRows(p.outbound)]));
  return box;
}

const ms = (v: number): string => (v >= 1000 ? `${fmt(v / 1000, 2)} s` : `${fmt(v, v < 10 ? 2 : 1)} ms`);

function drawTraceList(l: TraceList, asked: string): Node {
  const box = el('div', { 'data-traces': asked });
  box.append(el('h2', {}, `Traces: ${asked}`));
  box.append(el('p', {}, `Newest first, from the ${l.source}${l.service && l.service !== asked ? ` (spans for ${l.service})` : ''}.`));
  box.append(
    table(
      ['started', 'root', 'services', 'spans', 'duration', ''],
      l.traces.map((t) => [
        new Date(t.startedAt).toLocaleTimeString(),
        el('a', { href: `#/trace/${t.traceId}`, 'data-trace': t.traceId, 'data-spans': String(t.spanCount) }, `${t.rootService} · ${t.root}`),
        t.services.join(', '),
        String(t.spanCount),
        ms(t.durationMs),
        t.error ? el('span', { class: 'bad' }, 'error') : '',
      ]),
    ),
  );
  return box;
}

const ROW_H = 26;
const LABEL_W = 430;
const BARS_W = 640;

/** The spans as bars on one time axis, each row indented under its parent. */
function drawWaterfall(t: TraceDetail): Node {
  const total = Math.max(t.durationMs, 1e-6);
  const x = (v: number): number => LABEL_W + (v / total) * BARS_W;
  const height = 30 + t.spans.length * ROW_H + 10;
  const root = svg('svg', { class: 'waterfall', width: LABEL_W + BARS_W + 90, height, 'data-waterfall': t.traceId });
  for (const f of [0, 0.25, 0.5, 0.75, 1]) {
    root.append(svg('line', { x1: x(total * f), y1: 20, x2: x(total * f), y2: height - 6, class: 'tick' }));
    root.append(svg('text', { x: x(total * f), y: 14, 'text-anchor': 'middle', class: 'axis' }, ms(total * f)));
  }
  t.spans.forEach((s, i) => {
    const y = 26 + i * ROW_H;
    const error = s.status.code === 'error';
    const row = svg('g', { class: `span${error ? ' error' : ''}`, 'data-span': s.spanId, 'data-parent': s.parentSpanId ?? '', 'data-depth': s.depth, 'data-service': s.service, 'data-kind': s.kind, 'data-duration': s.durationMs, 'data-error': String(error) });
    row.append(svg('title', {}, [`${s.service} · ${s.name} (${s.kind})`, `starts +${ms(s.offsetMs)}, lasts ${ms(s.durationMs)}`, ...(error ? [`error: ${s.status.message ?? ''}`] : []), ...(s.missingParent ? ['parent span not received'] : []), ...Object.entries(s.attributes).map(([k, v]) => `${k}=${v}`)].join('\n')));
    row.append(svg('text', { x: 6 + s.depth * 16, y: y + 15, class: 'label' }, `${s.depth > 0 ? '└ ' : ''}${s.service} · ${s.name}`));
    const bx = x(s.offsetMs);
    const bw = Math.max(2, x(s.offsetMs + s.durationMs) - bx);
    row.append(svg('rect', { x: bx, y: y + 3, width: bw, height: ROW_H - 8, rx: 2 }));
    row.append(svg('text', { x: bx + bw + 4, y: y + 15, class: 'duration' }, `${ms(s.durationMs)}${error ? ' ✖ error' : ''}`));
    root.append(row);
  });
  return root;
}

function drawTrace(t: TraceDetail): Node {
  const box = el('div', { 'data-trace-page': t.traceId });
  box.append(el('h2', {}, `Trace ${t.traceId}`));
  box.append(el('p', {}, `${new Date(t.startedAt).toLocaleString()} · ${ms(t.durationMs)} · ${t.spanCount} spans · ${t.services.join(', ')}${t.error ? ' · ' : ''}`, ...(t.error ? [el('span', { class: 'bad' }, 'error')] : [])));
  box.append(drawWaterfall(t));
  box.append(el('h3', {}, 'Spans'));
  box.append(
    table(
      ['service', 'name', 'kind', 'start', 'duration', 'status', 'attributes'],
      t.spans.map((s) => [s.service, s.name, s.kind, `+${ms(s.offsetMs)}`, ms(s.durationMs), s.status.code === 'error' ? el('span', { class: 'bad' }, `error: ${s.status.message ?? ''}`) : s.status.code, Object.entries(s.attributes).map(([k, v]) => `${k}=${v}`).join(' ')]),
    ),
  );
  return box;
}

async function getJson<T>(path: string): Promise<T> {
  const r = await fetch(path, { cache: 'no-store' });
  const body = (await r.json()) as T & { error?: string };
  if (!r.ok) throw new Error(body.error ?? `HTTP ${r.status} from ${path}`);
  return body;
}

async function render(): Promise<void> {
  const view = document.getElementById('view')!;
  const error = document.getElementById('error')!;
  const title = document.getElementById('title')!;
  const m = /^#\/(services|workloads)\/([^/]+)\/([^/]+)$/.exec(location.hash);
  const list = /^#\/traces\?service=(.+)$/.exec(location.hash);
  const one = /^#\/trace\/([0-9a-fA-F]+)$/.exec(location.hash);
  try {
    if (list) {
      const asked = decodeURIComponent(list[1]!);
      const l = await getJson<TraceList>(`api/traces?service=${encodeURIComponent(asked)}&limit=30`);
      title.textContent = `traces: ${asked}`;
      view.replaceChildren(drawTraceList(l, asked));
    } else if (one) {
      const t = await getJson<TraceDetail>(`api/traces/${one[1]}`);
      title.textContent = `trace ${t.traceId}`;
      view.replaceChildren(drawTrace(t));
    } else if (m) {
      const page = await getJson<Page>(`api/${m[1]}/${m[2]}/${m[3]}`);
      title.textContent = `${page.kind} ${page.namespace}/${page.name}`;
      view.replaceChildren(drawPage(page));
    } else {
      const g = await getJson<Graph>('api/graph');
      title.textContent = `service graph (last ${g.windowSeconds}s)`;
      document.getElementById('source')!.textContent = g.source;
      view.replaceChildren(drawGraph(g));
    }
    error.textContent = '';
    document.body.dataset.updated = String(Date.now());
  } catch (e) {
    error.textContent = (e as Error).message;
  }
}

let timer: number | undefined;
function schedule(): void {
  if (timer !== undefined) clearTimeout(timer);
  void render().finally(() => (timer = window.setTimeout(schedule, POLL_MS)));
}
window.addEventListener('hashchange', schedule);
schedule();
