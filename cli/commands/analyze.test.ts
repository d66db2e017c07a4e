// `ambit analyze` end to end on a File store: the clean demo has no findings; a fixture with each
// mistake gets each finding and exit code 1; manifests from -f are judged as if applied.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { loadManifests, openStore } from '../../lib/store/index.js';
import type { ClusterStore } from '../../lib/store/types.js';
import { layout } from '../local/layout.js';
import { analyzeCommand } from './analyze.js';
import { DEMO_DIR } from './cluster.js';
import { applyObject } from './objects.js';

interface Run { out: string[]; code: number; error?: Error }

async function setUp(t: Test): Promise<{ dir: string; store: ClusterStore; run: (...args: string[]) => Promise<Run> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ambit-analyze-'));
  const store = openStore(layout(dir).store);
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = async (...args: string[]): Promise<Run> => {
    const r: Run = { out: [], code: 0 };
    try {
      await analyzeCommand({ out: (s) => r.out.push(s), setExitCode: (c) => (r.code = c) }).parseAsync([...args, '--state-dir', dir], { from: 'user' });
    } catch (e) {
      r.error = e as Error;
    }
    return r;
  };
  return { dir, store, run };
}

const MISTAKES = `
apiVersion: v1
kind: Namespace
metadata: { name: shop, labels: { istio.io/use-waypoint: shop-waypoint } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: waypoint, namespace: shop }
spec: { gatewayClassName: istio-waypoint, listeners: [{ name: mesh, port: 15008, protocol: HBONE }] }
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: admin-only, namespace: shop }
spec:
  selector: { matchLabels: { app: web } }
  rules: [{ to: [{ operation: { methods: [POST] } }] }]
---
apiVersion: v1
kind: Service
metadata: { name: web, namespace: shop }
spec: { selector: { app: web }, ports: [{ port: 80 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: web, namespace: shop }
spec:
  parentRefs: [{ group: "", kind: Service, name: web }]
  rules: [{ backendRefs: [{ name: web, port: 80 }] }]
`;

t.test('the clean demo: nothing found, exit 0', async (t) => {
  const { store, run } = await setUp(t);
  for (const o of await loadManifests(DEMO_DIR)) await applyObject(store, o, undefined);
  const r = await run();
  t.equal(r.error, undefined);
  t.equal(r.code, 0);
  t.match(r.out.join('\n'), /No validation issues found/);
});

t.test('a fixture with each mistake: each finding, exit 1; json output', async (t) => {
  const { dir, store, run } = await setUp(t);
  const file = path.join(dir, 'mistakes.yaml');
  writeFileSync(file, MISTAKES);
  for (const o of await loadManifests(file)) await applyObject(store, o, undefined);
  const r = await run('-o', 'json');
  t.equal(r.error, undefined);
  t.equal(r.code, 1, 'an error finding makes the exit code 1');
  const found = (JSON.parse(r.out.join('')) as Array<{ code: string; object: string; field: string }>).map((f) => `${f.code} ${f.object} ${f.field}`);
  t.same(found, [
    'IST0101 Namespace shop metadata.labels["istio.io/use-waypoint"]',
    'AMB0101 AuthorizationPolicy shop/admin-only spec.rules[0].to[0].operation.methods',
    'AMB0102 HTTPRoute shop/web spec.rules[0].backendRefs[0]',
    'AMB0103 Namespace shop metadata.labels["istio.io/dataplane-mode"]',
  ]);
});

t.test('-f manifests alone (--no-use-kube) and bad flags', async (t) => {
  const { dir, run } = await setUp(t);
  const file = path.join(dir, 'mistakes.yaml');
  writeFileSync(file, MISTAKES);
  const r = await run('--no-use-kube', '-f', file);
  t.equal(r.code, 1);
  t.match(r.out.join('\n'), /^Error \[IST0101\] \(Namespace shop\) names waypoint Gateway shop\/shop-waypoint/);
  t.match((await run('-o', 'yaml')).error?.message, /^--output: unknown format yaml; use text or json/);
  t.match((await run('--no-use-kube')).error?.message, /^--no-use-kube: give the manifests to analyze with -f/);
});
