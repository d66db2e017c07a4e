import t from 'tap';
import { authorizationPolicy, compile, condition } from './testkit.js';
import type { L7AuthorizationModel } from './types.js';

const toWaypoint = { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }] };
const toWeb = { targetRefs: [{ kind: 'Service', group: '', name: 'web' }] };

function policy(spec: Record<string, unknown>, ns = 'app'): { ap?: L7AuthorizationModel; m: ReturnType<typeof compile> } {
  const m = compile({ authorizationPolicies: [authorizationPolicy(ns, 'p', spec)] });
  return { ap: m.authorizations.get(`${ns}/p`), m };
}

t.test('targets', async (t) => {
  t.same(policy(toWaypoint).ap?.targets, [{ waypoint: 'app/waypoint', hostnames: [] }], 'the waypoint Gateway: all its traffic');
  t.same(policy(toWeb).ap?.targets, [{ waypoint: 'app/waypoint', hostnames: ['web.app.svc.cluster.local'] }], 'a Service: its hostname');
  t.same(policy({ targetRefs: [...toWeb.targetRefs, { kind: 'Service', name: 'api' }] }).ap?.targets, [{ waypoint: 'app/waypoint', hostnames: ['api.app.svc.cluster.local', 'web.app.svc.cluster.local'] }], 'merged per waypoint');
  t.same(policy({ targetRefs: [...toWeb.targetRefs, ...toWaypoint.targetRefs] }).ap?.targets, [{ waypoint: 'app/waypoint', hostnames: [] }], 'the whole waypoint covers the Service');
  t.same(policy({ targetRef: { kind: 'Service', name: 'web' } }).ap?.targets.length, 1, 'singular targetRef');
  t.same(policy({ targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' }] }, 'istio-system').ap?.targets, [{ waypoint: 'app/waypoint', hostnames: [] }], 'the GatewayClass from the root namespace: every waypoint');
  const { ap, m } = policy({ ...toWeb, action: 'DENY' });
  t.match(ap, { name: 'p', namespace: 'app', action: 'DENY', rules: [], dryRun: false });
  t.match(condition(m, 'AuthorizationPolicy/app/p', 'WaypointAccepted'), { status: 'True', reason: 'Accepted', message: 'enforced by waypoint app/waypoint' });
  const selector = compile({ authorizationPolicies: [authorizationPolicy('app', 's', { selector: { matchLabels: { app: 'web' } } })] });
  t.equal(selector.authorizations.size + selector.status.size, 0, 'selector policies stay ztunnel\'s');
  const dry = compile({ authorizationPolicies: [authorizationPolicy('app', 'd', toWaypoint, { annotations: { 'istio.io/dry-run': 'true' } })] });
  t.equal(dry.authorizations.get('app/d')?.dryRun, true);
});

t.test('target errors', async (t) => {
  const cases: Array<{ what: string; spec: Record<string, unknown>; ns?: string; reason: string; field: string }> = [
    { what: 'missing Gateway', spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'nope' }] }, reason: 'TargetNotFound', field: 'spec.targetRefs[0].name' },
    { what: 'missing Service', spec: { targetRefs: [{ kind: 'Service', name: 'nope' }] }, reason: 'TargetNotFound', field: 'spec.targetRefs[0].name' },
    { what: 'Service without waypoint', spec: { targetRefs: [{ kind: 'Service', name: 'lone' }] }, ns: 'plain', reason: 'AncestorNotBound', field: 'spec.targetRefs[0].name' },
    { what: 'GatewayClass outside the root namespace', spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'GatewayClass', name: 'istio-waypoint' }] }, reason: 'TargetNotFound', field: 'spec.targetRefs[0]' },
    { what: 'unsupported kind', spec: { targetRefs: [{ kind: 'Pod', name: 'x' }] }, reason: 'TargetNotFound', field: 'spec.targetRefs[0].kind' },
    { what: 'another namespace', spec: { targetRefs: [{ kind: 'Service', name: 'web', namespace: 'plain' }] }, reason: 'Invalid', field: 'spec.targetRefs[0].namespace' },
    { what: 'selector and targetRefs', spec: { ...toWeb, selector: { matchLabels: { a: 'b' } } }, reason: 'Invalid', field: 'spec.selector' },
    { what: 'CUSTOM', spec: { ...toWeb, action: 'CUSTOM' }, reason: 'UnsupportedValue', field: 'spec.action' },
    { what: 'unknown action', spec: { ...toWeb, action: 'PERMIT' }, reason: 'Invalid', field: 'spec.action' },
  ];
  for (const c of cases) {
    const { ap, m } = policy(c.spec, c.ns);
    t.equal(ap, undefined, `${c.what}: not applied`);
    t.match(condition(m, `AuthorizationPolicy/${c.ns ?? 'app'}/p`, 'WaypointAccepted'), { status: 'False', reason: c.reason, message: c.field }, c.what);
  }
});

t.test('rules', async (t) => {
  const { ap } = policy({
    ...toWeb,
    rules: [
      {
        from: [{ source: { principals: ['spiffe://cluster.local/ns/app/sa/client', 'cluster.local/ns/x/*'], notNamespaces: ['evil'], ipBlocks: ['10.0.0.0/8', '192.168.1.1'], serviceAccounts: ['api', 'other/batch'] } }],
        to: [{ operation: { methods: ['get', 'POST'], paths: ['/api/*', '*/health', '/exact'], notPaths: ['*'], hosts: ['web.app.svc.cluster.local'], ports: ['80', 8080], notMethods: ['DELETE'] } }],
        when: [{ key: 'request.headers[X-Tenant]', values: ['t1'] }, { key: 'source.namespace', notValues: ['kube-system'] }, { key: 'source.principal', values: ['*/sa/client'] }],
      },
      {},
    ],
  });
  t.same(ap?.rules, [
    {
      from: [{
        principals: [{ exact: 'cluster.local/ns/app/sa/client' }, { prefix: 'cluster.local/ns/x/' }, { exact: 'cluster.local/ns/app/sa/api' }, { exact: 'cluster.local/ns/other/sa/batch' }],
        notNamespaces: [{ exact: 'evil' }],
        ipBlocks: [{ ip: '10.0.0.0', length: 8 }, { ip: '192.168.1.1', length: 32 }],
      }],
      to: [{
        methods: ['GET', 'POST'],
        paths: [{ prefix: '/api/' }, { suffix: '/health' }, { exact: '/exact' }],
        notPaths: [{ presence: true }],
        hosts: [{ exact: 'web.app.svc.cluster.local' }],
        ports: [80, 8080],
        notMethods: ['DELETE'],
      }],
      when: [
        { attribute: 'REQUEST_HEADER', header: 'x-tenant', values: [{ exact: 't1' }] },
        { attribute: 'SOURCE_NAMESPACE', notValues: [{ exact: 'kube-system' }] },
        { attribute: 'SOURCE_PRINCIPAL', values: [{ suffix: '/sa/client' }] },
      ],
    },
    { from: [], to: [], when: [] },
  ]);
});

t.test('what waypoints cannot evaluate fails closed', async (t) => {
  const rules = [
    { from: [{ source: { requestPrincipals: ['iss/sub'], namespaces: ['a'] } }] },
    { to: [{ operation: { methods: ['GET'] } }] },
    { when: [{ key: 'request.auth.claims[group]', values: ['admin'] }] },
    { from: [{ source: { ipBlocks: ['not-an-ip'] } }] },
  ];
  const allow = policy({ ...toWeb, rules });
  t.same(allow.ap?.rules, [{ from: [], to: [{ methods: ['GET'] }], when: [] }], 'ALLOW: rules using them are dropped');
  t.match(condition(allow.m, 'AuthorizationPolicy/app/p', 'WaypointAccepted'), { status: 'False', reason: 'PartiallyInvalid', message: /spec\.rules\[0\]\.from\[0\]\.source\.requestPrincipals.*allows less than written/ });
  t.match(allow.m.problems, [
    { field: 'spec.rules[0].from[0].source.requestPrincipals' },
    { field: 'spec.rules[2].when[0].key', message: /request\.auth\.claims\[group\]/ },
    { field: 'spec.rules[3].from[0].source.ipBlocks[0]', message: /"not-an-ip" is not a valid value/ },
    { field: 'spec.rules', message: /spec\.rules\[0\], spec\.rules\[2\], spec\.rules\[3\] were dropped/ },
  ]);
  const deny = policy({ ...toWeb, action: 'DENY', rules });
  t.same(deny.ap?.rules.map((r) => r.from), [[{ namespaces: [{ exact: 'a' }] }], [], [], [{}]], 'DENY: the conditions are removed, the rules kept');
  t.match(condition(deny.m, 'AuthorizationPolicy/app/p', 'WaypointAccepted'), { status: 'False', reason: 'PartiallyInvalid', message: /matches more than written/ });
  const audit = policy({ ...toWeb, action: 'AUDIT', rules: [{}] });
  t.equal(audit.ap?.action, 'AUDIT');
});
