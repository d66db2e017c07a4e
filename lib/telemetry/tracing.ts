// What a proxy needs to trace: the sampling decision for traces that start at it and a sink for
// finished spans. None at all (undefined) when no collector is configured, so the data path pays
// one property check per request or connection and nothing else.
import type { Registry } from 'prom-client';
import type { SettingsReader } from '../config/settings.js';
import type { Logger } from './log.js';
import type { ResourceInfo } from './otlp.js';
import type { SpanRecord } from './span.js';
import { SpanExporter } from './span-exporter.js';

export interface Tracer {
  /** For a trace that starts here (or arrives without a decision). */
  sample(): boolean;
  record(span: SpanRecord): void;
  close(): Promise<void>;
}

export interface TracingSettings {
  otlpEndpoint?: string | undefined;
  traceSamplingPercent: number;
}

/** `--otlp-endpoint` and `--trace-sampling`, shared by ztunnel and the waypoint. */
export function readTracingSettings(r: SettingsReader): TracingSettings {
  return {
    otlpEndpoint: r.string('otlpEndpoint', { flag: '--otlp-endpoint', env: ['AMBIT_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] }),
    traceSamplingPercent: r.integer('traceSamplingPercent', { flag: '--trace-sampling', env: ['AMBIT_TRACE_SAMPLING'], default: '100' }),
  };
}

/** A bare collector address (`http://host:4318` or `…/`) gets OTLP's traces path; any other path is kept. */
export function otlpTracesUrl(endpoint: string): string {
  const u = new URL(endpoint);
  if (u.pathname === '/' || u.pathname === '') u.pathname = '/v1/traces';
  return u.toString();
}

export interface TracerOptions {
  settings: TracingSettings;
  resource: ResourceInfo;
  log: Logger;
  registry?: Registry;
  random?: () => number;
}

export function createTracer(o: TracerOptions): Tracer | undefined {
  if (!o.settings.otlpEndpoint) return undefined;
  const exporter = new SpanExporter({ endpoint: otlpTracesUrl(o.settings.otlpEndpoint), resource: o.resource, log: o.log, ...(o.registry ? { registry: o.registry } : {}) });
  const share = o.settings.traceSamplingPercent / 100;
  const random = o.random ?? Math.random;
  return {
    sample: () => share >= 1 || (share > 0 && random() < share),
    record: (s) => exporter.add(s),
    close: () => exporter.close(),
  };
}
