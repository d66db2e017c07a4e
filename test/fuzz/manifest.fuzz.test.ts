// Manifests as users write them (and mistype them): YAML or JSON text through the store's parser
// and validator. The answer is objects, or a ManifestError whose every issue names the source,
// the document and — for a mapping — the object and the field; never a TypeError from inside.
import fc from 'fast-check';
import t from 'tap';
import { stringify } from 'yaml';
import { apiVersionOf, KINDS } from '../../lib/store/kinds.js';
import { ManifestError, parseManifests, parseManifestText } from '../../lib/store/manifest.js';
import { fuzz, refusesOnly } from './harness.js';

const anyJson = fc.jsonValue({ maxDepth: 3 });
const mostly = <T>(valid: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ arbitrary: valid, weight: 5 }, { arbitrary: fc.constant(null), weight: 1 }, { arbitrary: anyJson, weight: 1 });
const dnsName = fc.stringMatching(/^[a-z0-9]([a-z0-9.-]{0,20}[a-z0-9])?$/);
const kind = fc.constantFrom(...KINDS);
const object = kind.chain((k) =>
  fc.record(
    {
      apiVersion: mostly(fc.constantFrom(apiVersionOf(k), 'v1', 'networking.istio.io/v1', 'bogus/v9')),
      kind: mostly(fc.oneof(fc.constant(k.kind), fc.constant(k.kind.toUpperCase()), fc.string({ maxLength: 10 }))),
      metadata: mostly(
        fc.record(
          {
            name: mostly(fc.oneof(dnsName, fc.string({ maxLength: 30 }))),
            namespace: mostly(fc.oneof(dnsName, fc.string({ maxLength: 10 }))),
            labels: mostly(fc.dictionary(fc.oneof(dnsName, fc.string({ maxLength: 12 })), mostly(fc.string({ maxLength: 12 })), { maxKeys: 3 })),
            annotations: mostly(fc.dictionary(fc.string({ maxLength: 12 }), mostly(fc.string({ maxLength: 12 })), { maxKeys: 3 })),
          },
          { requiredKeys: [] },
        ),
      ),
      spec: anyJson,
    },
    { requiredKeys: [] },
  ),
);

/** Every issue says where; for a document that is a mapping, also which object and which field. */
function checkIssues(e: ManifestError, mappings: boolean): void {
  for (const i of e.issues) {
    if (!i.source || !(i.document >= 1) || !i.message) throw new Error(`issue without a place or a message: ${JSON.stringify(i)}`);
    if (mappings && !i.message.startsWith('invalid YAML') && (!i.object || !i.field)) throw new Error(`issue does not name object and field: ${JSON.stringify(i)}`);
  }
}

function parse(text: string, source: string, mappings: boolean): void {
  try {
    parseManifestText(text, source);
  } catch (e) {
    if (!(e instanceof ManifestError)) throw new Error(`unexpected ${(e as Error).name}: ${(e as Error).message}`, { cause: e });
    checkIssues(e, mappings);
  }
}

t.test('manifests', async (t) => {
  fuzz(t, 'manifest objects (YAML)', [fc.array(object, { minLength: 1, maxLength: 3 })], (objs) => parse(objs.map((o) => stringify(o)).join('---\n'), 'fuzz.yaml', true), { weight: 2 });
  fuzz(t, 'manifest objects (JSON, List)', [fc.array(object, { maxLength: 3 })], (objs) => parse(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objs }), 'fuzz.json', true));
  fuzz(t, 'manifest text (arbitrary)', [fc.string({ maxLength: 200 })], (s) => void refusesOnly(() => parseManifests(s, 'fuzz.yaml'), ManifestError), { weight: 2 });
  const valid = stringify({ apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: { name: 'reviews', namespace: 'default', labels: { app: 'reviews' } }, spec: { hosts: ['reviews'], http: [{ route: [{ destination: { host: 'reviews', subset: 'v1' } }] }] } });
  const edit = fc.array(fc.tuple(fc.nat(valid.length), fc.nat(3), fc.constantFrom(':', ' ', '-', '\n', '"', '[', '{', '&a', '*a', '!!int', '\t', '#', '?', '|')), { minLength: 1, maxLength: 5 });
  fuzz(t, 'manifest text (mutated valid YAML)', [edit], (edits) => {
    let s = valid;
    for (const [at, del, ins] of edits) s = s.slice(0, at) + ins + s.slice(at + del);
    parse(s, 'fuzz.yaml', false);
  }, { weight: 2 });
});
