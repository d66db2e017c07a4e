// HBONE CONNECT input from the network: `:authority`, forwarded, baggage and traceparent. Parsers
// return a value or a reason, never throw; what they accept round-trips through the builders.
import fc from 'fast-check';
import t from 'tap';
import { formatHostPort, parseAuthority } from '../../lib/hbone/authority.js';
import { buildBaggage, buildForwarded, parseBaggage, parseForwarded, type BaggageFields } from '../../lib/hbone/headers.js';
import { parseTraceparent } from '../../lib/telemetry/trace-context.js';
import { fuzz } from './harness.js';

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
