// OTLP trace encoding (lib/proto/src/opentelemetry): spans → ExportTraceServiceRequest as protobuf
// for OTLP/HTTP export, and the receiver's way back from protobuf or OTLP's JSON form (whose ids
// are hex, not base64 as the generic protobuf JSON mapping would have them).
import { create, fromBinary, fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { ExportTraceServiceRequestSchema, type ExportTraceServiceRequest } from '../proto/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import type { AnyValue, KeyValue } from '../proto/gen/opentelemetry/proto/common/v1/common_pb.js';
import { Span_SpanKind, Status_StatusCode } from '../proto/gen/opentelemetry/proto/trace/v1/trace_pb.js';
import type { AttributeValue, SpanKind, SpanRecord, StoredSpan } from './span.js';

export interface ResourceInfo {
  /** `service.name`. */
  service: string;
  attributes?: Record<string, AttributeValue>;
}

export const SCOPE_NAME = 'ambit';

const KINDS: Record<SpanKind, Span_SpanKind> = {
  unspecified: Span_SpanKind.UNSPECIFIED,
  internal: Span_SpanKind.INTERNAL,
  server: Span_SpanKind.SERVER,
  client: Span_SpanKind.CLIENT,
  producer: Span_SpanKind.PRODUCER,
  consumer: Span_SpanKind.CONSUMER,
};
const KIND_NAMES = new Map<Span_SpanKind, SpanKind>(Object.entries(KINDS).map(([k, v]) => [v, k as SpanKind]));
const STATUS: Record<SpanRecord['status']['code'], Status_StatusCode> = { unset: Status_StatusCode.UNSET, ok: Status_StatusCode.OK, error: Status_StatusCode.ERROR };

function anyValue(v: AttributeValue): { value: AnyValue['value'] } {
  if (typeof v === 'string') return { value: { case: 'stringValue', value: v } };
  if (typeof v === 'boolean') return { value: { case: 'boolValue', value: v } };
  return Number.isInteger(v) ? { value: { case: 'intValue', value: BigInt(v) } } : { value: { case: 'doubleValue', value: v } };
}

const keyValues = (attrs: Record<string, AttributeValue>) => Object.entries(attrs).map(([key, v]) => ({ key, value: anyValue(v) }));

export function encodeSpans(resource: ResourceInfo, spans: readonly SpanRecord[]): Uint8Array {
  const msg = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [
      {
        resource: { attributes: keyValues({ 'service.name': resource.service, ...resource.attributes }) },
        scopeSpans: [
          {
            scope: { name: SCOPE_NAME },
            spans: spans.map((s) => ({
              traceId: Buffer.from(s.traceId, 'hex'),
              spanId: Buffer.from(s.spanId, 'hex'),
              ...(s.parentSpanId ? { parentSpanId: Buffer.from(s.parentSpanId, 'hex') } : {}),
              name: s.name,
              kind: KINDS[s.kind],
              startTimeUnixNano: s.startNs,
              endTimeUnixNano: s.endNs,
              attributes: keyValues(s.attributes),
              status: { code: STATUS[s.status.code], message: s.status.message ?? '' },
            })),
          },
        ],
      },
    ],
  });
  return toBinary(ExportTraceServiceRequestSchema, msg);
}

function plain(v: AnyValue | undefined): AttributeValue | undefined {
  const x = v?.value;
  switch (x?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
      return x.value;
    case 'intValue':
      return Number(x.value);
    case 'bytesValue':
      return Buffer.from(x.value).toString('base64');
    case 'arrayValue':
    case 'kvlistValue':
      return JSON.stringify(x.value.values.map((e) => ('key' in e ? { [e.key]: plain(e.value) } : plain(e))));
    default:
      return undefined;
  }
}

function attributes(kvs: readonly KeyValue[]): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const kv of kvs) {
    const v = plain(kv.value);
    if (v !== undefined) out[kv.key] = v;
  }
  return out;
}

export class OtlpDecodeError extends Error {}

/** Flattens an export request into spans, each with its resource's `service.name`. */
export function flattenExport(req: ExportTraceServiceRequest): StoredSpan[] {
  const out: StoredSpan[] = [];
  for (const [ri, rs] of req.resourceSpans.entries()) {
    const resAttrs = attributes(rs.resource?.attributes ?? []);
    const service = typeof resAttrs['service.name'] === 'string' ? resAttrs['service.name'] : 'unknown_service';
    for (const ss of rs.scopeSpans) {
      for (const [si, s] of ss.spans.entries()) {
        if (s.traceId.length !== 16 || s.spanId.length !== 8) {
          throw new OtlpDecodeError(`resourceSpans[${ri}] span ${si} ("${s.name}"): traceId must be 16 bytes and spanId 8 (got ${s.traceId.length} and ${s.spanId.length})`);
        }
        out.push({
          traceId: Buffer.from(s.traceId).toString('hex'),
          spanId: Buffer.from(s.spanId).toString('hex'),
          parentSpanId: s.parentSpanId.length === 8 ? Buffer.from(s.parentSpanId).toString('hex') : undefined,
          name: s.name,
          kind: KIND_NAMES.get(s.kind) ?? 'unspecified',
          startNs: s.startTimeUnixNano,
          endNs: s.endTimeUnixNano,
          attributes: attributes(s.attributes),
          status: { code: s.status?.code === Status_StatusCode.ERROR ? 'error' : s.status?.code === Status_StatusCode.OK ? 'ok' : 'unset', ...(s.status?.message ? { message: s.status.message } : {}) },
          service,
        });
      }
    }
  }
  return out;
}

export function decodeProtobuf(body: Uint8Array): StoredSpan[] {
  let req: ExportTraceServiceRequest;
  try {
    req = fromBinary(ExportTraceServiceRequestSchema, body);
  } catch (e) {
    throw new OtlpDecodeError(`the body is not a protobuf ExportTraceServiceRequest: ${(e as Error).message}`);
  }
  return flattenExport(req);
}

const hexToBase64 = (v: unknown, where: string): unknown => {
  if (typeof v !== 'string' || v === '') return v;
  if (!/^([0-9a-fA-F]{2})+$/.test(v)) throw new OtlpDecodeError(`${where}: ids are hex strings in OTLP JSON, got ${JSON.stringify(v)}`);
  return Buffer.from(v, 'hex').toString('base64');
};

/** OTLP/JSON: camelCase fields, hex trace and span ids, enums as numbers. */
export function decodeJson(text: string): StoredSpan[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new OtlpDecodeError(`the body is not JSON: ${(e as Error).message}`);
  }
  const rss = (doc as { resourceSpans?: unknown }).resourceSpans;
  if (Array.isArray(rss)) {
    rss.forEach((rs: { scopeSpans?: { spans?: Record<string, unknown>[] }[] }, ri) =>
      rs?.scopeSpans?.forEach((ss) =>
        ss?.spans?.forEach((s, si) => {
          for (const f of ['traceId', 'spanId', 'parentSpanId']) if (f in s) s[f] = hexToBase64(s[f], `resourceSpans[${ri}] span ${si} ${f}`);
          (s.links as Record<string, unknown>[] | undefined)?.forEach((l) => {
            for (const f of ['traceId', 'spanId']) if (f in l) l[f] = hexToBase64(l[f], `resourceSpans[${ri}] span ${si} link ${f}`);
          });
        }),
      ),
    );
  }
  let req: ExportTraceServiceRequest;
  try {
    req = fromJson(ExportTraceServiceRequestSchema, doc as JsonValue, { ignoreUnknownFields: true });
  } catch (e) {
    throw new OtlpDecodeError(`the body is not an OTLP JSON ExportTraceServiceRequest: ${(e as Error).message}`);
  }
  return flattenExport(req);
}
