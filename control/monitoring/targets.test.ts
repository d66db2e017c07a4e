import t from 'tap';
import { scrapeTargets } from './targets.js';

t.test('scrapeTargets: one per connected proxy, from its node id', async (t) => {
  const got = scrapeTargets([
    { nodeId: 'ztunnel~10.0.0.2~ztunnel-node-1.istio-system~istio-system.svc.cluster.local' },
    { nodeId: 'router~10.244.1.7~waypoint-5d4f-x.catalog~catalog.svc.cluster.local' },
    { nodeId: 'ztunnel~10.0.0.2~ztunnel-node-1.istio-system~istio-system.svc.cluster.local' },
    { nodeId: 'router~fd00::7~wp-1.ns~ns.svc.cluster.local' },
    { nodeId: 'sidecar~10.0.0.9~x.y~y.svc.cluster.local' },
    { nodeId: undefined },
  ]);
  t.same(got, [
    { name: 'waypoint/catalog/waypoint-5d4f-x', url: 'http://10.244.1.7:15020/stats/prometheus' },
    { name: 'waypoint/ns/wp-1', url: 'http://[fd00::7]:15020/stats/prometheus' },
    { name: 'ztunnel/istio-system/ztunnel-node-1', url: 'http://10.0.0.2:15020/stats/prometheus' },
  ], 'two streams of one proxy scrape once; unknown kinds and missing ids are skipped');
  t.same(scrapeTargets([{ nodeId: 'ztunnel~10.0.0.2~z.n~n.svc.cluster.local' }], 9)[0]?.url, 'http://10.0.0.2:9/stats/prometheus');
});
