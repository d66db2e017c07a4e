import { Writable } from 'node:stream';
import t from 'tap';
import { pino } from 'pino';
import type { KubeObject } from '../../lib/store/types.js';
import { MemoryStore } from '../../lib/store/memory-store.js';
import { ManualClock } from '../../lib/sys/clock.js';
import type { ModelKind } from '../model/incremental.js';
import { Informer, type InformerEvent } from './informer.js';
import { MODEL_KINDS, ModelSync } from './model-sync.js';

const DEBOUNCE = { quietMs: 5, maxMs: 20 };

function setup(store: MemoryStore): { sync: ModelSync; warnings: string[]; informers: Map<ModelKind, Informer>; clock: ManualClock } {
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, new Writable({ write: (c: Buffer, _e, cb) => { warnings.push(String(JSON.parse(c.toString()).msg)); cb(); } }));
  const informers = new Map<ModelKind, Informer>(Object.entries(MODEL_KINDS).map(([k, kind]) => [k as ModelKind, new Informer(store, kind, log)]));
  const clock = new ManualClock();
  const sync = new ModelSync({ informers, debounce: DEBOUNCE, clock, logger: log });
  return { sync, warnings, informers, clock };
}

const pod = (name: string, ip: string, labels: Record<string, string> = {}): KubeObject => ({
  apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace: 'ns', labels }, spec: { nodeName: 'n1' }, status: { phase: 'Running', podIP: ip },
});
/**
 * Resolves with the first event of `informer` that matches. Listeners run in the order they were
 * added, so ModelSync (subscribed at construction) has handled the event by then.
 */
const nextEvent = (informer: Informer, match: (ev: InformerEvent) => boolean): Promise<InformerEvent> =>
  new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('timed out after 5000 ms waiting for an informer event'));
    }, 5000);
    const off = informer.on((ev) => {
      if (!match(ev)) return;
      clearTimeout(timer);
      off();
      resolve(ev);
    });
  });

t.test('changes reach the sources; a bad object is logged once and blocks nothing', async (t) => {
  const store = new MemoryStore();
  store.load([pod('good', '10.0.0.1'), pod('bad', 'not-an-ip')]);
  const { sync, warnings, informers, clock } = setup(store);
  const pods = informers.get('pods')!;
  const policies = informers.get('authorizationPolicies')!;
  for (const i of informers.values()) i.start();
  await Promise.all([...informers.values()].map((i) => i.synced));
  sync.initialize();
  t.same([...sync.addresses.snapshot().keys()], ['Kubernetes//Pod/ns/good']);
  t.equal(warnings.filter((w) => w.includes('Pod ns/bad')).length, 1, 'the problem names the object');
  t.match(warnings.find((w) => w.includes('Pod ns/bad')), /status\.podI/, '…and the field');

  const notified: Array<readonly string[] | undefined> = [];
  sync.addresses.onChange((names) => notified.push(names));
  const other = nextEvent(pods, (ev) => ev.object.metadata.name === 'other');
  const relabelled = nextEvent(pods, (ev) => ev.object.metadata.name === 'bad' && ev.object.metadata.labels?.x === 'y');
  await store.apply(pod('other', '10.0.0.2'));
  await store.patch({ apiVersion: 'v1', kind: 'Pod', namespace: 'ns', name: 'bad' }, { metadata: { labels: { x: 'y' } } });
  await Promise.all([other, relabelled]);
  t.equal(sync.addresses.size, 1, 'both changes seen, and held for the debounce');
  clock.advance(DEBOUNCE.quietMs);
  t.equal(sync.addresses.size, 2, 'committed once the changes went quiet');
  t.same(notified, [['Kubernetes//Pod/ns/other']], 'one notification with only the new workload');
  t.equal(warnings.filter((w) => w.includes('Pod ns/bad')).length, 1, 'still logged once after the bad object changed');

  const commits = sync.commits;
  const added = nextEvent(policies, (ev) => ev.type === 'ADDED');
  await store.apply({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace: 'ns' }, spec: {} });
  await added;
  clock.advance(DEBOUNCE.maxMs);
  t.equal(sync.authorizations.size, 1);
  t.equal(sync.commits, commits + 1, 'the new policy was committed');
  // The positive signal: ModelSync was handed the status change. Then a full debounce window
  // (no real time involved) must end without a commit.
  const statusSeen = nextEvent(policies, (ev) => ev.type === 'MODIFIED' && ev.object.status !== undefined);
  await store.patch({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', namespace: 'ns', name: 'p' }, { status: { conditions: [] } });
  await statusSeen;
  t.equal(clock.pending, 0, 'no commit was even scheduled');
  clock.advance(DEBOUNCE.maxMs);
  t.equal(sync.commits, commits + 1, 'a status-only change of a policy rebuilds nothing');
  sync.close();
  for (const i of informers.values()) i.close();
});
