// The embedded default metrics source: the control plane scrapes the ztunnel and waypoint metrics
// endpoints itself every few seconds and keeps a short history in memory.
import { parseExposition } from './exposition.js';
import { MetricHistory } from './history.js';
import type { CounterQueries, Group } from './signals.js';

export interface ScrapeTarget {
  /** A stable name, e.g. `ztunnel/node-1`. */
  name: string;
  url: string;
}

export interface ScrapeOptions {
  targets: () => readonly ScrapeTarget[];
  intervalMs?: number;
  retentionMs?: number;
  timeoutMs?: number;
  now?: () => number;
}

export interface ScrapeResult {
  target: string;
  ok: boolean;
  samples: number;
  error?: string;
}

export const ISTIO_METRIC = /^istio_/;

export class ScrapeSource implements CounterQueries {
  readonly history: MetricHistory;
  private timer: NodeJS.Timeout | undefined;
  private readonly clock: () => number;
  lastResults: ScrapeResult[] = [];

  constructor(private readonly opts: ScrapeOptions) {
    this.history = new MetricHistory(opts.retentionMs ?? 15 * 60_000);
    this.clock = opts.now ?? Date.now;
  }

  private async scrapeOne(t: ScrapeTarget): Promise<ScrapeResult> {
    try {
      const res = await fetch(t.url, { signal: AbortSignal.timeout(this.opts.timeoutMs ?? 2000) });
      if (!res.ok) return { target: t.name, ok: false, samples: 0, error: `HTTP ${res.status} from ${t.url}` };
      const samples = parseExposition(await res.text());
      this.history.add(t.name, this.clock(), samples, (n) => ISTIO_METRIC.test(n));
      return { target: t.name, ok: true, samples: samples.length };
    } catch (err) {
      return { target: t.name, ok: false, samples: 0, error: `${t.url}: ${(err as Error).message}` };
    }
  }

  /** One round over every target; failures are reported, never thrown. */
  async scrape(): Promise<ScrapeResult[]> {
    this.lastResults = await Promise.all(this.opts.targets().map((t) => this.scrapeOne(t)));
    return this.lastResults;
  }

  start(): void {
    if (this.timer) return;
    const tick = (): void => void this.scrape();
    tick();
    this.timer = setInterval(tick, this.opts.intervalMs ?? 5000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  increase(name: string, ats: readonly number[], windowMs: number, group: Group): Promise<Array<Map<string, number>>> {
    return historyQueries(this.history, this.clock).increase(name, ats, windowMs, group);
  }

  now(): number {
    return this.clock();
  }
}

/** The history as the dashboard's counter queries. */
export function historyQueries(h: MetricHistory, now: () => number): CounterQueries {
  return {
    now,
    increase: (name, ats, windowMs, group) => Promise.resolve(ats.map((at) => h.increase(name, at - windowMs, at, group))),
  };
}
