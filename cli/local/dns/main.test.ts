import t, { type Test } from 'tap';
import { Resolver } from 'node:dns/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../../lib/store/index.js';
import { StoreError, type ClusterStore, type Kind, type KubeObject, type ObjectKey, type Watch, type WatchEvent, type WatchOptions } from '../../../lib/store/types.js';
import { runClusterDns } from './main.js';
import { ips, query, rcodeOf, udpQuery } from './testkit.js';

/** Just enough of a ClusterStore: list and watch, and apply/delete that emit events. */
class FakeStore {
  private readonly objects = new Map<string, KubeObject>();
  private readonly watchers = new Set<{ kind: string; cb: (ev: WatchEvent) => void; onError?: (err: StoreError) => void }>();
  private rv = 0;

  private static key(o: Kind & { namespace?: string; name: string }): string {
    return `${o.apiVersion}|${o.kind}|${o.namespace ?? ''}|${o.name}`;
  }

  async list<T extends KubeObject>(kind: Kind): Promise<T[]> {
    return [...this.objects.values()].filter((o) => o.kind === kind.kind) as T[];
  }

  watch<T extends KubeObject>(kind: Kind, opts: WatchOptions, onEvent: (ev: WatchEvent<T>) => void): Watch {
    const w = { kind: kind.kind, cb: onEvent as (ev: WatchEvent) => void, onError: opts.onError };
    this.watchers.add(w);
    // Like the real back ends: replay what exists, asynchronously.
    const existing = [...this.objects.values()].filter((o) => o.kind === kind.kind);
    queueMicrotask(() => existing.forEach((object) => w.cb({ type: 'ADDED', object })));
    return { close: () => this.watchers.delete(w) };
  }

  async apply<T extends KubeObject>(obj: T): Promise<T> {
    const k = FakeStore.key({ ...obj, ...obj.metadata });
    const type = this.objects.has(k) ? 'MODIFIED' : 'ADDED';
    const stored = { ...obj, metadata: { ...obj.metadata, resourceVersion: String(++this.rv) } };
    this.objects.set(k, stored);
    for (const w of this.watchers) if (w.kind === obj.kind) w.cb({ type, object: stored });
    return stored;
  }

  async delete<T extends KubeObject>(key: ObjectKey): Promise<T | undefined> {
    const k = FakeStore.key(key);
    const obj = this.objects.get(k);
    this.objects.delete(k);
    if (obj) for (const w of this.watchers) if (w.kind === key.kind) w.cb({ type: 'DELETED', object: obj });
    return obj as T | undefined;
  }

  /** Ends every watch of `kind` with an error, as a store that lost its history would. */
  failWatches(kind: string): void {
    for (const w of [...this.watchers]) {
      if (w.kind !== kind) continue;
      this.watchers.delete(w);
      w.onError?.(new StoreError('Gone', 'history lost'));
    }
  }

  async close(): Promise<void> {}
}

async function eventually(t: Test, what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) {
      t.fail(`${what}: not within ${timeoutMs} ms`);
      return;
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  t.pass(what);
}

const service = (name: string, clusterIP: string, ports = [{ name: 'http', port: 80, protocol: 'TCP' }]): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace: 'shop' },
  spec: { clusterIP, ports },
});

t.test('serves the store and follows its changes', async (t) => {
  const fake = new FakeStore();
  await fake.apply(service('web', '10.96.0.20'));
  await fake.apply({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'web-1', namespace: 'shop' }, status: { phase: 'Running', podIP: '10.244.1.5' } });
  const warnings: string[] = [];
  const log = { warn: (o: { problem?: string }) => warnings.push(o.problem ?? ''), info() {}, debug() {}, error() {} };
  const dns = await runClusterDns({ store: fake as unknown as ClusterStore, listen: { address: '127.0.0.1', port: 0 }, log: log as never });
  t.teardown(() => dns.close());
  const port = dns.address.port;
  const a = async (name: string): Promise<string[]> => ips((await udpQuery(port, query(name, 'A'))).reply);

  // Answers from the first list, before any watch event could have arrived.
  t.same(await a('web.shop.svc.cluster.local'), ['10.96.0.20']);
  t.same(await a('10-244-1-5.shop.pod.cluster.local'), ['10.244.1.5']);

  await fake.apply(service('web', '10.96.0.21'));
  await fake.apply(service('db', 'None', [{ name: 'pg', port: 5432, protocol: 'TCP' }]));
  await fake.apply({
    apiVersion: 'v1',
    kind: 'Endpoints',
    metadata: { name: 'db', namespace: 'shop' },
    subsets: [
      {
        addresses: [
          { ip: '10.244.1.7', hostname: 'db-0', targetRef: { kind: 'Pod', name: 'db-0' } },
          { ip: '10.244.2.7', targetRef: { kind: 'Pod', name: 'db-1' } },
        ],
        notReadyAddresses: [{ ip: '10.244.2.8' }],
        ports: [{ name: 'pg', port: 15432, protocol: 'TCP' }],
      },
    ],
  });
  await fake.apply(service('broken', ''));
  await dns.settled();
  t.same(await a('web.shop.svc.cluster.local'), ['10.96.0.21'], 'a changed Service');
  t.same(await a('db.shop.svc.cluster.local'), ['10.244.1.7', '10.244.2.7'], 'headless: ready endpoints only');
  t.same(await a('db-0.db.shop.svc.cluster.local'), ['10.244.1.7']);
  const srv = (await udpQuery(port, query('_pg._tcp.db.shop.svc.cluster.local', 'SRV'))).reply;
  t.same(srv.answers?.map((x) => (x.type === 'SRV' ? x.data.port : 0)), [15432, 15432], 'SRV uses the endpoint ports');
  t.same(warnings, ['Service shop/broken: spec.clusterIP is not set (not allocated yet?); no DNS records'], 'each problem logged once');

  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([`127.0.0.1:${port}`]);
  t.same(await r.resolve4('web.shop.svc.cluster.local'), ['10.96.0.21']);

  await fake.delete({ apiVersion: 'v1', kind: 'Endpoints', namespace: 'shop', name: 'db' });
  await fake.delete({ apiVersion: 'v1', kind: 'Pod', namespace: 'shop', name: 'web-1' });
  await dns.settled();
  t.equal(rcodeOf((await udpQuery(port, query('db.shop.svc.cluster.local', 'A'))).reply), 3, 'headless without endpoints: NXDOMAIN');
  t.equal(rcodeOf((await udpQuery(port, query('10-244-1-5.shop.pod.cluster.local', 'A'))).reply), 3, 'deleted pod');
  t.ok(dns.snapshot().serial > 0);
});

t.test('options are validated', async (t) => {
  await t.rejects(runClusterDns({ listen: { port: 0 } }), /give storeDir/);
  await t.rejects(
    runClusterDns({ store: new FakeStore() as unknown as ClusterStore, listen: { address: '127.0.0.1', port: 0 }, ttl: 1.5 }),
    /ttl 1.5 is not a whole number/,
  );
});

t.test('a failed watch is re-established and the store re-listed', async (t) => {
  const fake = new FakeStore();
  await fake.apply(service('web', '10.96.0.20'));
  const dns = await runClusterDns({ store: fake as unknown as ClusterStore, listen: { address: '127.0.0.1', port: 0 } });
  t.teardown(() => dns.close());
  await dns.settled();
  fake.failWatches('Service');
  await fake.apply(service('web', '10.96.0.30'));
  await eventually(t, 'the change made while the watch was down is served', async () =>
    ips((await udpQuery(dns.address.port, query('web.shop.svc.cluster.local', 'A'))).reply)[0] === '10.96.0.30',
  );
  await fake.apply(service('web', '10.96.0.31'));
  await dns.settled();
  t.same(ips((await udpQuery(dns.address.port, query('web.shop.svc.cluster.local', 'A'))).reply), ['10.96.0.31'], 'watching again');
});

t.test('with the File back end, from a state directory', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), `ambit-dns-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const writer = openStore(dir);
  t.teardown(() => writer.close());
  await writer.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop' } });
  await writer.apply(service('web', '10.96.0.20'));
  const dns = await runClusterDns({ storeDir: dir, listen: { address: '127.0.0.1', port: 0 } });
  t.teardown(() => dns.close());
  const a = async (name: string): Promise<string[]> => ips((await udpQuery(dns.address.port, query(name, 'A'))).reply);
  t.same(await a('web.shop.svc.cluster.local'), ['10.96.0.20']);
  await writer.apply(service('web', '10.96.0.21'));
  await writer.apply(service('api', '10.96.0.22'));
  await eventually(t, 'changes written by another store are served', async () =>
    (await a('web.shop.svc.cluster.local'))[0] === '10.96.0.21' && (await a('api.shop.svc.cluster.local'))[0] === '10.96.0.22',
  );
  await writer.delete({ apiVersion: 'v1', kind: 'Service', namespace: 'shop', name: 'api' });
  await eventually(t, 'a deleted Service disappears', async () =>
    rcodeOf((await udpQuery(dns.address.port, query('api.shop.svc.cluster.local', 'A'))).reply) === 3,
  );
});
