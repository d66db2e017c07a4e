// `ambit waypoint apply|list|delete` against a File store in a temp state directory, under a parent
// that has the proxy's own `--name`/`--namespace` flags, as `ambit waypoint` has.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import t, { type Test } from 'tap';
import { openStore } from '../../lib/store/index.js';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { NAMESPACE } from '../../lib/k8s/types.js';
import { GATEWAY, gatewayCondition } from '../../lib/k8s/gateway.js';
import { layout } from '../local/layout.js';
import { addWaypointCommands } from './waypoint.js';

interface Run {
  out: string[];
  err: string[];
  error?: Error;
}

async function setUp(t: Test): Promise<{ store: ClusterStore; run: (...args: string[]) => Promise<Run> }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ambit-wp-cli-'));
  const store = openStore(layout(dir).store);
  await store.create({ ...NAMESPACE, metadata: { name: 'demo', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
  await store.create({ ...NAMESPACE, metadata: { name: 'plain' } });
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const run = async (...args: string[]): Promise<Run> => {
    const r: Run = { out: [], err: [] };
    const parent = new Command('waypoint').option('--name <name>', "the proxy's Gateway").option('--namespace <ns>', "the proxy's namespace").action(() => {
      throw new Error('the parent action ran instead of a subcommand');
    });
    addWaypointCommands(parent, { out: (l) => r.out.push(l), err: (l) => r.err.push(l), pollMs: 50 });
    try {
      await parent.parseAsync([...args, '--state-dir', dir], { from: 'user' });
    } catch (e) {
      r.error = e as Error;
    }
    return r;
  };
  return { store, run };
}

const gw = (store: ClusterStore, name: string, namespace = 'demo') => store.get({ ...GATEWAY, namespace, name });
const ns = async (store: ClusterStore, name: string) => (await store.get({ ...NAMESPACE, name }))!;

t.test('apply writes the Gateway istioctl generates; --for labels it; apply again is an update', async (t) => {
  const { store, run } = await setUp(t);
  const r = await run('apply', '-n', 'demo');
  t.equal(r.error, undefined);
  t.same(r.out, ['✅ waypoint demo/waypoint applied']);
  const g = (await gw(store, 'waypoint'))!;
  t.same(g.spec, { gatewayClassName: 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] });
  t.equal(g.metadata.labels, undefined, 'no traffic type label without --for');

  const r2 = await run('apply', '--namespace', 'demo', '--name', 'reviews', '--for', 'workload');
  t.equal(r2.error, undefined);
  t.same((await gw(store, 'reviews'))!.metadata.labels, { 'istio.io/waypoint-for': 'workload' }, '--name and --for after the subcommand are its own');
  await store.patch({ ...GATEWAY, namespace: 'demo', name: 'reviews' }, { metadata: { labels: { team: 'a' } }, status: { conditions: [{ type: 'Programmed', status: 'True' }] } });
  t.equal((await run('apply', '-n', 'demo', '--name', 'reviews', '--for', 'all')).error, undefined);
  const again = (await gw(store, 'reviews'))!;
  t.same(again.metadata.labels, { 'istio.io/waypoint-for': 'all', team: 'a' }, 'traffic type changed, other labels kept');
  t.equal(gatewayCondition(again, 'Programmed')?.status, 'True', 'status kept');
});

t.test('apply refuses what cannot be a waypoint, saying which flag', async (t) => {
  const { store, run } = await setUp(t);
  t.match((await run('apply', '-n', 'demo', '--for', 'pods')).error?.message, /^--for: "pods" is not a traffic type; use service, workload, all, none/);
  t.match((await run('apply', '-n', 'demo', '--name', 'none')).error?.message, /^--name: "none" is reserved/);
  t.match((await run('apply', '-n', 'demo', '--name', 'Bad_Name')).error?.message, /^--name: "Bad_Name" is not a valid name/);
  t.match((await run('apply', '-n', 'nowhere')).error?.message, /^namespace "nowhere" not found/);
  t.match((await run('apply', '-n', 'demo', '--waypoint-timeout', '5')).error?.message, /--waypoint-timeout: "5" is not a duration/);
  await store.create({ ...GATEWAY, metadata: { name: 'ingress', namespace: 'demo' }, spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
  t.match((await run('apply', '-n', 'demo', '--name', 'ingress')).error?.message, /gateway demo\/ingress exists and is not a waypoint \(class istio\)/);
  t.same((await store.list(GATEWAY)).map((g) => g.metadata.name), ['ingress'], 'nothing written');
});

t.test('--enroll-namespace labels the namespace; an existing label is kept unless --overwrite', async (t) => {
  const { store, run } = await setUp(t);
  const r = await run('apply', '-n', 'demo', '--enroll-namespace');
  t.equal(r.error, undefined);
  t.same(r.out, ['✅ waypoint demo/waypoint applied', '✅ namespace demo labeled with "istio.io/use-waypoint: waypoint"']);
  t.same(r.err, [], 'no warning for an ambient namespace');
  t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], 'waypoint');

  const other = await run('apply', '-n', 'demo', '--name', 'second', '--enroll-namespace');
  t.match(other.err.join('\n'), /namespace demo already uses waypoint "waypoint".*--overwrite/);
  t.equal(await gw(store, 'second'), undefined, 'nothing applied');
  t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], 'waypoint', 'label kept');
  t.equal((await run('apply', '-n', 'demo', '--name', 'second', '--enroll-namespace', '--overwrite')).error, undefined);
  t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], 'second', 'label replaced with --overwrite');

  const plain = await run('apply', '-n', 'plain', '--enroll-namespace');
  t.match(plain.err.join('\n'), /namespace plain is not in the ambient mesh.*ambit label namespace plain istio\.io\/dataplane-mode=ambient/);
  t.equal((await ns(store, 'plain')).metadata.labels?.['istio.io/use-waypoint'], 'waypoint', 'labelled all the same');
});

t.test('--wait returns once Programmed=True, and labels the namespace only then', async (t) => {
  const { store, run } = await setUp(t);
  // The control plane's part, done by hand: programmed a little later.
  const programmed = (async () => {
    for (;;) {
      const g = await gw(store, 'waypoint');
      if (g) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], undefined, 'not labelled while waiting');
    await new Promise((r) => setTimeout(r, 300));
    await store.patch(
      { ...GATEWAY, namespace: 'demo', name: 'waypoint' },
      { status: { addresses: [{ type: 'Hostname', value: 'waypoint.demo.svc.cluster.local' }], conditions: [{ type: 'Programmed', status: 'True', reason: 'Programmed', observedGeneration: 1 }] } },
    );
  })();
  const r = await run('apply', '-n', 'demo', '--enroll-namespace', '--wait');
  await programmed;
  t.equal(r.error, undefined);
  t.same(r.out, ['✅ waypoint demo/waypoint applied', '✅ waypoint demo/waypoint programmed (waypoint.demo.svc.cluster.local)', '✅ namespace demo labeled with "istio.io/use-waypoint: waypoint"']);
  t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], 'waypoint');
});

t.test('--wait gives up with what the status says', async (t) => {
  const { store, run } = await setUp(t);
  const none = await run('apply', '-n', 'demo', '--wait', '--waypoint-timeout', '200ms', '--enroll-namespace');
  t.match(none.error?.message, /^waypoint demo\/waypoint was not programmed within 200ms: the control plane wrote no status for it; is the cluster running/);
  t.equal((await ns(store, 'demo')).metadata.labels?.['istio.io/use-waypoint'], undefined, 'the namespace is not labelled');
  const cond = { type: 'Programmed', status: 'False', reason: 'NoResources', message: 'Deployment demo/waypoint has 0 of 1 replicas ready' };
  await store.patch({ ...GATEWAY, namespace: 'demo', name: 'waypoint' }, { status: { conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted' }, cond] } });
  const pending = await run('apply', '-n', 'demo', '--wait', '--waypoint-timeout', '1s');
  t.match(pending.error?.message, /^waypoint demo\/waypoint was not programmed within 1s: Programmed=False \(NoResources\): Deployment demo\/waypoint has 0 of 1 replicas ready; see its pods with `ambit get pods -n demo -l gateway\.networking\.k8s\.io\/gateway-name=waypoint`/);
  await store.patch({ ...GATEWAY, namespace: 'demo', name: 'waypoint' }, { status: { conditions: [{ type: 'Accepted', status: 'False', reason: 'ListenersNotValid', message: 'spec.listeners: expected …' }, cond] } });
  t.match((await run('apply', '-n', 'demo', '--wait', '--waypoint-timeout', '100ms')).error?.message, /it is not accepted \(ListenersNotValid\): spec\.listeners/);
});

t.test('list shows waypoints only, with traffic type, programmed and address', async (t) => {
  const { store, run } = await setUp(t);
  t.same((await run('list', '-n', 'demo')).out, ['No waypoints found in namespace demo.']);
  await run('apply', '-n', 'demo');
  await run('apply', '-n', 'demo', '--name', 'wl', '--for', 'workload');
  await run('apply', '-n', 'plain');
  await store.create({ ...GATEWAY, metadata: { name: 'ingress', namespace: 'demo' }, spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } } as KubeObject);
  await store.patch(
    { ...GATEWAY, namespace: 'demo', name: 'waypoint' },
    { status: { addresses: [{ type: 'IPAddress', value: '10.96.0.9' }, { type: 'Hostname', value: 'waypoint.demo.svc.cluster.local' }], conditions: [{ type: 'Programmed', status: 'True' }] } },
  );
  await store.patch({ ...GATEWAY, namespace: 'demo', name: 'wl' }, { status: { conditions: [{ type: 'Programmed', status: 'False' }] } });
  const lines = (await run('list', '-n', 'demo')).out.join('\n').split('\n').map((l) => l.split(/\s+/));
  t.same(lines, [
    ['NAMESPACE', 'NAME', 'TRAFFIC-TYPE', 'PROGRAMMED', 'ADDRESS'],
    ['demo', 'waypoint', 'service', 'True', '10.96.0.9,waypoint.demo.svc.cluster.local'],
    ['demo', 'wl', 'workload', 'False', '<none>'],
  ]);
  const all = (await run('list', '-A')).out.join('\n').split('\n').map((l) => l.split(/\s+/).slice(0, 4).join(' '));
  t.same(all, ['NAMESPACE NAME TRAFFIC-TYPE PROGRAMMED', 'demo waypoint service True', 'demo wl workload False', 'plain waypoint service Unknown']);
});

t.test('delete removes waypoints by name, the default one, or --all; never other Gateways', async (t) => {
  const { store, run } = await setUp(t);
  for (const name of ['waypoint', 'a', 'b', 'c']) await run('apply', '-n', 'demo', '--name', name, ...(name === 'waypoint' ? ['--enroll-namespace'] : []));
  await store.create({ ...GATEWAY, metadata: { name: 'ingress', namespace: 'demo' }, spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } } as KubeObject);
  const names = async () => (await store.list(GATEWAY, { namespace: 'demo' })).map((g) => g.metadata.name).sort();

  const def = await run('delete', '-n', 'demo');
  t.same(def.out, ['waypoint demo/waypoint deleted'], 'no name: the default waypoint');
  t.match(def.err.join('\n'), /namespace demo still has istio\.io\/use-waypoint=waypoint.*ambit label namespace demo istio\.io\/use-waypoint-/);
  t.same((await run('delete', 'a', '-n', 'demo')).out, ['waypoint demo/a deleted']);

  const bad = await run('delete', 'missing', 'ingress', '-n', 'demo');
  t.match(bad.error?.message, /^delete: 2 of 2 waypoint\(s\) not deleted/);
  t.match(bad.err.join('\n'), /waypoint demo\/missing not found[\s\S]*gateway demo\/ingress is not a waypoint \(class istio\); delete it with: ambit delete gateway ingress -n demo/);

  t.same((await run('delete', '--all', '-n', 'demo')).out, ['waypoint demo/b deleted', 'waypoint demo/c deleted']);
  t.same(await names(), ['ingress'], 'only the other Gateway is left');
  t.same((await run('delete', '--all', '-n', 'demo')).out, ['No waypoints found in namespace demo.']);
  t.match((await run('delete', 'x', '--all', '-n', 'demo')).error?.message, /names or --all, not both/);
});
