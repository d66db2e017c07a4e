import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Registry } from 'prom-client';
import t, { type Test } from 'tap';
import { silentLogger } from './log.js';
import { decodeProtobuf } from './otlp.js';
import type { SpanRecord, StoredSpan } from './span.js';
import { SpanExporter } from './span-exporter.js';

const span = (i: number): SpanRecord => ({
  traceId: '1'.repeat(32),
  spanId: (i + 1).toString(16).padStart(16, '0'),
  parentSpanId: undefined,
  name: `s${i}`,
  kind: 'server',
  startNs: 1n,
  endNs: 2n,
  attributes: {},
  status: { code: 'unset' },
});

async function collector(t: Test, status = 200): Promise<{ url: string; batches: StoredSpan[][]; types: string[] }> {
  const batches: StoredSpan[][] = [];
  const types: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      types.push(String(req.headers['content-type']));
      if (status === 200) batches.push(decodeProtobuf(Buffer.concat(chunks)));
      res.writeHead(status).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/traces`, batches, types };
}

t.test('batches by size and by time, protobuf over HTTP', async (t) => {
  const c = await collector(t);
  const registry = new Registry();
  const e = new SpanExporter({ endpoint: c.url, resource: { service: 'ztunnel' }, log: silentLogger(), registry, batchSize: 4, intervalMs: 200 });
  t.teardown(() => e.close());
  for (let i = 0; i < 4; i++) e.add(span(i));
  await e.flush();
  t.same(c.batches.map((b) => b.length), [4], 'a full batch goes at once');
  e.add(span(4));
  await new Promise((r) => setTimeout(r, 400));
  t.same(c.batches.map((b) => b.length), [4, 1], 'the rest on the timer');
  t.equal(c.batches[1]![0]!.service, 'ztunnel');
  t.same(c.types, ['application/x-protobuf', 'application/x-protobuf']);
  t.match(e.stats, { exported: 5, dropped: 0, failed: 0, queued: 0 });
  t.match(await registry.metrics(), /ambit_trace_spans_exported_total 5/);
});

t.test('a full queue drops and counts; a refusing collector is counted as failed', async (t) => {
  const c = await collector(t, 500);
  const registry = new Registry();
  const e = new SpanExporter({ endpoint: c.url, resource: { service: 'w' }, log: silentLogger(), registry, batchSize: 100, maxQueue: 3, intervalMs: 60_000 });
  for (let i = 0; i < 5; i++) e.add(span(i));
  t.match(e.stats, { queued: 3, dropped: 2 });
  await e.close();
  t.match(e.stats, { queued: 0, exported: 0, failed: 3, dropped: 2 });
  const text = await registry.metrics();
  t.match(text, /ambit_trace_spans_dropped_total\{reason="queue_full"\} 2/);
  t.match(text, /ambit_trace_spans_dropped_total\{reason="export_failed"\} 3/);
});

t.test('an unreachable collector neither throws nor blocks', async (t) => {
  const e = new SpanExporter({ endpoint: 'http://127.0.0.1:1/v1/traces', resource: { service: 'w' }, log: silentLogger(), intervalMs: 60_000 });
  e.add(span(0));
  await e.close();
  t.match(e.stats, { failed: 1 });
});

t.test('tracer: none without an endpoint; the sampler follows the percentage; a bare host gets /v1/traces', async (t) => {
  const { createTracer, otlpTracesUrl } = await import('./tracing.js');
  t.equal(createTracer({ settings: { traceSamplingPercent: 100 }, resource: { service: 'x' }, log: silentLogger() }), undefined, 'tracing off: no tracer at all');
  let r = 0;
  const seq = [0.05, 0.5, 0.09, 0.95];
  const tracer = createTracer({ settings: { otlpEndpoint: 'http://127.0.0.1:1', traceSamplingPercent: 10 }, resource: { service: 'x' }, log: silentLogger(), random: () => seq[r++ % seq.length]! })!;
  t.same([tracer.sample(), tracer.sample(), tracer.sample(), tracer.sample()], [true, false, true, false]);
  await tracer.close();
  const none = createTracer({ settings: { otlpEndpoint: 'http://127.0.0.1:1', traceSamplingPercent: 0 }, resource: { service: 'x' }, log: silentLogger() })!;
  t.equal(none.sample(), false);
  await none.close();
  t.equal(otlpTracesUrl('http://jaeger:4318'), 'http://jaeger:4318/v1/traces');
  t.equal(otlpTracesUrl('http://c:15014/v1/traces'), 'http://c:15014/v1/traces');
  t.equal(otlpTracesUrl('https://c/custom/path'), 'https://c/custom/path');
});
