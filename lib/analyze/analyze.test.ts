// The analyzer's checks, one table row per mistake (and its near misses that must stay quiet).
import t from 'tap';
import type { KubeObject } from '../store/types.js';
import { analyze, CODES, formatFindings, hasErrors, type Finding } from './analyze.js';

const ns = (name: string, labels: Record<string, string> = { 'istio.io/dataplane-mode': 'ambient' }): KubeObject => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
const waypoint = (namespace: string, name = 'waypoint', cls = 'istio-waypoint'): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'Gateway',
  metadata: { name, namespace },
  spec: { gatewayClassName: cls, listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE' }] },
});
const svc = (namespace: string, name: string, labels?: Record<string, string>): KubeObject => ({
  apiVersion: 'v1',
  kind: 'Service',
  metadata: { name, namespace, ...(labels ? { labels } : {}) },
  spec: { selector: { app: name }, ports: [{ port: 9080 }] },
});
const deploy = (namespace: string, app: string, replicas = 1): KubeObject => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name: app, namespace },
  spec: { replicas, selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [] } } },
});
const endpoints = (namespace: string, name: string, ips: string[]): KubeObject => ({ apiVersion: 'v1', kind: 'Endpoints', metadata: { name, namespace }, subsets: [{ addresses: ips.map((ip) => ({ ip })) }] });
const route = (namespace: string, backend: string, extra: Record<string, unknown> = {}): KubeObject => ({
  apiVersion: 'gateway.networking.k8s.io/v1',
  kind: 'HTTPRoute',
  metadata: { name: 'r', namespace },
  spec: { parentRefs: [{ group: '', kind: 'Service', name: backend }], rules: [{ backendRefs: [{ name: backend, port: 9080, ...extra }] }] },
});
const policy = (namespace: string, spec: Record<string, unknown>): KubeObject => ({ apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'p', namespace }, spec });
const toWaypoint = { targetRefs: [{ kind: 'Gateway', group: 'gateway.networking.k8s.io', name: 'waypoint' }] };

type Row = { name: string; objects: KubeObject[]; want: Array<Pick<Finding, 'code' | 'severity' | 'object' | 'field'>> };

const rows: Row[] = [
  { name: 'a clean namespace with a waypoint, its users and a route', objects: [ns('a', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }), waypoint('a'), svc('a', 'web'), deploy('a', 'web'), route('a', 'web'), policy('a', { ...toWaypoint, rules: [{ to: [{ operation: { methods: ['GET'] } }] }] })], want: [] },
  { name: 'use-waypoint none is an opt-out, not a name', objects: [ns('a', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'none' })], want: [] },
  {
    name: 'a namespace naming a missing waypoint',
    objects: [ns('a', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'wp' })],
    want: [{ code: CODES.referencedResourceNotFound, severity: 'Error', object: 'Namespace a', field: 'metadata.labels["istio.io/use-waypoint"]' }],
  },
  {
    name: 'a service naming a waypoint in another namespace that lacks it',
    objects: [ns('a'), ns('b'), waypoint('a'), svc('a', 'web', { 'istio.io/use-waypoint': 'waypoint', 'istio.io/use-waypoint-namespace': 'b' }), deploy('a', 'web')],
    want: [{ code: CODES.referencedResourceNotFound, severity: 'Error', object: 'Service a/web', field: 'metadata.labels["istio.io/use-waypoint"]' }],
  },
  { name: 'a cross-namespace waypoint that exists', objects: [ns('a'), ns('b'), waypoint('b'), svc('a', 'web', { 'istio.io/use-waypoint': 'waypoint', 'istio.io/use-waypoint-namespace': 'b' })], want: [] },
  {
    name: 'use-waypoint naming a Gateway of another class',
    objects: [ns('a', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'ingress' }), waypoint('a', 'ingress', 'istio')],
    want: [{ code: CODES.useWaypointNotAWaypoint, severity: 'Error', object: 'Namespace a', field: 'metadata.labels["istio.io/use-waypoint"]' }],
  },
  {
    name: 'L7 operation in a policy only ztunnel enforces',
    objects: [ns('a'), policy('a', { selector: { matchLabels: { app: 'web' } }, rules: [{ to: [{ operation: { paths: ['/admin'] } }] }] })],
    want: [{ code: CODES.l7RulesOnlyZtunnel, severity: 'Warning', object: 'AuthorizationPolicy a/p', field: 'spec.rules[0].to[0].operation.paths' }],
  },
  {
    name: 'request principals and request.* conditions are L7 too (one finding per rule)',
    objects: [ns('a'), policy('a', { action: 'DENY', rules: [{ from: [{ source: { principals: ['x'] } }] }, { from: [{ source: { requestPrincipals: ['*'] } }], when: [{ key: 'request.headers[x-user]', values: ['bob'] }] }] })],
    want: [{ code: CODES.l7RulesOnlyZtunnel, severity: 'Warning', object: 'AuthorizationPolicy a/p', field: 'spec.rules[1].from[0].source.requestPrincipals' }],
  },
  { name: 'L4-only rules without targetRefs are fine for ztunnel', objects: [ns('a'), policy('a', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/a/sa/x'] } }], to: [{ operation: { ports: ['8080'] } }], when: [{ key: 'source.ip', values: ['10.0.0.0/8'] }] }] })], want: [] },
  {
    name: 'selector and targetRefs together',
    objects: [ns('a'), waypoint('a'), policy('a', { selector: { matchLabels: { app: 'web' } }, ...toWaypoint })],
    want: [{ code: CODES.selectorAndTargetRefs, severity: 'Error', object: 'AuthorizationPolicy a/p', field: 'spec.selector' }],
  },
  {
    name: 'a policy targeting a missing waypoint',
    objects: [ns('a'), policy('a', { ...toWaypoint, rules: [{}] })],
    want: [{ code: CODES.referencedResourceNotFound, severity: 'Error', object: 'AuthorizationPolicy a/p', field: 'spec.targetRefs[0]' }],
  },
  {
    name: 'a route to a Service with no endpoints',
    objects: [ns('a'), svc('a', 'web'), deploy('a', 'web', 0), route('a', 'web')],
    want: [{ code: CODES.backendWithoutEndpoints, severity: 'Warning', object: 'HTTPRoute a/r', field: 'spec.rules[0].backendRefs[0]' }],
  },
  { name: 'Endpoints with addresses count', objects: [ns('a'), svc('a', 'web'), endpoints('a', 'web', ['10.1.0.4']), route('a', 'web')], want: [] },
  {
    name: 'empty Endpoints do not',
    objects: [ns('a'), svc('a', 'web'), endpoints('a', 'web', []), route('a', 'web')],
    want: [{ code: CODES.backendWithoutEndpoints, severity: 'Warning', object: 'HTTPRoute a/r', field: 'spec.rules[0].backendRefs[0]' }],
  },
  {
    name: 'a route to a missing Service',
    objects: [ns('a'), svc('a', 'web'), deploy('a', 'web'), route('a', 'web', { name: 'web-v9' })],
    want: [{ code: CODES.referencedResourceNotFound, severity: 'Error', object: 'HTTPRoute a/r', field: 'spec.rules[0].backendRefs[0]' }],
  },
  {
    name: 'a waypoint in a namespace outside the mesh',
    objects: [ns('a', {}), waypoint('a'), waypoint('a', 'second')],
    want: [{ code: CODES.waypointNamespaceNotAmbient, severity: 'Warning', object: 'Namespace a', field: 'metadata.labels["istio.io/dataplane-mode"]' }],
  },
  { name: 'a non-waypoint Gateway needs no ambient label', objects: [ns('a', {}), waypoint('a', 'ingress', 'istio')], want: [] },
];

for (const row of rows) {
  t.test(row.name, async (t) => {
    const got = analyze(row.objects);
    t.same(
      got.map(({ code, severity, object, field }) => ({ code, severity, object, field })),
      row.want,
    );
    for (const f of got) {
      t.ok(f.message.length > 0 && f.fix.length > 0, `${f.code} has a message and a fix`);
    }
    t.equal(hasErrors(got), row.want.some((w) => w.severity === 'Error'));
  });
}

t.test('errors sort first; the text names code, object, field and fix', async (t) => {
  const got = analyze([ns('a', {}), waypoint('a'), ns('b', { 'istio.io/use-waypoint': 'nope' })]);
  t.same(got.map((f) => f.severity), ['Error', 'Warning']);
  const text = formatFindings(got);
  t.match(text, /^Error \[IST0101\] \(Namespace b\) names waypoint Gateway b\/nope/);
  t.match(text, /field: metadata\.labels\["istio\.io\/use-waypoint"\]/);
  t.match(text, /fix: {3}create it \(ambit waypoint apply -n b --name nope\)/);
  t.match(formatFindings([]), /No validation issues found/);
});
