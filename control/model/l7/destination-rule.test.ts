import t from 'tap';
import { OUTLIER_DEFAULTS } from './defaults.js';
import { compile, condition, destinationRule } from './testkit.js';
import type { DestinationPolicyModel, TrafficPolicyModel } from './types.js';

const REVIEWS = 'app/reviews.app.svc.cluster.local';

function policyOf(spec: Record<string, unknown>): DestinationPolicyModel | undefined {
  return compile({ destinationRules: [destinationRule('app', 'dr', { host: 'reviews', ...spec })] }).destinationPolicies.get(REVIEWS);
}

t.test('traffic policy', async (t) => {
  const cases: Array<{ what: string; tp: Record<string, unknown>; want: Partial<TrafficPolicyModel> }> = [
    { what: 'defaults: LEAST_REQUEST, no limits, no outlier detection', tp: {}, want: { loadBalancer: { policy: 'LEAST_REQUEST' }, connectionPool: undefined, outlierDetection: undefined, ports: [] } },
    { what: 'UNSPECIFIED is LEAST_REQUEST', tp: { loadBalancer: { simple: 'UNSPECIFIED' } }, want: { loadBalancer: { policy: 'LEAST_REQUEST' } } },
    { what: 'ROUND_ROBIN', tp: { loadBalancer: { simple: 'ROUND_ROBIN' } }, want: { loadBalancer: { policy: 'ROUND_ROBIN' } } },
    { what: 'RANDOM', tp: { loadBalancer: { simple: 'RANDOM' } }, want: { loadBalancer: { policy: 'RANDOM' } } },
    { what: 'hash on header', tp: { loadBalancer: { consistentHash: { httpHeaderName: 'X-User' } } }, want: { loadBalancer: { policy: 'CONSISTENT_HASH', consistentHash: { headerName: 'x-user', minimumRingSize: 1024 } } } },
    { what: 'hash on cookie', tp: { loadBalancer: { consistentHash: { httpCookie: { name: 'sid', path: '/', ttl: '1h' }, ringHash: { minimumRingSize: 2048 } } } },
      want: { loadBalancer: { policy: 'CONSISTENT_HASH', consistentHash: { cookie: { name: 'sid', path: '/', ttlMs: 3_600_000 }, minimumRingSize: 2048 } } } },
    { what: 'hash on source IP', tp: { loadBalancer: { consistentHash: { useSourceIp: true } } }, want: { loadBalancer: { policy: 'CONSISTENT_HASH', consistentHash: { useSourceIp: true, minimumRingSize: 1024 } } } },
    { what: 'connection pool', tp: { connectionPool: { tcp: { maxConnections: 100, connectTimeout: '3s' }, http: { http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 1, maxRetries: 3 } } },
      want: { connectionPool: { maxConnections: 100, connectTimeoutMs: 3000, http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 1, maxRetries: 3 } } },
    { what: 'outlier detection with Istio defaults', tp: { outlierDetection: {} }, want: { outlierDetection: OUTLIER_DEFAULTS } },
    { what: 'outlier detection configured', tp: { outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, interval: '5s', baseEjectionTime: '1m', maxEjectionPercent: 50 } },
      want: { outlierDetection: { consecutive5xxErrors: 0, consecutiveGatewayErrors: 3, intervalMs: 5000, baseEjectionTimeMs: 60_000, maxEjectionPercent: 50, minHealthPercent: 0 } } },
    { what: 'port-level settings override per field', tp: { loadBalancer: { simple: 'RANDOM' }, connectionPool: { tcp: { maxConnections: 5 } }, portLevelSettings: [{ port: { number: 9080 }, loadBalancer: { simple: 'ROUND_ROBIN' } }] },
      want: { loadBalancer: { policy: 'RANDOM' }, ports: [{ port: 9080, loadBalancer: { policy: 'ROUND_ROBIN' }, connectionPool: { maxConnections: 5 } }] } },
  ];
  for (const c of cases) {
    const p = policyOf({ trafficPolicy: c.tp });
    t.match(p?.trafficPolicy, c.want, c.what);
    for (const [k, v] of Object.entries(c.want)) if (v === undefined) t.equal((p?.trafficPolicy as unknown as Record<string, unknown>)?.[k], undefined, `${c.what}: ${k} unset`);
  }
});

t.test('subsets merge over the rule', async (t) => {
  const p = policyOf({
    trafficPolicy: { loadBalancer: { simple: 'RANDOM' }, connectionPool: { tcp: { maxConnections: 5 } } },
    subsets: [
      { name: 'v1', labels: { version: 'v1' } },
      { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' }, outlierDetection: { consecutive5xxErrors: 2 } } },
    ],
  });
  t.match(p, { name: REVIEWS, waypoint: 'app/waypoint', source: 'DestinationRule app/dr', hostname: 'reviews.app.svc.cluster.local' });
  t.same(p?.subsets.map((s) => [s.name, s.labels, s.trafficPolicy.loadBalancer.policy, s.trafficPolicy.connectionPool, s.trafficPolicy.outlierDetection?.consecutive5xxErrors]), [
    ['v1', { version: 'v1' }, 'RANDOM', { maxConnections: 5 }, undefined],
    ['v2', { version: 'v2' }, 'ROUND_ROBIN', { maxConnections: 5 }, 2],
  ]);
});

t.test('which rule applies', async (t) => {
  const m = compile({
    destinationRules: [
      destinationRule('istio-system', 'mesh', { host: 'reviews.app.svc.cluster.local', trafficPolicy: { loadBalancer: { simple: 'RANDOM' } } }, { creationTimestamp: '2026-01-01T00:00:00Z' }),
      destinationRule('app', 'young', { host: 'reviews', trafficPolicy: { loadBalancer: { simple: 'ROUND_ROBIN' } } }, { creationTimestamp: '2026-01-03T00:00:00Z' }),
      destinationRule('app', 'old', { host: 'reviews' }, { creationTimestamp: '2026-01-02T00:00:00Z' }),
      destinationRule('plain', 'elsewhere', { host: 'web.app.svc.cluster.local' }),
      destinationRule('plain', 'lone', { host: 'lone' }),
    ],
  });
  t.equal(m.destinationPolicies.get(REVIEWS)?.source, 'DestinationRule app/old', "the oldest in the service's namespace wins over the root namespace");
  t.match(condition(m, 'DestinationRule/app/young', 'WaypointAccepted'), { status: 'True', message: /DestinationRule app\/old already configures/ });
  t.match(condition(m, 'DestinationRule/plain/elsewhere', 'WaypointAccepted'), { message: /move it there/ });
  t.equal(m.destinationPolicies.has('app/web.app.svc.cluster.local'), false);
  t.match(condition(m, 'DestinationRule/plain/lone', 'WaypointAccepted'), { status: 'True', message: /no waypoint serves Service plain\/lone/ });
  t.equal(m.destinationPolicies.size, 1, 'only for services a waypoint serves');
  const root = compile({ destinationRules: [destinationRule('istio-system', 'mesh', { host: 'reviews.app.svc.cluster.local' })] });
  t.equal(root.destinationPolicies.get(REVIEWS)?.source, 'DestinationRule istio-system/mesh', 'root namespace as fallback');
});

t.test('DestinationRule errors', async (t) => {
  const cases: Array<{ what: string; spec: Record<string, unknown>; field: string; reason: string; message: RegExp }> = [
    { what: 'no host', spec: { host: undefined }, field: 'spec.host', reason: 'Invalid', message: /required/ },
    { what: 'negative maxConnections', spec: { trafficPolicy: { connectionPool: { tcp: { maxConnections: -1 } } } }, field: 'spec.trafficPolicy.connectionPool.tcp.maxConnections', reason: 'Invalid', message: /must not be negative/ },
    { what: 'maxEjectionPercent over 100', spec: { trafficPolicy: { outlierDetection: { maxEjectionPercent: 120 } } }, field: 'spec.trafficPolicy.outlierDetection.maxEjectionPercent', reason: 'Invalid', message: /at most 100/ },
    { what: 'zero interval', spec: { trafficPolicy: { outlierDetection: { interval: '0s' } } }, field: 'spec.trafficPolicy.outlierDetection.interval', reason: 'Invalid', message: /longer than 0s/ },
    { what: 'unknown LB', spec: { trafficPolicy: { loadBalancer: { simple: 'FASTEST' } } }, field: 'spec.trafficPolicy.loadBalancer.simple', reason: 'Invalid', message: /must be one of/ },
    { what: 'PASSTHROUGH', spec: { trafficPolicy: { loadBalancer: { simple: 'PASSTHROUGH' } } }, field: 'spec.trafficPolicy.loadBalancer.simple', reason: 'UnsupportedValue', message: /not supported by waypoints/ },
    { what: 'two hash keys', spec: { trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'a', useSourceIp: true } } } }, field: 'spec.trafficPolicy.loadBalancer.consistentHash', reason: 'Invalid', message: /exactly one/ },
    { what: 'simple and hash', spec: { trafficPolicy: { loadBalancer: { simple: 'RANDOM', consistentHash: { useSourceIp: true } } } }, field: 'spec.trafficPolicy.loadBalancer', reason: 'Invalid', message: /not both/ },
    { what: 'duplicate subset', spec: { subsets: [{ name: 'v1' }, { name: 'v1' }] }, field: 'spec.subsets[1].name', reason: 'Invalid', message: /defined twice/ },
    { what: 'bad subset labels', spec: { subsets: [{ name: 'v1', labels: { version: 1 } }] }, field: 'spec.subsets[0].labels.version', reason: 'Invalid', message: /must be a string/ },
    { what: 'duplicate port settings', spec: { trafficPolicy: { portLevelSettings: [{ port: { number: 80 } }, { port: { number: 80 } }] } }, field: 'spec.trafficPolicy.portLevelSettings[1].port.number', reason: 'Invalid', message: /settings already/ },
    { what: 'workloadSelector', spec: { workloadSelector: { matchLabels: { app: 'x' } } }, field: 'spec.workloadSelector', reason: 'UnsupportedValue', message: /sidecars/ },
  ];
  for (const c of cases) {
    const m = compile({ destinationRules: [destinationRule('app', 'bad', { host: 'reviews', ...c.spec })] });
    t.match(condition(m, 'DestinationRule/app/bad', 'WaypointAccepted'), { status: 'False', reason: c.reason, message: c.field }, c.what);
    t.match(m.problems, [{ kind: 'DestinationRule', field: c.field, message: c.message }], c.what);
    t.equal(m.destinationPolicies.size, 0, `${c.what}: not applied`);
  }
});
