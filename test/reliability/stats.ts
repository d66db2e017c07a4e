// The figures of the reliability report, as pure functions: a least-squares slope over samples,
// a metric read from a Prometheus exposition, and the verdict on a series that should stay flat.

export interface Sample {
  /** Seconds since the start of the run. */
  t: number;
  v: number;
}

/** Least-squares slope of v over t (units of v per second); 0 for fewer than two distinct times. */
export function slope(samples: readonly Sample[]): number {
  const n = samples.length;
  if (n < 2) return 0;
  const mt = samples.reduce((a, s) => a + s.t, 0) / n;
  const mv = samples.reduce((a, s) => a + s.v, 0) / n;
  let num = 0;
  let den = 0;
  for (const s of samples) {
    num += (s.t - mt) * (s.v - mv);
    den += (s.t - mt) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The value of an unlabelled sample `name` in a Prometheus text exposition, or undefined. */
export function metricValue(exposition: string, name: string): number | undefined {
  const m = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:\\{\\})? ([^ \\n]+)`, 'm').exec(exposition);
  if (!m) return undefined;
  const v = Number(m[1]);
  return Number.isFinite(v) ? v : undefined;
}

export interface Trend {
  samples: number;
  first: number;
  last: number;
  /** Per minute, from the least-squares fit. */
  slopePerMinute: number;
  /** Growth the fit predicts over the whole run, relative to the fitted start. */
  relativeGrowth: number;
  /** True when the series grows: more than `minRelative` over the run and `minPerMinute` a minute. */
  grows: boolean;
}

export function trend(samples: readonly Sample[], minRelative: number, minPerMinute: number): Trend {
  const s = slope(samples);
  const span = samples.length > 1 ? samples[samples.length - 1]!.t - samples[0]!.t : 0;
  const mean = samples.reduce((a, x) => a + x.v, 0) / Math.max(1, samples.length);
  const meanT = samples.reduce((a, x) => a + x.t, 0) / Math.max(1, samples.length);
  const start = mean - s * (meanT - (samples[0]?.t ?? 0));
  const relativeGrowth = start > 0 ? (s * span) / start : 0;
  const slopePerMinute = s * 60;
  return {
    samples: samples.length,
    first: samples[0]?.v ?? 0,
    last: samples[samples.length - 1]?.v ?? 0,
    slopePerMinute,
    relativeGrowth,
    grows: relativeGrowth > minRelative && slopePerMinute > minPerMinute,
  };
}
