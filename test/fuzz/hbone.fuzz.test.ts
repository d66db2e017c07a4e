// HBONE CONNECT input from the network: `:authority`, forwarded, baggage and traceparent. Parsers
// return a value or a reason, never throw; what they accept round-trips through the builders.
import { PassThrough } from 'node:stream';
import fc from 'fast-check';
import t from 'tap';
import { formatHostPort, parseAuthority } from '../../lib/hbone/authority.js';
import { H2ConnectionError, H2StreamError } from '../../lib/hbone/h2/errors.js';
import { CONNECTION_PREFACE, ErrorCode, FrameType, headersFrames, settingsFrame } from '../../lib/hbone/h2/frames.js';
import { HpackDecoder, HpackEncoder, type HeaderField } from '../../lib/hbone/h2/hpack.js';
import { H2Session } from '../../lib/hbone/h2/session.js';
import type { H2Stream } from '../../lib/hbone/h2/stream.js';
import { buildBaggage, buildForwarded, parseBaggage, parseForwarded, type BaggageFields } from '../../lib/hbone/headers.js';
import { serveStream, type ConnectRequest, type StreamHost } from '../../lib/hbone/server-stream.js';
import { parseTraceparent } from '../../lib/telemetry/trace-context.js';
import { MemSocket, readFrames, tick } from './h2-peer.js';
import { fuzz, fuzzAsync } from './harness.js';

const ipv4 = fc.ipV4();
const ipv6 = fc.ipV6();
const port = fc.integer({ min: 0, max: 70_000 });
/** Authorities as clients write them, as typos make them, and arbitrary text. */
const authority = fc.oneof(
  fc.tuple(ipv4, port).map(([h, p]) => `${h}:${p}`),
  fc.tuple(ipv6, port).map(([h, p]) => `[${h}]:${p}`),
  fc.tuple(fc.domain(), port).map(([h, p]) => `${h}:${p}`),
  fc.tuple(ipv6, port).map(([h, p]) => `${h}:${p}`),
  fc.string({ maxLength: 40 }),
  fc.string({ unit: fc.constantFrom(...'0123456789.:[]abcdef-%'.split('')), maxLength: 30 }),
);

t.test(':authority', async (t) => {
  fuzz(t, 'hbone :authority', [authority], (a) => {
    const r = parseAuthority(a);
    if (typeof r === 'string') return r.length > 0;
    if (!(r.port >= 1 && r.port <= 65535) || r.host === '') throw new Error(`accepted ${JSON.stringify(r)}`);
    // What is accepted prints back to an authority that parses to the same target.
    const again = parseAuthority(formatHostPort(r.host, r.port));
    if (JSON.stringify(again) !== JSON.stringify(r)) throw new Error(`round trip ${JSON.stringify(r)} -> ${JSON.stringify(again)}`);
  }, { weight: 5 });
});

t.test('forwarded', async (t) => {
  fuzz(t, 'hbone forwarded (arbitrary)', [fc.option(fc.string({ maxLength: 80 }), { nil: undefined })], (v) => void parseForwarded(v), { weight: 3 });
  fuzz(t, 'hbone forwarded round trip', [fc.oneof(ipv4.map((h) => `${h}:1234`), ipv6.map((h) => `[${h}]:80`)), fc.option(fc.domain(), { nil: undefined })], (forAddr, host) => {
    const f = parseForwarded(buildForwarded(forAddr, host));
    return f.for === forAddr && f.host === host;
  });
});

// Values valid for every key (a DNS-1123 label), which must round trip; and any text, of which
// the reader may drop values but never invent or alter one.
const nameValue = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/);
const anyValue = fc.string({ unit: 'grapheme', maxLength: 20 });
const fieldsOf = (value: fc.Arbitrary<string>): fc.Arbitrary<BaggageFields> => fc.record(
  {
    clusterName: value,
    namespace: value,
    workloadType: fc.constantFrom('deployment' as const, 'cronjob' as const, 'pod' as const, 'job' as const),
    workloadName: value,
    serviceName: value,
    serviceVersion: value,
    region: value,
    zone: value,
  },
  { requiredKeys: [] },
);

t.test('baggage', async (t) => {
  fuzz(t, 'hbone baggage (arbitrary)', [fc.option(fc.string({ maxLength: 120 }), { nil: undefined })], (v) => void parseBaggage(v), { weight: 3 });
  fuzz(t, 'hbone baggage, hostile values', [fieldsOf(anyValue)], (f) => {
    const back = parseBaggage(buildBaggage(f)) as Record<string, string>;
    for (const [k, v] of Object.entries(back)) if ((f as Record<string, string>)[k] !== v) throw new Error(`baggage ${buildBaggage(f)} gave ${k}=${JSON.stringify(v)}, which the peer did not send`);
  });
  fuzz(t, 'hbone baggage round trip', [fieldsOf(nameValue)], (f) => {
    const back = parseBaggage(buildBaggage(f));
    const want: BaggageFields = {};
    for (const [k, v] of Object.entries(f) as [keyof BaggageFields, string][]) if (v !== '' && k !== 'workloadType' && k !== 'workloadName') (want as Record<string, string>)[k] = v;
    if (f.workloadType && f.workloadName) Object.assign(want, { workloadType: f.workloadType, workloadName: f.workloadName });
    const norm = (o: object): string => JSON.stringify(Object.entries(o).sort());
    if (norm(back) !== norm(want)) throw new Error(`baggage ${buildBaggage(f)} read back as ${JSON.stringify(back)}`);
  });
});

t.test('traceparent', async (t) => {
  const hex = (n: number): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'.split('')), minLength: n, maxLength: n });
  fuzz(t, 'hbone traceparent', [fc.oneof(fc.string({ maxLength: 60 }), fc.tuple(hex(32), hex(16), hex(2)).map(([a, b, c]) => `00-${a}-${b}-${c}`))], (v) => {
    const r = parseTraceparent(v);
    if (r && (!/^[0-9a-f]{32}$/.test(r.traceId) || /^0+$/.test(r.traceId) || /^0+$/.test(r.spanId))) throw new Error(`accepted ${JSON.stringify(r)}`);
  }, { weight: 3 });
});

/** A CONNECT as a client may send it: method, authority and HBONE headers, any of them wrong. */
const connect: fc.Arbitrary<HeaderField[]> = fc
  .record({
    method: fc.oneof({ arbitrary: fc.constant('CONNECT'), weight: 4 }, { arbitrary: fc.constantFrom('GET', 'connect', ''), weight: 1 }),
    authority: fc.option(authority, { nil: undefined }),
    forwarded: fc.option(fc.oneof(fc.string({ maxLength: 30 }), ipv4.map((h) => `for="${h}:1"`)), { nil: undefined }),
    baggage: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
    traceparent: fc.option(fc.string({ maxLength: 60 }), { nil: undefined }),
    extra: fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z-]{0,10}$/), fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 20 })), { maxLength: 3 }),
  })
  .map((r) => {
    const f: HeaderField[] = [[':method', r.method]];
    if (r.method !== 'CONNECT') f.push([':scheme', 'https'], [':path', '/']);
    if (r.authority !== undefined) f.push([':authority', r.authority]);
    for (const k of ['forwarded', 'baggage', 'traceparent'] as const) if (r[k] !== undefined) f.push([k, r[k]!]);
    f.push(...r.extra.filter(([n]) => !['connection', 'te', 'keep-alive', 'upgrade', 'transfer-encoding', 'proxy-connection'].includes(n)));
    return f;
  });

const addr = { address: '10.0.0.1', port: 15008, family: 4 as const };

t.test('CONNECT requests through the HBONE stream server', async (t) => {
  await fuzzAsync(t, 'hbone CONNECT (server answers)', [fc.array(connect, { minLength: 1, maxLength: 4 })], async (requests) => {
    const sock = new MemSocket();
    const s = new H2Session(sock, { role: 'server', settings: { maxConcurrentStreams: 16, maxHeaderListSize: 16 << 10 } });
    const problems: string[] = [];
    s.on('error', (e: Error) => void (e instanceof H2ConnectionError || e instanceof H2StreamError || problems.push(`session error ${e.name}: ${e.message}`)));
    s.on('frameError', (e: H2ConnectionError) => void (e.h2Code === ErrorCode.INTERNAL_ERROR && problems.push(`INTERNAL_ERROR: ${e.message}`)));
    const host: StreamHost = {
      // What the proxy is handed is what the authority says: a valid target, never a guess.
      onConnect: async (req: ConnectRequest) => {
        const a = parseAuthority(req.authority);
        if (typeof a === 'string' || a.host !== req.host || a.port !== req.port) problems.push(`onConnect got ${req.authority} as ${req.host}:${req.port}`);
        return req.port % 2 === 0 ? { status: 200, upstream: new PassThrough() } : { status: 403, reason: 'denied by policy' };
      },
      nextId: (() => {
        let n = 0;
        return () => ++n;
      })(),
      refused: (status, reason) => void (reason === '' && problems.push(`refused ${status} without a reason`)),
      opened: () => {},
      closed: () => {},
    };
    const conn = { peerIdentity: 'spiffe://cluster.local/ns/a/sa/b', peerAddress: addr, localAddress: addr };
    s.on('stream', (st: H2Stream, headers) => void serveStream(st, headers, conn, host));
    const enc = new HpackEncoder();
    try {
      sock.push(Buffer.concat([CONNECTION_PREFACE, settingsFrame([]), ...requests.map((f, i) => headersFrames(2 * i + 1, enc.encode(f), false, 16_384))]));
      for (let i = 0; i < 5; i++) await tick();
      // Every request got an answer: a :status, or a reset of its stream.
      const back = readFrames([Buffer.concat(sock.written)], 1 << 24).frames;
      const dec = new HpackDecoder();
      for (let i = 0; i < requests.length; i++) {
        const id = 2 * i + 1;
        const reset = back.some((f) => f.h.type === FrameType.RST_STREAM && f.h.streamId === id);
        const headers = back.find((f) => f.h.type === FrameType.HEADERS && f.h.streamId === id);
        const status = headers ? dec.decode(headers.payload).fields.find(([n]) => n === ':status')?.[1] : undefined;
        if (!reset && status === undefined) problems.push(`stream ${id} (${JSON.stringify(requests[i])}) got no answer`);
        const a = requests[i]!.find(([n]) => n === ':authority')?.[1];
        const method = requests[i]![0]![1];
        if (status === '200' && (method !== 'CONNECT' || a === undefined || typeof parseAuthority(a) === 'string')) problems.push(`stream ${id}: 200 for ${JSON.stringify(requests[i])}`);
      }
    } finally {
      s.destroy();
      sock.destroy();
    }
    if (problems.length) throw new Error(problems.join('; '));
  }, { weight: 1 });
});
