// The embedded OTLP/HTTP receiver (`POST /v1/traces`, protobuf or JSON) and the trace query API in
// Jaeger's JSON shape (`GET /api/traces?service=S&limit=N`, `/api/traces/<id>`, `/api/services`),
// served on the control plane's monitoring port.
import type { IncomingMessage } from 'node:http';
import { json, type Reply, type Routes } from '../../lib/admin/routes.js';
import { decodeJson, decodeProtobuf, OtlpDecodeError } from '../../lib/telemetry/otlp.js';
import { envelope, toJaegerTrace } from './jaeger-json.js';
import type { TraceStore } from './store.js';

export const MAX_EXPORT_BYTES = 4 * 1024 * 1024;

class TooLarge extends Error {}

async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new TooLarge();
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of req as AsyncIterable<Buffer>) {
    n += c.length;
    if (n > limit) throw new TooLarge();
    chunks.push(c);
  }
  return Buffer.concat(chunks);
}

const plain = (body: string, status: number): Reply => ({ status, contentType: 'text/plain; charset=utf-8', body });

export function traceRoutes(store: TraceStore): Routes {
  const receive = async (_url: URL, req: IncomingMessage): Promise<Reply> => {
    const type = String(req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
    const proto = type === 'application/x-protobuf' || type === 'application/protobuf';
    if (!proto && type !== 'application/json') return plain(`POST /v1/traces: content-type must be application/x-protobuf or application/json (OTLP/HTTP), got "${type}"\n`, 415);
    let body: Buffer;
    try {
      body = await readBody(req, MAX_EXPORT_BYTES);
    } catch (e) {
      if (e instanceof TooLarge) return plain(`POST /v1/traces: the body is over ${MAX_EXPORT_BYTES} bytes; send smaller batches\n`, 413);
      throw e;
    }
    try {
      store.add(proto ? decodeProtobuf(body) : decodeJson(body.toString('utf8')));
    } catch (e) {
      if (e instanceof OtlpDecodeError) return plain(`POST /v1/traces: ${e.message}\n`, 400);
      throw e;
    }
    // An empty ExportTraceServiceResponse: full success, in either encoding.
    return proto ? { contentType: 'application/x-protobuf', body: '' } : { contentType: 'application/json', body: '{}' };
  };
  return {
    '/v1/traces': { methods: ['POST'], handler: receive },
    '/api/traces': (url) => {
      const service = url.searchParams.get('service') || undefined;
      const limitText = url.searchParams.get('limit');
      const limit = limitText === null || limitText === '' ? 20 : Number(limitText);
      if (!Number.isInteger(limit) || limit < 1) return json(envelope(null, [{ code: 400, msg: `limit: "${limitText}" is not a positive whole number` }]), 400);
      return json(envelope(store.findTraces({ ...(service ? { service } : {}), limit }).map(toJaegerTrace)));
    },
    '/api/traces/*': (url) => {
      const id = decodeURIComponent(url.pathname.slice('/api/traces/'.length));
      if (!/^[0-9a-fA-F]{1,32}$/.test(id)) return json(envelope(null, [{ code: 400, msg: `trace id "${id}" is not hex` }]), 400);
      const t = store.getTrace(id.padStart(32, '0'));
      return t ? json(envelope([toJaegerTrace(t)])) : json(envelope(null, [{ code: 404, msg: `trace ${id} not found` }]), 404);
    },
    '/api/services': () => json(envelope(store.services())),
  };
}
