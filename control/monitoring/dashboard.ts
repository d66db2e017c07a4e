// The dashboard's HTTP side: the page (built from web/dashboard into dist/web/dashboard) and its
// JSON API — /api/graph, /api/services/<ns>/<name>, /api/workloads/<ns>/<name> — computed by the
// pure views from the model and whichever metrics source the control plane was given; and
// /api/traces, /api/traces/<id> from the embedded trace store (even when metrics come from Prometheus).
import { readFile } from 'node:fs/promises';
import { json, type Reply, type Routes } from '../../lib/admin/routes.js';
import { parseDuration } from '../../lib/config/duration.js';
import type { TraceStore } from '../traces/store.js';
import { traceConcerns, traceDetail, traceSummary } from '../traces/views.js';
import { goldenSeries, trafficEdges, type CounterQueries, type Target } from './signals.js';
import { graphView, servicePage, workloadPage, type Graph, type MeshView } from './views.js';

export interface DashboardDeps {
  signals: CounterQueries;
  mesh: () => MeshView;
  /** Where the page's files are; default dist/web/dashboard next to this module's tree. */
  webDir?: URL;
  /** The graph's window when the request names none; default 30 s. */
  windowMs?: number;
  /** Shown on the page: "embedded scrapes every 5s" or "Prometheus http://…". */
  sourceName: string;
  /** The embedded OTLP receiver's spans; without it the trace routes answer 404. */
  traces?: Pick<TraceStore, 'findTraces' | 'getTrace'>;
}

/** Traces searched when a filter is given: the store keeps at most a few thousand. */
const SCAN_TRACES = 100_000;
const MAX_LIST = 200;

const DEFAULT_WEB = new URL('../../web/dashboard/', import.meta.url);
const STATIC: Record<string, { file: string; type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/dashboard.js': { file: 'dashboard.js', type: 'text/javascript; charset=utf-8' },
};

/** Bad input in a request: answered 400 with the parameter named. */
class RequestError extends Error {}

function durationParam(url: URL, name: string, fallbackMs: number, minMs: number, maxMs: number): number {
  const raw = url.searchParams.get(name);
  if (raw === null) return fallbackMs;
  let ms: number;
  try {
    ms = parseDuration(raw, name);
  } catch (e) {
    throw new RequestError((e as Error).message);
  }
  if (ms < minMs || ms > maxMs) throw new RequestError(`${name}: ${raw} is outside ${minMs / 1000}s..${maxMs / 1000}s`);
  return ms;
}

/** `<ns>/<name>` after a prefix, or a RequestError naming what is missing. */
function nsName(url: URL, prefix: string): [string, string] {
  const parts = url.pathname.slice(prefix.length).split('/').filter((p) => p !== '').map(decodeURIComponent);
  if (parts.length !== 2) throw new RequestError(`expected ${prefix}<namespace>/<name>, got ${url.pathname}`);
  return parts as [string, string];
}

async function answer(f: () => Promise<Reply>): Promise<Reply> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof RequestError) return json({ error: e.message }, 400);
    // The metrics source failed (Prometheus down, a bad answer): say so, the page shows it.
    return json({ error: (e as Error).message }, 502);
  }
}

export function dashboardRoutes(d: DashboardDeps): Routes {
  const web = d.webDir ?? DEFAULT_WEB;
  const graphOf = async (windowMs: number): Promise<Graph> => graphView(d.mesh(), await trafficEdges(d.signals, d.signals.now(), windowMs), windowMs / 1000);
  const page = (prefix: string, kind: Target['kind']) => (url: URL) =>
    answer(async () => {
      const [namespace, name] = nsName(url, prefix);
      const rangeMs = durationParam(url, 'range', 15 * 60_000, 60_000, 60 * 60_000);
      const stepMs = durationParam(url, 'step', 30_000, 5_000, rangeMs);
      const windowMs = durationParam(url, 'window', d.windowMs ?? 30_000, 5_000, 60 * 60_000);
      const [graph, series] = await Promise.all([graphOf(windowMs), goldenSeries(d.signals, { kind, namespace, name }, d.signals.now(), rangeMs, stepMs)]);
      const m = d.mesh();
      const p = kind === 'service' ? servicePage(m, namespace, name, graph, series) : workloadPage(m, namespace, name, graph, series);
      return p ? json(p) : json({ error: `no ${kind} ${namespace}/${name} in the mesh` }, 404);
    });
  const traces = (url: URL): Promise<Reply> =>
    answer(async () => {
      if (!d.traces) return json({ error: 'this control plane keeps no traces' }, 404);
      const raw = url.searchParams.get('limit');
      const limit = raw === null || raw === '' ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIST) throw new RequestError(`limit: "${raw}" is not a whole number in 1..${MAX_LIST}`);
      const asked = url.searchParams.get('service') || undefined;
      // `<ns>/<name>` is a mesh service: traces headed for its hostname; anything else is a name
      // as the spans carry it (a reporting service such as waypoint.bookinfo, or a hostname).
      let service = asked;
      if (asked?.includes('/')) {
        const s = d.mesh().services.find((x) => `${x.namespace}/${x.name}` === asked);
        if (!s) return json({ error: `service: no service ${asked} in the mesh` }, 404);
        service = s.hostname;
      }
      const found = service ? d.traces.findTraces({ limit: SCAN_TRACES }).filter((t) => traceConcerns(t, service)).slice(0, limit) : d.traces.findTraces({ limit });
      return json({ source: 'embedded trace store', ...(service ? { service } : {}), traces: found.filter((t) => t.spans.length > 0).map(traceSummary) });
    });
  const trace = (url: URL): Promise<Reply> =>
    answer(async () => {
      if (!d.traces) return json({ error: 'this control plane keeps no traces' }, 404);
      const id = decodeURIComponent(url.pathname.slice('/api/traces/'.length));
      if (!/^[0-9a-fA-F]{1,32}$/.test(id)) throw new RequestError(`trace id: "${id}" is not 1 to 32 hex digits`);
      const t = d.traces.getTrace(id.padStart(32, '0'));
      return t && t.spans.length > 0 ? json(traceDetail(t)) : json({ error: `trace ${id} is not in the embedded store (gone after 15 minutes, or never received)` }, 404);
    });
  const routes: Routes = {
    '/api/traces': traces,
    '/api/traces/*': trace,
    '/api/graph': (url) => answer(async () => json({ source: d.sourceName, at: new Date(d.signals.now()).toISOString(), ...(await graphOf(durationParam(url, 'window', d.windowMs ?? 30_000, 5_000, 60 * 60_000))) })),
    '/api/services/*': page('/api/services/', 'service'),
    '/api/workloads/*': page('/api/workloads/', 'workload'),
  };
  for (const [path, s] of Object.entries(STATIC)) {
    routes[path] = async () => {
      try {
        return { contentType: s.type, body: await readFile(new URL(s.file, web), 'utf8'), headers: { 'cache-control': 'no-cache' } };
      } catch (e) {
        return { status: 500, body: `the dashboard's ${s.file} is missing (${(e as Error).message}); run npm run build\n` };
      }
    };
  }
  return routes;
}
