import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import t from 'tap';
import { ExportTraceServiceRequestSchema } from '../proto/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { Span_SpanKind, Status_StatusCode } from '../proto/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import { decodeJson, decodeProtobuf, encodeSpans, OtlpDecodeError } from './otlp.js';
import type { SpanRecord } from './span.js';

const T = '0af7651916cd43dd8448eb211c80319c';
const span = (o: Partial<SpanRecord> = {}): SpanRecord => ({
  traceId: T,
  spanId: 'b7ad6b7169203331',
  parentSpanId: '00f067aa0ba902b7',
  name: 'reviews.default.svc.cluster.local:9080/*',
  kind: 'server',
  startNs: 1_764_800_000_123_456_789n,
  endNs: 1_764_800_000_125_456_789n,
  attributes: { 'http.status_code': 503, 'http.method': 'GET', ratio: 0.5, mtls: true },
  status: { code: 'error', message: 'no healthy upstream' },
  ...o,
});

t.test('protobuf: the generated messages carry what encodeSpans wrote, and decode back', async (t) => {
  const bytes = encodeSpans({ service: 'waypoint.default', attributes: { 'k8s.namespace.name': 'default' } }, [span(), span({ spanId: '1111111111111111', parentSpanId: undefined, kind: 'client', status: { code: 'unset' } })]);
  const msg = fromBinary(ExportTraceServiceRequestSchema, bytes);
  const rs = msg.resourceSpans[0]!;
  t.same(rs.resource!.attributes.map((a) => [a.key, a.value!.value.value]), [['service.name', 'waypoint.default'], ['k8s.namespace.name', 'default']]);
  const s = rs.scopeSpans[0]!.spans[0]!;
  t.equal(Buffer.from(s.traceId).toString('hex'), T, 'ids are raw bytes: 16 for the trace');
  t.equal(s.spanId.length, 8);
  t.equal(s.kind, Span_SpanKind.SERVER);
  t.equal(s.startTimeUnixNano, 1_764_800_000_123_456_789n, 'nanoseconds survive (fixed64)');
  t.equal(s.status!.code, Status_StatusCode.ERROR);
  t.same(s.attributes.find((a) => a.key === 'http.status_code')!.value!.value, { case: 'intValue', value: 503n });
  t.same(s.attributes.find((a) => a.key === 'ratio')!.value!.value, { case: 'doubleValue', value: 0.5 });
  t.equal(rs.scopeSpans[0]!.spans[1]!.parentSpanId.length, 0, 'a root span has no parent');

  const back = decodeProtobuf(bytes);
  t.same(back[0], { ...span(), service: 'waypoint.default' }, 'round trip');
  t.equal(back[1]!.parentSpanId, undefined);
  t.equal(back[1]!.kind, 'client');
  t.same(back[1]!.status, { code: 'unset' });
});

t.test('OTLP JSON: hex ids, enums as numbers, int64 as strings', async (t) => {
  const doc = {
    resourceSpans: [
      {
        resource: { attributes: [{ key: 'service.name', value: { stringValue: 'frontend' } }] },
        scopeSpans: [
          {
            scope: { name: 'otel' },
            spans: [
              {
                traceId: T.toUpperCase(),
                spanId: 'b7ad6b7169203331',
                parentSpanId: '',
                name: 'GET /',
                kind: 3,
                startTimeUnixNano: '1764800000123456789',
                endTimeUnixNano: '1764800000124456789',
                attributes: [{ key: 'n', value: { intValue: '7' } }, { key: 'list', value: { arrayValue: { values: [{ stringValue: 'a' }] } } }],
                status: { code: 1 },
                unknownField: true,
              },
            ],
          },
        ],
      },
    ],
  };
  const [s] = decodeJson(JSON.stringify(doc));
  t.match(s, { traceId: T, spanId: 'b7ad6b7169203331', parentSpanId: undefined, name: 'GET /', kind: 'client', service: 'frontend', startNs: 1764800000123456789n, status: { code: 'ok' } });
  t.same(s!.attributes, { n: 7, list: '["a"]' });
  const noParent = { resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: T, spanId: 'b7ad6b7169203331', name: 'root', links: [{ traceId: T, spanId: '00f067aa0ba902b7' }] }] }] }] };
  t.match(decodeJson(JSON.stringify(noParent)), [{ name: 'root', parentSpanId: undefined, service: 'unknown_service' }], 'fields left out (no parentSpanId) are fine');
});

t.test('bad bodies are refused with what is wrong', async (t) => {
  t.throws(() => decodeJson('{'), { message: /the body is not JSON/ });
  t.ok((() => {
    try {
      decodeJson('[');
    } catch (e) {
      return e instanceof OtlpDecodeError;
    }
    return false;
  })(), 'a decode error is an OtlpDecodeError (the receiver answers 400 for it)');
  t.throws(() => decodeJson(JSON.stringify({ resourceSpans: [{ scopeSpans: [{ spans: [{ traceId: 'zz', spanId: 'b7ad6b7169203331' }] }] }] })), { message: /span 0 traceId: ids are hex strings/ });
  t.throws(() => decodeProtobuf(Buffer.from([0x0a, 0xff, 0xff])), { message: /not a protobuf ExportTraceServiceRequest/ });
  const short = toBinary(ExportTraceServiceRequestSchema, create(ExportTraceServiceRequestSchema, { resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'x', traceId: new Uint8Array(8), spanId: new Uint8Array(8) }] }] }] }));
  t.throws(() => decodeProtobuf(short), { message: /span 0 \("x"\): traceId must be 16 bytes/ });
  t.same(decodeJson('{}'), [], 'an empty export is fine');
});
