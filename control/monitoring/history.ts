// A short in-memory history of scraped samples and the queries the dashboard needs (increase over a
// window, summed by a key; histogram quantiles from bucket increases). Pure: time is passed in.
import type { Labels, Sample } from './exposition.js';

interface Point {
  at: number;
  value: number;
}

interface Series {
  name: string;
  labels: Labels;
  points: Point[];
}

function seriesKey(target: string, name: string, labels: Labels): string {
  const parts = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`);
  return `${target}|${name}{${parts.join(',')}}`;
}

/** Counter increase between the first and the last point, with counter resets counted as Prometheus does. */
export function increaseOf(points: readonly Point[]): number {
  let sum = 0;
  for (let i = 1; i < points.length; i++) {
    const prev = points[i - 1]!.value;
    const cur = points[i]!.value;
    sum += cur >= prev ? cur - prev : cur;
  }
  return sum;
}

/** Linear interpolation inside the bucket holding the quantile, like PromQL's histogram_quantile. */
export function bucketQuantile(q: number, buckets: ReadonlyArray<{ le: number; count: number }>): number | undefined {
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  const total = sorted.at(-1)?.count ?? 0;
  if (total <= 0 || sorted.at(-1)?.le !== Infinity) return undefined;
  const rank = q * total;
  let lowerLe = 0;
  let lowerCount = 0;
  for (const b of sorted) {
    if (b.count >= rank) {
      if (b.le === Infinity) return lowerLe;
      if (b.count === lowerCount) return b.le;
      return lowerLe + ((b.le - lowerLe) * (rank - lowerCount)) / (b.count - lowerCount);
    }
    lowerLe = b.le;
    lowerCount = b.count;
  }
  return lowerLe;
}

export class MetricHistory {
  private readonly series = new Map<string, Series>();
  private readonly lastScrape = new Map<string, number>();

  constructor(readonly retentionMs: number) {}

  /**
   * Records one scrape of `target` taken at `at` (ms). A series that appears after the target was
   * already scraped without it starts from 0 at that scrape (a counter born between two scrapes),
   * so its first increments count. Points older than the retention are dropped.
   */
  add(target: string, at: number, samples: readonly Sample[], keep: (name: string) => boolean = () => true): void {
    const previous = this.lastScrape.get(target);
    for (const s of samples) {
      if (!keep(s.name) || !Number.isFinite(s.value)) continue;
      const key = seriesKey(target, s.name, s.labels);
      let entry = this.series.get(key);
      if (!entry) {
        this.series.set(key, (entry = { name: s.name, labels: s.labels, points: [] }));
        if (previous !== undefined && previous >= at - this.retentionMs) entry.points.push({ at: previous, value: 0 });
      }
      entry.points.push({ at, value: s.value });
    }
    this.lastScrape.set(target, at);
    this.prune(at);
  }

  private prune(now: number): void {
    const oldest = now - this.retentionMs;
    for (const [key, s] of this.series) {
      let drop = 0;
      while (drop < s.points.length && s.points[drop]!.at < oldest) drop++;
      if (drop) s.points.splice(0, drop);
      if (s.points.length === 0) this.series.delete(key);
    }
  }

  get size(): number {
    return this.series.size;
  }

  /**
   * The increase of counter `name` over [from, to], summed per `group(labels)` (undefined skips the
   * series). Each series counts from its last point at or before `from` (or its first point inside).
   */
  increase(name: string, from: number, to: number, group: (l: Labels) => string | undefined): Map<string, number> {
    const out = new Map<string, number>();
    for (const s of this.series.values()) {
      if (s.name !== name) continue;
      const g = group(s.labels);
      if (g === undefined) continue;
      const pts = s.points.filter((p) => p.at <= to);
      if (pts.length === 0) continue;
      // From the last point at or before `from`, else from the first point inside the window.
      let start = 0;
      for (let i = 0; i < pts.length && pts[i]!.at <= from; i++) start = i;
      out.set(g, (out.get(g) ?? 0) + increaseOf(pts.slice(start)));
    }
    return out;
  }

  /** Quantile `q` of histogram `name` (its `_bucket` series) over [from, to], per group. */
  quantile(q: number, name: string, from: number, to: number, group: (l: Labels) => string | undefined): Map<string, number> {
    const perBucket = this.increase(`${name}_bucket`, from, to, (l) => {
      const g = group(l);
      return g === undefined || l.le === undefined ? undefined : `${g}\u0000${l.le}`;
    });
    const byGroup = new Map<string, Array<{ le: number; count: number }>>();
    for (const [key, count] of perBucket) {
      const cut = key.lastIndexOf('\u0000');
      const g = key.slice(0, cut);
      const le = key.slice(cut + 1);
      const list = byGroup.get(g) ?? [];
      list.push({ le: le === '+Inf' ? Infinity : Number(le), count });
      byGroup.set(g, list);
    }
    const out = new Map<string, number>();
    for (const [g, buckets] of byGroup) {
      const v = bucketQuantile(q, buckets);
      if (v !== undefined) out.set(g, v);
    }
    return out;
  }
}
