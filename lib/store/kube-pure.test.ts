import t from 'tap';
import { kubeConfigSource } from './kube-config.js';
import { labelSelectorText, queryString, resourcePath } from './kube-paths.js';
import { errorFromStatus, KubeApiError } from './kube-status.js';
import { WatchView } from './kube-view.js';
import { StoreError, type KubeObject } from './types.js';

t.test('resource paths from the kind registry', async (t) => {
  const POD = { apiVersion: 'v1', kind: 'Pod' };
  const table: Array<[Parameters<typeof resourcePath>, string]> = [
    [[POD, {}], '/api/v1/pods'],
    [[POD, { namespace: 'demo' }], '/api/v1/namespaces/demo/pods'],
    [[POD, { name: 'web-1' }], '/api/v1/namespaces/default/pods/web-1'],
    [[POD, { namespace: 'demo', name: 'web-1', subresource: 'status' }], '/api/v1/namespaces/demo/pods/web-1/status'],
    [[{ apiVersion: 'v1', kind: 'Namespace' }, { namespace: 'ignored', name: 'demo' }], '/api/v1/namespaces/demo'],
    [[{ apiVersion: 'apps/v1', kind: 'Deployment' }, { namespace: 'a' }], '/apis/apps/v1/namespaces/a/deployments'],
    [[{ apiVersion: 'security.istio.io/v1beta1', kind: 'AuthorizationPolicy' }, { namespace: 'a', name: 'x' }], '/apis/security.istio.io/v1beta1/namespaces/a/authorizationpolicies/x'],
    [[{ apiVersion: 'example.com/v1', kind: 'Policy' }, {}], '/apis/example.com/v1/policies'],
  ];
  for (const [args, want] of table) t.equal(resourcePath(...args), want, want);
  t.throws(() => resourcePath(POD, { subresource: 'status' }), { code: 'Invalid', message: /status subresource needs an object name/ });
});

t.test('label selectors and query strings', async (t) => {
  t.equal(labelSelectorText(undefined), undefined);
  t.equal(labelSelectorText({}), undefined);
  t.equal(labelSelectorText({ app: 'web', 'istio.io/rev': 'x' }), 'app=web,istio.io/rev=x');
  t.throws(() => labelSelectorText({ 'a,b': 'c' }), { code: 'Invalid' });
  t.equal(queryString({ a: 1, b: undefined, c: true, d: 'x y' }), '?a=1&c=true&d=x+y');
  t.equal(queryString({}), '');
});

t.test('API server statuses become store errors', async (t) => {
  const st = (code: number, reason: string, message: string) => ({ kind: 'Status', apiVersion: 'v1', status: 'Failure', code, reason, message });
  const table: Array<[number, unknown, string, RegExp]> = [
    [404, st(404, 'NotFound', 'configmaps "x" not found'), 'NotFound', /configmaps "x" not found/],
    [409, st(409, 'AlreadyExists', 'configmaps "x" already exists'), 'AlreadyExists', /already exists/],
    [409, st(409, 'Conflict', 'Operation cannot be fulfilled'), 'Conflict', /read the object again and retry/],
    [409, st(409, 'Conflict', 'Apply failed with 1 conflict: conflict with "kubectl": .data.a'), 'Conflict', /apply with force/],
    [422, st(422, 'Invalid', 'ConfigMap "Bad" is invalid: metadata.name: Invalid value'), 'Invalid', /metadata\.name/],
    [200, st(410, 'Expired', 'too old resource version: 1 (50)'), 'Gone', /too old resource version.*list again/],
  ];
  for (const [http, body, code, msg] of table) {
    const e = errorFromStatus(http, body, 'GET /x');
    t.ok(e instanceof StoreError, code);
    t.match(e, { code, message: msg });
  }
  const denied = errorFromStatus(403, st(403, 'Forbidden', 'configmaps is forbidden: User "u" cannot list'), 'GET /api/v1/configmaps');
  t.ok(denied instanceof KubeApiError);
  t.match(denied.message, /^GET \/api\/v1\/configmaps: configmaps is forbidden.*grant the identity/);
  t.match(errorFromStatus(503, 'upstream down', 'GET /x').message, /GET \/x: upstream down; the API server is unavailable/);
});

t.test('kubeconfig resolution: flag, KUBECONFIG, in-cluster, home', async (t) => {
  const has = (...paths: string[]) => (p: string) => paths.includes(p);
  t.same(kubeConfigSource({ kubeconfig: '/k' }, {}, has('/k')), { type: 'files', paths: ['/k'] });
  t.throws(() => kubeConfigSource({ kubeconfig: '/k' }, {}, has()), /kubeconfig \/k: no such file/);
  t.same(kubeConfigSource({}, { KUBECONFIG: '/a:/b:/c' }, has('/a', '/c')), { type: 'files', paths: ['/a', '/c'] });
  t.throws(() => kubeConfigSource({}, { KUBECONFIG: '/a' }, has()), /KUBECONFIG=\/a: none of these files exists/);
  t.same(kubeConfigSource({}, { KUBERNETES_SERVICE_HOST: '10.96.0.1' }, has('/var/run/secrets/kubernetes.io/serviceaccount/token')), { type: 'in-cluster' });
  t.same(kubeConfigSource({}, { HOME: '/h' }, has('/h/.kube/config')), { type: 'files', paths: ['/h/.kube/config'] });
  t.throws(() => kubeConfigSource({}, { HOME: '/h' }, has()), /no Kubernetes credentials/);
});

t.test('the watch view turns a re-list into the difference and drops repeats', async (t) => {
  const o = (name: string, rv: string, ns = 'd'): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns, resourceVersion: rv } });
  const v = new WatchView();
  const sum = (evs: Array<{ type: string; object: KubeObject } | undefined>) => evs.map((e) => (e ? `${e.type} ${e.object.metadata.name}@${e.object.metadata.resourceVersion}` : 'none'));
  t.same(sum(v.replace([o('a', '1'), o('b', '2')])), ['ADDED a@1', 'ADDED b@2']);
  t.same(sum([v.apply({ type: 'ADDED', object: o('a', '1') })]), ['none'], 'the same resourceVersion again tells nothing');
  t.same(sum([v.apply({ type: 'ADDED', object: o('a', '3') })]), ['MODIFIED a@3'], 'a known object is MODIFIED');
  t.same(sum([v.apply({ type: 'DELETED', object: o('zz', '4') })]), ['none'], 'deleting an unknown object tells nothing');
  t.same(sum(v.replace([o('a', '3'), o('b', '5'), o('c', '6')])), ['MODIFIED b@5', 'ADDED c@6']);
  t.same(sum(v.replace([o('c', '6')])), ['DELETED a@3', 'DELETED b@5'], 'what the list lacks is DELETED with its last state');
  t.same(sum(v.replace([o('c', '6', 'other')])), ['ADDED c@6', 'DELETED c@6'], 'namespaces are part of the identity');
  t.equal(v.size, 1);
});
