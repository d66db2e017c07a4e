// The dashboard's counter queries answered by a Prometheus server over its HTTP API
// (`/api/v1/query`, `/api/v1/query_range`): the same increases the embedded history gives, in PromQL.
import type { Labels } from './exposition.js';
import { GROUP_LABELS, type CounterQueries, type Group } from './signals.js';

/** `sum by (…) (increase(name{reporter=~"waypoint|destination"}[Ns]))`: every label the dashboard groups by, nothing more. */
export function increaseQuery(name: string, windowMs: number): string {
  const seconds = Math.max(1, Math.round(windowMs / 1000));
  return `sum by (${GROUP_LABELS.join(', ')}) (increase(${name}{reporter=~"waypoint|destination"}[${seconds}s]))`;
}

/** The request for increases over windows ending at `ats`: one instant query, or one range query. */
export function queryUrl(base: string, name: string, ats: readonly number[], windowMs: number): URL {
  const root = base.endsWith('/') ? base : `${base}/`;
  const query = increaseQuery(name, windowMs);
  if (ats.length === 1) {
    const u = new URL('api/v1/query', root);
    u.searchParams.set('query', query);
    u.searchParams.set('time', String(ats[0]! / 1000));
    return u;
  }
  const u = new URL('api/v1/query_range', root);
  u.searchParams.set('query', query);
  u.searchParams.set('start', String(ats[0]! / 1000));
  u.searchParams.set('end', String(ats.at(-1)! / 1000));
  u.searchParams.set('step', `${(ats[1]! - ats[0]!) / 1000}s`);
  return u;
}

interface PromSeries {
  metric: Labels;
  value?: [number, string];
  values?: Array<[number, string]>;
}

/** Folds a Prometheus answer into one map per `at`; a point is matched to the nearest `at`. */
export function foldAnswer(body: unknown, ats: readonly number[], group: Group, what: string): Array<Map<string, number>> {
  const b = body as { status?: string; error?: string; errorType?: string; data?: { resultType?: string; result?: PromSeries[] } };
  if (b?.status !== 'success') throw new Error(`Prometheus ${what}: ${b?.errorType ?? 'error'}: ${b?.error ?? 'the answer is not a PromQL result'}`);
  const type = b.data?.resultType;
  if (type !== 'vector' && type !== 'matrix') throw new Error(`Prometheus ${what}: expected a vector or a matrix, got ${String(type)}`);
  const out = ats.map(() => new Map<string, number>());
  const step = ats.length > 1 ? ats[1]! - ats[0]! : 1;
  for (const s of b.data?.result ?? []) {
    const key = group(s.metric ?? {});
    if (key === undefined) continue;
    const points = s.values ?? (s.value ? [s.value] : []);
    for (const [t, v] of points) {
      const i = ats.length === 1 ? 0 : Math.round((t * 1000 - ats[0]!) / step);
      const value = Number(v);
      const m = out[i];
      if (!m || !Number.isFinite(value)) continue;
      m.set(key, (m.get(key) ?? 0) + value);
    }
  }
  return out;
}

export interface PrometheusSourceOptions {
  url: string;
  timeoutMs?: number;
  now?: () => number;
}

export class PrometheusSource implements CounterQueries {
  private readonly clock: () => number;

  constructor(private readonly o: PrometheusSourceOptions) {
    this.clock = o.now ?? Date.now;
  }

  now(): number {
    return this.clock();
  }

  async increase(name: string, ats: readonly number[], windowMs: number, group: Group): Promise<Array<Map<string, number>>> {
    if (ats.length === 0) return [];
    const url = queryUrl(this.o.url, name, ats, windowMs);
    const what = `${url.origin}${url.pathname} for ${name}`;
    let res: Response;
    try {
      res = await fetch(url, { signal: AbortSignal.timeout(this.o.timeoutMs ?? 5000) });
    } catch (e) {
      throw new Error(`Prometheus ${what}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`Prometheus ${what}: HTTP ${res.status}, not JSON: ${text.slice(0, 200)}`);
    }
    return foldAnswer(body, ats, group, what);
  }
}
