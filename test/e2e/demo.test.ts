// End-to-end: `ambit up --demo`, as a newcomer runs it. The progress and summary it prints, the
// bookstore answering with reviews from all three versions, the steady traffic passing the
// waypoint (its request metrics), the inspection commands, and each printed next step applied
// with `ambit apply -f` taking effect.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import { TestCluster, eventually, metricSum, podMetrics } from './testkit.js';

interface Answer {
  service: string;
  version: string;
  details?: { service?: string; status?: number; error?: string };
  reviews?: { service?: string; version?: string; stars?: string; status?: number; ratings?: { service?: string; status?: number; error?: string } };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('ambit up --demo: the bookstore, its traffic, the inspection commands and the next steps', async (t) => {
  const c = new TestCluster('demo');
  // An ephemeral host port: tests and a developer's own `npm start` may run side by side.
  c.env = { AMBIT_DEMO_PORT: '0' };
  t.teardown(async () => {
    await c.down();
  });
  const up = await c.ambit('up', '--detach', '--demo');

  await t.test('up prints its steps, then the node, pod and forward tables and the next steps', async (t) => {
    for (const step of [/✓ preflight: system tools/, /✓ network: a fabric bridge and 2 node namespace\(s\): node-1 \S+, node-2 \S+/, /✓ control plane \(ambit control\)/, /✓ node node-1: ztunnel, CNI agent, kubelet/, /✓ the demo and manifests: \d+ objects applied/, /✓ pods running and ready: (\d+)\/\1 pods ready/]) {
      t.match(up, step, `step ${step.source}`);
    }
    t.notOk(up.includes('\u001b[K'), 'not a terminal: plain lines, nothing rewritten');
    t.match(up, /^NODE +PODS +READY\nnode-1 +\d+ +\d+\nnode-2 +\d+ +\d+$/m, 'pods per node');
    t.match(up, /^node-\d +bookinfo +productpage-v1-\S+ +10\.244\.\S+ +Ready$/m, 'the pods table');
    t.match(up, /^productpage +http:\/\/127\.0\.0\.1:\d+\/$/m, 'the forward to productpage, first of the forwards');
  });

  const info = JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string; forwards: Record<string, string> };
  const page = `http://${info.forwards.productpage}/productpage`;
  const get = async (): Promise<Answer> => (await (await fetch(page, { signal: AbortSignal.timeout(10_000) })).json()) as Answer;
  const sample = async (n: number): Promise<Answer[]> => {
    const out: Answer[] = [];
    for (let i = 0; i < n; i++) out.push(await get());
    return out;
  };
  const steps = [...up.matchAll(/apply -f (\S+)/g)].map((m) => path.resolve(m[1]!));
  t.equal(steps.length, 3, `three next steps printed: ${steps.join(', ')}`);

  await t.test('productpage answers with details and reviews from v1, v2 and v3; only v2/v3 call ratings', async (t) => {
    const seen = new Map<string, Answer>();
    await eventually('reviews from all three versions', async () => {
      const a = await get();
      if (a.reviews?.version) seen.set(a.reviews.version, a);
      return seen.size === 3;
    }, 60_000, 50);
    t.equal(seen.get('v1')!.details?.service, 'details', 'details answered');
    t.equal(seen.get('v1')!.reviews!.ratings, undefined, 'v1 shows no ratings');
    t.same([seen.get('v2')!.reviews!.stars, seen.get('v2')!.reviews!.ratings?.service], ['black', 'ratings'], 'v2: black stars from ratings');
    t.same([seen.get('v3')!.reviews!.stars, seen.get('v3')!.reviews!.ratings?.service], ['red', 'ratings'], 'v3: red stars from ratings');
  });

  const wpPod = (await c.json<{ items: Pod[] }>('get', 'pods', '-n', 'bookinfo', '-l', 'gateway.networking.k8s.io/gateway-name=waypoint')).items[0]!;
  const metrics = (): Promise<string> => podMetrics(info.prefix, wpPod);
  const counted = async (labels: Record<string, string>): Promise<number> => metricSum(await metrics(), 'istio_requests_total', { reporter: 'waypoint', ...labels });

  await t.test('the load pod trickles requests through the waypoint', async (t) => {
    const before = await counted({ destination_service_name: 'reviews', source_workload: 'productpage-v1' });
    await sleep(10_000);
    const after = await counted({ destination_service_name: 'reviews', source_workload: 'productpage-v1' });
    // 3 requests a second for 10 s with no request of ours: about 30 (fewer on a loaded machine).
    t.ok(after - before >= 8, `the waypoint counted ${after - before} reviews requests in 10 s`);
    t.ok((await counted({ destination_service_name: 'ratings', source_workload: 'reviews-v2' })) > 0, 'and ratings calls from reviews v2');
  });

  await t.test('ztunnel-config and proxy-status show the demo', async (t) => {
    const workloads = await c.ambit('ztunnel-config', 'workloads');
    t.match(workloads, /^NAMESPACE +POD NAME +ADDRESS +NODE +WAYPOINT +PROTOCOL$/m);
    t.match(workloads, /^bookinfo +productpage-v1-\S+ +10\.244\.\S+ +node-\d +None +HBONE$/m);
    const services = await c.ambit('ztunnel-config', 'services');
    t.match(services, /^bookinfo +reviews +10\.96\.\S+ +waypoint +3\/3$/m, 'reviews: its waypoint and 3 healthy endpoints');
    t.match(await c.ambit('ztunnel-config', 'certificates', '--node', 'node-1'), /spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/\S+ +Leaf +Available +true/);
    const outbound = /^node-\d +traffic-\S+\.bookinfo +Outbound +10\.244\.\S+:\d+ +10\.96\.\S+:9080 +10\.244\.\S+ +HBONE$/m;
    // The load client reconnects every minute: wait for a moment its connections are up.
    const conns = await eventually('outbound connections listed', async () => {
      const out = await c.ambit('ztunnel-config', 'connections');
      return outbound.test(out) && out;
    }, 20_000, 500);
    t.match(conns, /Inbound +10\.244\.\S+:9080 +10\.244\.\S+ +spiffe:\/\/cluster\.local\/ns\/bookinfo\/sa\/\S+ +HBONE/, 'live inbound HBONE connections');
    t.match(conns, outbound, "the load pod's outbound connections to productpage's VIP");
    const status = await eventually('every proxy SYNCED', async () => {
      const s = await c.ambit('proxy-status');
      const rows = s.trim().split('\n').slice(1);
      return rows.length === 3 && rows.every((r) => !/STALE|NACKED/.test(r)) && s;
    }, 30_000, 500);
    t.match(status, /^ztunnel-node-1\.istio-system +Kubernetes +ztunnel +SYNCED +SYNCED /m);
    t.match(status, /^waypoint-\S+\.bookinfo +Kubernetes +waypoint +SYNCED +NOT SENT +SYNCED /m);
    t.match(await c.ambit('proxy-status', 'waypoint'), /^ROUTES +SYNCED +\d+ +(\d+) +\1 +- /m, 'the waypoint ACKed the routes version it was sent');
  });

  await t.test('next step 1: the HTTPRoute shifts reviews 50/50 between v1 and v3', async (t) => {
    t.match(steps[0]!, /reviews-50-50\.yaml$/);
    await c.ambit('apply', '-f', steps[0]!);
    await eventually('no more v2', async () => (await sample(15)).every((a) => a.reviews?.version !== 'v2'), 30_000, 200);
    const versions = (await sample(40)).map((a) => a.reviews?.version);
    const v1 = versions.filter((v) => v === 'v1').length;
    const v3 = versions.filter((v) => v === 'v3').length;
    t.equal(v1 + v3, 40, `only v1 and v3: ${versions.join(',')}`);
    t.ok(v1 >= 8 && v3 >= 8, `both get a share (v1 ${v1}, v3 ${v3})`);
  });

  await t.test('next step 2: the fault makes half of the ratings calls fail with 503 at the waypoint', async (t) => {
    t.match(steps[1]!, /ratings-fault\.yaml$/);
    await c.ambit('apply', '-f', steps[1]!);
    await eventually('a ratings 503', async () => (await sample(10)).some((a) => a.reviews?.ratings?.status === 503), 30_000, 200);
    const ratings = (await sample(60)).filter((a) => a.reviews?.version === 'v3').map((a) => a.reviews!.ratings!);
    const failed = ratings.filter((r) => r.status === 503).length;
    t.ok(ratings.length >= 15, `enough v3 answers (${ratings.length})`);
    t.ok(failed > 0 && failed < ratings.length, `some failed, some not (${failed} of ${ratings.length})`);
    t.ok((await counted({ destination_service_name: 'ratings', response_code: '503', response_flags: 'FI' })) >= failed, 'the waypoint counts the aborts with flag FI');
  });

  await t.test('next step 3: the DENY policy makes details refuse productpage', async (t) => {
    t.match(steps[2]!, /deny-details\.yaml$/);
    await c.ambit('apply', '-f', steps[2]!);
    await eventually('details refused', async () => (await get()).details?.status === 0, 30_000, 200);
    const answers = await sample(10);
    t.ok(answers.every((a) => a.details?.status === 0 && a.details.error), `every answer shows details failed: ${JSON.stringify(answers[0]!.details)}`);
    t.ok(answers.every((a) => a.reviews?.service === 'reviews'), 'the rest of the page still works');
    t.match(await c.ambit('ztunnel-config', 'policies'), /^bookinfo +deny-productpage +Deny +WorkloadSelector$/m);
  });
});
