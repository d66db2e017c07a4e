import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import type { KubeObject } from '../../lib/store/types.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import type { ModelKind } from '../model/incremental.js';
import { Informer } from './informer.js';
import { MODEL_KINDS, ModelSync } from './model-sync.js';

function setup(store: MemoryStore): { sync: ModelSync; warnings: string[]; informers: Map<ModelKind, Informer> } {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => { warnings.push(String(JSON.parse(c.toString()).msg)); cb(); } }));
  const informers = new Map<ModelKind, Informer>(Object.entries(MODEL_KINDS).map(([k, kind]) => [k as ModelKind, new Informer(store, kind, log)]));
  const sync = new ModelSync({ informers, debounce: { quietMs: 5, maxMs: 20 }, logger: log });
  return { sync, warnings, informers };
}

const pod = (name: string, ip: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels }, spec: { nodeName: 'n1' }, status: { phase: 'Running', podIP: ip },
});
const until = async (cond: () => boolean): Promise<void> => {
  const deadline = Date.now() + 5000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 5));
  }
};

t.test('changes reach the sources; a bad object is logged once and blocks nothing', async (t) => {
  const store = new MemoryStore();
  store.load([pod('good', '10.0.0.1'), pod('bad', 'not-an-ip')]);
  const { sync, warnings, informers } = setup(store);
  for (const i of informers.values()) i.start();
  await Promise.all([...informers.values()].map((i) => i.synced));
  sync.initialize();
  t.same([...sync.addresses.snapshot().keys()], ['Kubernetes//Pod/ns/good']);
  t.equal(warnings.filter((w) => w.includes('Pod ns/bad')).length, 1, 'the problem names the object');
  t.match(warnings.find((w) => w.includes('Pod ns/bad')), /status\.podI/, '…and the field');

  const notified: Array<readonly string[] | undefined> = [];
  sync.addresses.onChange((names) => notified.push(names));
  await store.apply(pod('other', '10.0.0.2'));
  await store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'bad' }, { metadata: { labels: { x: 'y' } } });
  await until(() => sync.addresses.size === 2);
  t.same(notified, [['Kubernetes//Pod/ns/other']], 'one notification with only the new workload');
  t.equal(warnings.filter((w) => w.includes('Pod ns/bad')).length, 1, 'still logged once after the bad object changed');

  const commits = sync.commits;
  await store.apply({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'ns' }, spec: {} });
  await until(() => sync.authorizations.size === 1);
  await store.patch({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', namespace: 'ns', name: 'p' }, { status: { conditions: [] } });
  await new Promise((r) => setTimeout(r, 50));
  t.equal(sync.commits, commits + 1, 'a status-only change of a policy rebuilds nothing');
  sync.close();
  for (const i of informers.values()) i.close();
});
