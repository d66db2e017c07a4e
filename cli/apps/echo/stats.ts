/**
 * Load-client statistics, pure: exact latency percentiles (every sample kept; a run of a few
 * million requests is a few tens of MB), counters by key, and the JSON report.
 */

export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/**
 * Nearest-rank percentile over ascending samples: the smallest value with at least p% of the
 * samples at or below it. 0 for no samples.
 */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return 0;
  if (!(p >= 0 && p <= 100)) throw new Error(`percentile: p ${p} must be within 0..100`);
  // The epsilon keeps 99.9% of 1000 at rank 999 despite 99.9/100*1000 = 999.0000000000001.
  const rank = Math.max(1, Math.ceil((p / 100) * n - 1e-9));
  return sorted[rank - 1]!;
}

const round3 = (x: number): number => Math.round(x * 1000) / 1000;

export function summarize(samples: ArrayLike<number>): LatencySummary {
  const sorted = Float64Array.from(samples).sort();
  const n = sorted.length;
  let sum = 0;
  for (const v of sorted) sum += v;
  return {
    count: n,
    min: round3(n ? sorted[0]! : 0),
    mean: round3(n ? sum / n : 0),
    p50: round3(percentile(sorted, 50)),
    p90: round3(percentile(sorted, 90)),
    p99: round3(percentile(sorted, 99)),
    p999: round3(percentile(sorted, 99.9)),
    max: round3(n ? sorted[n - 1]! : 0),
  };
}

/** Latency samples in a growable typed array (no per-sample object). */
export class LatencyRecorder {
  private buf = new Float64Array(1024);
  private n = 0;

  add(ms: number): void {
    if (this.n === this.buf.length) {
      const next = new Float64Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = ms;
  }

  get count(): number {
    return this.n;
  }

  summary(): LatencySummary {
    return summarize(this.buf.subarray(0, this.n));
  }
}

/** Counts by key; `toJSON` sorts keys so reports diff cleanly. */
export class Tally {
  private readonly m = new Map<string, number>();

  add(key: string, by = 1): void {
    this.m.set(key, (this.m.get(key) ?? 0) + by);
  }

  get total(): number {
    let t = 0;
    for (const v of this.m.values()) t += v;
    return t;
  }

  toJSON(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const k of [...this.m.keys()].sort()) out[k] = this.m.get(k)!;
    return out;
  }
}

/** The outcome of one request, as the load loop records it. */
export interface Sample {
  /** Error kind (`status:503`, `grpc:UNAVAILABLE`, `connect`, `timeout`, `reset`, `other`), or undefined when OK. */
  error?: string;
  /** True when a server answered (any status): only those have a meaningful latency. */
  answered: boolean;
  latencyMs: number;
  bytesSent: number;
  bytesReceived: number;
  hostname?: string;
  version?: string;
}

export interface LoadReport {
  target: string;
  protocol: string;
  mode: 'fixed-rate' | 'closed-loop';
  /** The requested rate; 0 in closed-loop mode. */
  qps: number;
  connections: number;
  streams: number;
  durationMs: number;
  requests: number;
  ok: number;
  errorCount: number;
  errors: Record<string, number>;
  achievedQps: number;
  /** Over answered requests (any status); transport failures are only counted in `errors`. */
  latencyMs: LatencySummary;
  bytesSent: number;
  bytesReceived: number;
  /** How many answers carried each `Hostname=` / `ServiceVersion=` value. */
  hostnames: Record<string, number>;
  versions: Record<string, number>;
  /**
   * Connections that were lost and opened again during the run (over all connections). A
   * request that found its connection gone is not an error by itself, so only this shows it.
   */
  reconnects: number;
}

export type ReportHeader = Pick<LoadReport, 'target' | 'protocol' | 'mode' | 'qps' | 'connections' | 'streams'>;

/** Accumulates samples into a {@link LoadReport}. */
export class LoadStats {
  private readonly latency = new LatencyRecorder();
  private readonly errors = new Tally();
  private readonly hostnames = new Tally();
  private readonly versions = new Tally();
  private requests = 0;
  private bytesSent = 0;
  private bytesReceived = 0;

  record(s: Sample): void {
    this.requests++;
    this.bytesSent += s.bytesSent;
    this.bytesReceived += s.bytesReceived;
    if (s.answered) this.latency.add(s.latencyMs);
    if (s.error !== undefined) this.errors.add(s.error);
    if (s.hostname !== undefined) this.hostnames.add(s.hostname);
    if (s.version !== undefined) this.versions.add(s.version);
  }

  report(header: ReportHeader, elapsedMs: number, reconnects = 0): LoadReport {
    const errorCount = this.errors.total;
    return {
      ...header,
      durationMs: round3(elapsedMs),
      requests: this.requests,
      ok: this.requests - errorCount,
      errorCount,
      errors: this.errors.toJSON(),
      achievedQps: round3(elapsedMs > 0 ? (this.requests * 1000) / elapsedMs : 0),
      latencyMs: this.latency.summary(),
      bytesSent: this.bytesSent,
      bytesReceived: this.bytesReceived,
      hostnames: this.hostnames.toJSON(),
      versions: this.versions.toJSON(),
      reconnects,
    };
  }
}

/** The open-loop schedule: loop `j` of `loops` sends its k-th request at this offset from the start. */
export function scheduledOffsetMs(k: number, j: number, loops: number, qps: number): number {
  return ((k * loops + j) * 1000) / qps;
}
