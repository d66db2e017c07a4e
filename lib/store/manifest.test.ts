import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifests, ManifestError, parseManifests, parseManifestText } from './manifest.js';
import { StoreError } from './types.js';

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: frontend
  namespace: demo
  labels:
    app: frontend
    app.kubernetes.io/version: "1.0"
spec:
  replicas: 2
`;

t.test('good documents', async (t) => {
  const table: Array<{ name: string; text: string; want: string[] }> = [
    { name: 'one document', text: deployment, want: ['Deployment frontend'] },
    { name: 'several documents', text: `${deployment}---\napiVersion: v1\nkind: Service\nmetadata: {name: frontend, namespace: demo}\n`, want: ['Deployment frontend', 'Service frontend'] },
    { name: 'empty documents are skipped', text: `---\n${deployment}---\n---\n`, want: ['Deployment frontend'] },
    { name: 'comments only', text: '# nothing here\n', want: [] },
    {
      name: 'a List',
      text: 'apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Namespace, metadata: {name: demo}}\n- {apiVersion: v1, kind: ServiceAccount, metadata: {name: web, namespace: demo}}\n',
      want: ['Namespace demo', 'ServiceAccount web'],
    },
    { name: 'a typed list (PodList)', text: 'apiVersion: v1\nkind: PodList\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: p}}\n', want: ['Pod p'] },
    { name: 'Istio v1beta1', text: 'apiVersion: security.istio.io/v1beta1\nkind: AuthorizationPolicy\nmetadata: {name: deny-all}\nspec: {}\n', want: ['AuthorizationPolicy deny-all'] },
    { name: 'unknown kind kept', text: 'apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n', want: ['Widget w'] },
    { name: 'empty label value', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: ""}}\n', want: ['Pod p'] },
  ];
  for (const { name, text, want } of table) {
    const objs = parseManifests(text, 'x.yaml');
    t.same(objs.map((o) => `${o.kind} ${o.metadata.name}`), want, name);
  }
  const [d] = parseManifests(deployment);
  t.same(d?.metadata.labels, { app: 'frontend', 'app.kubernetes.io/version': '1.0' });
  t.same(d?.spec, { replicas: 2 });
});

t.test('bad documents: errors name file, document, object and field', async (t) => {
  const table: Array<{ name: string; text: string; want: RegExp[] }> = [
    {
      name: 'bad name',
      text: deployment.replace('name: frontend', 'name: Front_End'),
      want: [/^app\.yaml: document 1: Deployment demo\/Front_End: metadata\.name: must be a DNS-1123 subdomain.*got "Front_End"$/],
    },
    { name: 'missing kind', text: 'apiVersion: v1\nmetadata: {name: x}\n', want: [/^app\.yaml: document 1: <no kind> x: kind: required$/] },
    { name: 'missing name', text: 'apiVersion: v1\nkind: Pod\nmetadata: {namespace: demo}\n', want: [/document 1: Pod demo\/<no name>: metadata\.name: required/] },
    { name: 'missing metadata', text: 'apiVersion: v1\nkind: Pod\n', want: [/Pod <no name>: metadata: required/] },
    {
      name: 'labels not strings',
      text: 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels:\n    version: 1.0\n    enabled: true\n',
      want: [/Pod p: metadata\.labels\.version: must be a string \(quote numbers and booleans in YAML\), got number 1/, /metadata\.labels\.enabled: must be a string.*got boolean true/],
    },
    { name: 'labels a list', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: [a]}\n', want: [/metadata\.labels: must be a mapping of strings to strings, got a list/] },
    { name: 'bad label key', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {"-bad": x}}\n', want: [/metadata\.labels\.-bad: label key "-bad" must be/] },
    { name: 'bad label value', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, labels: {a: "has space"}}\n', want: [/metadata\.labels\.a: label value "has space" must be/] },
    { name: 'annotation not string', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, annotations: {n: 3}}\n', want: [/metadata\.annotations\.n: must be a string/] },
    { name: 'bad namespace', text: 'apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: My.NS}\n', want: [/Pod My\.NS\/p: metadata\.namespace: must be a DNS-1123 label/] },
    { name: 'service name is a DNS-1035 label', text: 'apiVersion: v1\nkind: Service\nmetadata: {name: 1web}\n', want: [/Service 1web: metadata\.name: must be a DNS-1035 label/] },
    { name: 'namespace name has no dots', text: 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a.b}\n', want: [/Namespace a\.b: metadata\.name: must be a DNS-1123 label/] },
    { name: 'wrong version', text: 'apiVersion: apps/v1beta2\nkind: Deployment\nmetadata: {name: d}\n', want: [/Deployment d: apiVersion: Deployment is served as apps\/v1, got "apps\/v1beta2"/] },
    { name: 'wrong group', text: 'apiVersion: v1\nkind: Deployment\nmetadata: {name: d}\n', want: [/Deployment d: apiVersion: Deployment is in apps\/v1, not "v1"/] },
    { name: 'not a mapping', text: '- a\n- b\n', want: [/^app\.yaml: document 1: expected a mapping with apiVersion, kind and metadata, got a list$/] },
    { name: 'yaml syntax', text: 'apiVersion: v1\nkind: [Pod\n', want: [/^app\.yaml: document 1: invalid YAML: .*line/] },
    {
      name: 'second document and List item are located',
      text: `${deployment}---\napiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: Pod, metadata: {name: ok}}\n- {apiVersion: v1, kind: Pod, metadata: {name: BAD}}\n`,
      want: [/^app\.yaml: document 2 items\[1\]: Pod BAD: metadata\.name: /],
    },
    { name: 'List without items list', text: 'apiVersion: v1\nkind: List\nitems: 3\n', want: [/document 1: List: items: must be a list of objects/] },
  ];
  for (const { name, text, want } of table) {
    let err: unknown;
    try {
      parseManifests(text, 'app.yaml');
    } catch (e) {
      err = e;
    }
    t.type(err, ManifestError, name);
    t.type(err, StoreError, name);
    t.equal((err as StoreError).code, 'Invalid', name);
    const lines = (err as Error).message.split('\n');
    t.equal(lines.length, want.length, `${name}: one line per problem: ${(err as Error).message}`);
    want.forEach((re, i) => t.match(lines[i], re, name));
  }
});

t.test('every problem is reported, not just the first', async (t) => {
  const text = 'apiVersion: v1\nkind: Pod\nmetadata: {name: A}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: b, labels: {x: 1}}\n';
  const err = t.throws(() => parseManifests(text, 'f.yaml')) as ManifestError;
  t.equal(err.issues.length, 2);
  t.match(err.issues[0], { source: 'f.yaml', document: 1, object: 'Pod A', field: 'metadata.name' });
  t.match(err.issues[1], { source: 'f.yaml', document: 2, object: 'Pod b', field: 'metadata.labels.x' });
});

t.test('an alias without its anchor is a YAML error of its document, not a ReferenceError', async (t) => {
  // Found by the fuzz tier (test/fuzz/manifest.fuzz.test.ts).
  const text = `${deployment}---\nkind: *missing\n`;
  const err = t.throws(() => parseManifests(text, 'f.yaml')) as ManifestError;
  t.type(err, ManifestError);
  t.match(err.issues, [{ source: 'f.yaml', document: 2, message: /^invalid YAML: .*alias/i }]);
  const bomb = `a: &a [x, x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n`;
  t.match((t.throws(() => parseManifests(bomb, 'g.yaml')) as ManifestError).issues, [{ document: 1, message: /^invalid YAML: / }], 'an alias bomb too');
});

t.test('JSON files', async (t) => {
  t.same(parseManifestText('{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"demo"}}', 'ns.json').map((o) => o.metadata.name), ['demo']);
  t.throws(() => parseManifestText('{"apiVersion":', 'ns.json'), /^ns\.json: document 1: invalid JSON: /);
});

t.test('loadManifests reads a file or a directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'ambit-manifest-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'b.yaml'), 'apiVersion: v1\nkind: Service\nmetadata: {name: b}\n');
  writeFileSync(join(dir, 'a.yml'), 'apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n');
  writeFileSync(join(dir, 'c.json'), '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"}}');
  writeFileSync(join(dir, 'README.md'), '# not a manifest');
  mkdirSync(join(dir, 'sub'));
  writeFileSync(join(dir, 'sub', 'z.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: z}\n');
  t.same((await loadManifests(dir)).map((o) => o.metadata.name), ['a', 'b', 'c'], 'sorted, not recursive');
  t.same((await loadManifests(join(dir, 'b.yaml'))).map((o) => o.metadata.name), ['b']);
  writeFileSync(join(dir, 'd.yaml'), 'apiVersion: v1\nkind: Pod\nmetadata: {name: D}\n');
  await t.rejects(loadManifests(dir), { message: new RegExp(`^${join(dir, 'd.yaml')}: document 1: Pod D: metadata\\.name`) });
  await t.rejects(loadManifests(join(dir, 'missing.yaml')), { code: 'Invalid', message: /cannot read manifests from .*missing\.yaml: ENOENT/ });
});

t.test('misspelt kinds are caught rather than stored beside the real ones', async (t) => {
  t.throws(() => parseManifests('apiVersion: v1\nkind: pod\nmetadata: {name: p}\n'), /<no kind>|pod p: kind: must be a CamelCase kind name/);
  t.throws(() => parseManifests('apiVersion: v1\nkind: POD\nmetadata: {name: p}\n'), /POD p: kind: unknown kind "POD"; did you mean Pod\?/);
  t.same(parseManifests('apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p}\n').map((o) => o.kind), ['PersistentVolumeClaim'], 'core kinds Ambit does not model are kept');
});
