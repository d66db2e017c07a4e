// The node agent's set-up retries, on the File store: a pod whose volumes fail to set up stays
// Pending with reason FailedMount and a Warning Event per attempt, is tried again with back-off,
// and starts once the set-up works; the network is set up once.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { POD, type Pod } from '../../lib/k8s/types.js';
import { openStore } from '../../lib/store/index.js';
import { silentLogger } from '../../lib/telemetry/log.js';
import { Kubelet, PodSetupError, retryDelay, type PodEvent } from './kubelet.js';

t.test('back-off', async (t) => {
  t.same([1, 2, 3, 4, 5, 6, 7].map((a) => retryDelay(a)), [500, 1000, 2000, 4000, 8000, 10_000, 10_000], '500 ms doubling to 10 s');
  t.equal(retryDelay(3, 10), 40);
});

t.test('a failed volume set-up is retried; the pod is Pending with FailedMount meanwhile', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-kubelet-'));
  const store = openStore(dir);
  t.teardown(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
  let setUps = 0;
  let starts = 0;
  const events: PodEvent[] = [];
  const pendingSeen: string[] = [];
  let started!: () => void;
  const running = new Promise<void>((r) => (started = r));
  const kubelet = new Kubelet({
    node: 'node-1',
    hostIP: '10.0.0.1',
    store,
    log: silentLogger(),
    retryBaseMs: 20,
    networker: {
      setUp: async () => {
        setUps++;
        return { netns: 'ns-1', netnsPath: '/var/run/netns/ns-1', ip: '10.244.1.5' };
      },
      tearDown: async () => undefined,
    },
    runtime: {
      start: async (_pod, _net, _node, onStatus) => {
        starts++;
        const current = await store.get<Pod>({ ...POD, namespace: 'demo', name: 'p' });
        pendingSeen.push(`${current?.status?.phase}/${(current?.status as { reason?: string } | undefined)?.reason ?? ''}`);
        if (starts < 3) throw new PodSetupError('FailedMount', 'MountVolume.SetUp failed: configmap "istio-ca-root-cert" not found');
        onStatus({ phase: 'Running', conditions: [], podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }], startTime: '', containerStatuses: [] } as never);
        started();
        return { stop: async () => undefined };
      },
    },
    recordEvent: async (_pod, ev) => {
      events.push(ev);
    },
  });
  t.teardown(() => kubelet.close());
  await store.create({ ...POD, metadata: { name: 'p', namespace: 'demo' }, spec: { nodeName: 'node-1', containers: [{ name: 'c', image: 'x' }] } });
  kubelet.start();
  await running;
  t.equal(starts, 3, 'started on the third attempt');
  t.equal(setUps, 1, 'the network was set up once');
  t.same(pendingSeen.slice(1), ['Pending/FailedMount', 'Pending/FailedMount'], 'Pending with reason FailedMount between attempts');
  t.same(events, [1, 2].map(() => ({ type: 'Warning', reason: 'FailedMount', message: 'MountVolume.SetUp failed: configmap "istio-ca-root-cert" not found' })), 'a Warning Event per failed attempt');
  const final = await new Promise<Pod | undefined>((resolve) => {
    const until = Date.now() + 5000;
    const poll = async () => {
      const p = await store.get<Pod>({ ...POD, namespace: 'demo', name: 'p' });
      if (p?.status?.phase === 'Running' || Date.now() > until) resolve(p);
      else setTimeout(() => void poll(), 20);
    };
    void poll();
  });
  t.equal(final?.status?.phase, 'Running', 'then Running');
});
