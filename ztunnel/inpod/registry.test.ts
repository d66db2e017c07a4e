// Needs root (opens network namespaces). The pod registry's bookkeeping with loopback listeners
// and a recording proxy: idempotent adds, a new namespace replaces the proxy, failed starts retry
// while the pod is pending, deletes drain and forget identities nobody uses any more.
import net from 'node:net';
import t from 'tap';
import { silentLogger } from '../../lib/telemetry/log.js';
import { delNetns, netnsPath } from '../../lib/sys/netns.js';
import { addTestNetns } from '../../lib/sys/testkit.js';
import type { PodInfo, PodProxy } from '../proxy/pod-proxy.js';
import type { ListenerSet } from './listeners.js';
import { InPodRegistry } from './registry.js';

if (process.getuid?.() !== 0) throw new Error('ztunnel/inpod/registry.test opens network namespaces: run it as root');

const NS = `tzr${process.pid}`;

class FakeProxy {
  events: string[] = [];
  constructor(readonly info: PodInfo) {}
  async start(): Promise<{ hbone: { address: string; port: number; family: 4 } }> {
    this.events.push('start');
    return { hbone: { address: '127.0.0.1', port: 15008, family: 4 } };
  }
  async drain(ms: number): Promise<void> {
    this.events.push(`drain ${ms}`);
  }
  async close(): Promise<void> {
    this.events.push('close');
  }
  stats() {
    return { plainConnections: 0, hboneStreams: 0, hboneStreamsOpened: 0, hboneConnections: 0, poolConnections: 0 };
  }
}

t.test('pod registry', async (t) => {
  await addTestNetns(NS);
  t.teardown(() => delNetns(NS));
  const proxies: FakeProxy[] = [];
  const certs: string[] = [];
  let failListeners = 0;
  const listeners = async (): Promise<ListenerSet> => {
    if (failListeners > 0) {
      failListeners--;
      throw new Error('listen on 0.0.0.0:15001: EADDRINUSE');
    }
    return { outbound: net.createServer(), plaintext: net.createServer(), hbone: { port: 0 }, close: () => undefined };
  };
  const reg = new InPodRegistry({
    createProxy: (info) => {
      const p = new FakeProxy(info);
      proxies.push(p);
      return p as unknown as PodProxy;
    },
    listeners,
    certs: { prefetch: (id) => certs.push(`prefetch ${id}`), forget: (id) => certs.push(`forget ${id}`) },
    trustDomain: 'cluster.local',
    drainMs: 123,
    retryMs: 50,
    logger: silentLogger(),
  });
  t.teardown(() => reg.close(0));
  const w = (name: string, sa = 'sa1') => ({ uid: `u-${name}`, name, namespace: 'demo', serviceAccount: sa });

  t.equal(reg.ready, false, 'not ready before the snapshot');
  await reg.addPod('u-a', w('a'), '/proc/self/ns/net');
  await reg.addPod('u-a', w('a'), '/proc/self/ns/net');
  t.equal(proxies.length, 1, 'adding the same pod in the same namespace again is a no-op');
  t.same(proxies[0]!.info, { uid: 'u-a', name: 'a', namespace: 'demo', serviceAccount: 'sa1', identity: 'spiffe://cluster.local/ns/demo/sa/sa1' });
  reg.snapshotDone();
  t.equal(reg.ready, true);

  await reg.addPod('u-a', w('a'), netnsPath(NS));
  t.equal(proxies.length, 2, 'a new namespace for the pod starts a new proxy');
  await new Promise((r) => setTimeout(r, 10));
  t.same(proxies[0]!.events, ['start', 'drain 123'], 'and drains the old one');

  await reg.addPod('u-b', w('b', ''), '/proc/self/ns/net');
  t.equal(proxies[2]!.info.identity, 'spiffe://cluster.local/ns/demo/sa/default', 'empty service account means default');

  failListeners = 2;
  await t.rejects(reg.addPod('u-c', w('c', 'sa3'), '/proc/self/ns/net'), /EADDRINUSE/, 'a failed start is NACKed');
  t.equal(reg.ready, false, 'not ready while a pod is pending');
  t.match(reg.status().find((p) => p.uid === 'u-c'), { state: 'pending', error: /EADDRINUSE/ });
  await new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (reg.ready) {
        clearInterval(check);
        resolve();
      }
    }, 10);
  });
  t.match(reg.status().find((p) => p.uid === 'u-c'), { state: 'serving' }, 'started by a retry');

  await t.rejects(reg.addPod('u-d', w('d'), '/nonexistent/netns'), /open network namespace \/nonexistent\/netns/);
  await reg.delPod('u-d');
  t.equal(reg.ready, true, 'deleting a pending pod stops its retries');

  certs.length = 0;
  await reg.delPod('u-a');
  t.same(certs, ['forget spiffe://cluster.local/ns/demo/sa/sa1'], 'the identity of its last pod is forgotten');
  await reg.delPod('u-unknown');
  t.same(reg.status().map((p) => p.name).sort(), ['b', 'c']);
  await reg.close(7);
  t.same(proxies.at(-1)!.events, ['start', 'drain 7'], 'close drains what is left');
});
