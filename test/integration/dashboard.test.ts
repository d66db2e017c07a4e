// The dashboard's API on a real control plane: the graph lists the store's services, a service page
// has its endpoints and charts, bad requests are named, and the page itself is served.
import t from 'tap';
import { NAMESPACE, POD, SERVICE } from '../../lib/k8s/types.js';
import { startCluster, waitFor } from './testkit/control.js';

t.test('dashboard API on a control plane over a File store', async (t) => {
  const cluster = await startCluster(t, 'dash', async (store) => {
    await store.create({ ...NAMESPACE, metadata: { name: 'shop', labels: { 'istio.io/dataplane-mode': 'ambient' } } });
    await store.create({ ...SERVICE, metadata: { name: 'web', namespace: 'shop' }, spec: { selector: { app: 'web' }, clusterIP: '10.96.0.50', ports: [{ name: 'http', port: 80, targetPort: 8080 }] } });
    await store.create({
      ...POD,
      metadata: { name: 'web-1', namespace: 'shop', labels: { app: 'web' }, annotations: { 'ambient.istio.io/redirection': 'enabled' } },
      spec: { nodeName: 'node-1', serviceAccountName: 'web', containers: [{ name: 'app' }] },
      status: { phase: 'Running', podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }], conditions: [{ type: 'Ready', status: 'True' }] },
    });
  });
  const base = `http://${cluster.plane.addresses.dashboard}`;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- JSON of several shapes, checked by t.match
  const get = async (p: string): Promise<{ status: number; body: any }> => {
    const r = await fetch(base + p);
    const text = await r.text();
    return { status: r.status, body: r.headers.get('content-type')?.includes('json') ? JSON.parse(text) : text };
  };
  await waitFor(async () => (await get('/api/graph')).body.nodes?.some((n: { id: string }) => n.id === 'service:shop/web'), 'the service on the graph');
  const g = await get('/api/graph');
  t.match(g.body, { source: /^embedded: scrapes .* every 5s$/, windowSeconds: 30, edges: [] }, 'no traffic yet');
  const page = await get('/api/services/shop/web?range=5m&step=30s');
  t.equal(page.status, 200);
  t.match(page.body, { kind: 'service', namespace: 'shop', name: 'web', hostname: 'web.shop.svc.cluster.local', waypoint: null, nodes: ['node-1'] });
  t.same(page.body.endpoints.map((e: { pod: string; identity: string }) => [e.pod, e.identity]), [['web-1', 'spiffe://cluster.local/ns/shop/sa/web']]);
  t.equal(page.body.series.length, 10, '5 minutes in 30 s steps');
  t.match(await get('/api/services/shop/nope'), { status: 404, body: { error: 'no service shop/nope in the mesh' } });
  t.match(await get('/api/services/shop'), { status: 400, body: { error: /expected \/api\/services\/<namespace>\/<name>/ } });
  t.match(await get('/api/services/shop/web?step=never'), { status: 400, body: { error: /step: "never" is not a duration/ } });
  t.match(await get('/api/workloads/shop/web-1'), { status: 200, body: { kind: 'workload', pods: [{ pod: 'web-1' }] } }, 'a bare pod is its own workload');
  const html = await get('/');
  t.equal(html.status, 200);
  t.match(html.body, /<script type="module" src="dashboard.js">/, 'the page loads its script');
  t.equal((await get('/dashboard.js')).status, 200);
});
