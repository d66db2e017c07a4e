import t from 'tap';
import { Problems } from './objects.js';
import { buildPeerAuthentications } from './peerauth.js';
import { pa } from './testkit.js';
import { resolveOptions } from './types.js';

const opts = resolveOptions();
const STATIC = 'istio-system/istio_converted_static_strict';
const old = { creationTimestamp: '2024-01-01T00:00:00Z' };
const young = { creationTimestamp: '2024-06-01T00:00:00Z' };

function run(objs: unknown[]) {
  const problems = new Problems();
  return { ...buildPeerAuthentications(objs, opts, problems), problems: problems.list };
}

t.test('no PeerAuthentication: nothing at all', async (t) => {
  const r = run([]);
  t.equal(r.authorizations.size, 0);
  t.same(r.forPod('a', {}), []);
});

t.test('static strict policy', async (t) => {
  t.equal(run([pa('a', 'default', { mtls: { mode: 'PERMISSIVE' } }), pa('b', 'x', { mtls: { mode: 'DISABLE' } })]).authorizations.size, 0, 'PERMISSIVE/DISABLE: nothing');
  const r = run([pa('a', 'default', { mtls: { mode: 'STRICT' } })]);
  t.same(r.authorizations.get(STATIC), {
    name: 'istio_converted_static_strict', namespace: 'istio-system', scope: 'WORKLOAD_SELECTOR', action: 'DENY',
    rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: true }] }] }] }], dryRun: false,
  });
});

t.test('effective mode: workload → namespace → mesh', async (t) => {
  const cases: Array<{ what: string; pas: unknown[]; ns?: string; labels?: Record<string, string>; want: string[] }> = [
    { what: 'mesh STRICT', pas: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })], want: [STATIC] },
    { what: 'mesh STRICT applies in the root namespace too', pas: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })], ns: 'istio-system', want: [STATIC] },
    { what: 'namespace STRICT', pas: [pa('a', 'default', { mtls: { mode: 'STRICT' } })], want: [STATIC] },
    { what: 'other namespace STRICT', pas: [pa('b', 'default', { mtls: { mode: 'STRICT' } })], want: [] },
    { what: 'namespace PERMISSIVE overrides mesh STRICT', pas: [pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }), pa('a', 'n', { mtls: { mode: 'PERMISSIVE' } })], want: [] },
    { what: 'namespace UNSET inherits mesh', pas: [pa('istio-system', 'm', { mtls: { mode: 'STRICT' } }), pa('a', 'n', { mtls: { mode: 'UNSET' } })], want: [STATIC] },
    { what: 'DISABLE is PERMISSIVE', pas: [pa('a', 'n', { mtls: { mode: 'DISABLE' } })], want: [] },
    { what: 'workload STRICT', pas: [pa('a', 'w', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'STRICT' } })], labels: { app: 'x' }, want: [STATIC] },
    { what: 'workload STRICT, not selected', pas: [pa('a', 'w', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'STRICT' } })], labels: { app: 'y' }, want: [] },
    { what: 'workload PERMISSIVE overrides namespace STRICT', pas: [pa('a', 'n', { mtls: { mode: 'STRICT' } }), pa('a', 'w', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'PERMISSIVE' } })], labels: { app: 'x' }, want: [] },
    { what: 'oldest namespace policy wins', pas: [pa('a', 'b-new', { mtls: { mode: 'PERMISSIVE' } }, young), pa('a', 'a-old', { mtls: { mode: 'STRICT' } }, old)], want: [STATIC] },
    { what: 'oldest workload policy wins', pas: [pa('a', 'w1', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'STRICT' } }, young), pa('a', 'w2', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'PERMISSIVE' } }, old)], labels: { app: 'x' }, want: [] },
    { what: 'root-namespace selector policy ignored', pas: [pa('istio-system', 'w', { selector: { matchLabels: { app: 'x' } }, mtls: { mode: 'STRICT' } })], labels: { app: 'x' }, want: [] },
    { what: 'no mtls block = UNSET', pas: [pa('a', 'n', {})], want: [] },
  ];
  for (const c of cases) {
    const r = run(c.pas);
    t.same(r.problems, [], c.what);
    t.same(r.forPod(c.ns ?? 'a', c.labels ?? {}), c.want, c.what);
  }
});

t.test('port-level mTLS', async (t) => {
  const sel = { matchLabels: { app: 'x' } };
  const strictExcept = run([pa('a', 'w', { selector: sel, mtls: { mode: 'STRICT' }, portLevelMtls: { 9090: { mode: 'PERMISSIVE' }, '8080': { mode: 'STRICT' } } })]);
  t.same(strictExcept.forPod('a', { app: 'x' }), ['a/converted_peer_authentication_w']);
  t.same(strictExcept.authorizations.get('a/converted_peer_authentication_w'), {
    name: 'converted_peer_authentication_w', namespace: 'a', scope: 'WORKLOAD_SELECTOR', action: 'DENY',
    rules: [{ clauses: [{ matches: [{ notPrincipals: [{ presence: true }], notDestinationPorts: [9090] }] }] }], dryRun: false,
  }, 'STRICT except 9090: deny plaintext unless port 9090');
  const permissiveExcept = run([pa('a', 'w', { selector: sel, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 8443: { mode: 'STRICT' }, 8080: { mode: 'STRICT' } } })]);
  t.same(permissiveExcept.authorizations.get('a/converted_peer_authentication_w')?.rules, [{ clauses: [{ matches: [{ notPrincipals: [{ presence: true }], destinationPorts: [8080, 8443] }] }] }]);
  const inherits = run([pa('a', 'n', { mtls: { mode: 'STRICT' } }), pa('a', 'w', { selector: sel, portLevelMtls: { 80: { mode: 'DISABLE' } } })]);
  t.same(inherits.authorizations.get('a/converted_peer_authentication_w')?.rules?.[0]?.clauses[0]?.matches[0]?.notDestinationPorts, [80], 'UNSET workload mode inherits STRICT');
  const allStrict = run([pa('a', 'w', { selector: sel, mtls: { mode: 'STRICT' }, portLevelMtls: { 80: { mode: 'STRICT' } } })]);
  t.same(allStrict.forPod('a', { app: 'x' }), [STATIC], 'nothing exempt: the static policy');
  t.equal(allStrict.authorizations.size, 1);
  const nothingStrict = run([pa('a', 'w', { selector: sel, mtls: { mode: 'PERMISSIVE' }, portLevelMtls: { 80: { mode: 'DISABLE' } } })]);
  t.same(nothingStrict.forPod('a', { app: 'x' }), []);
  const nsLevel = run([pa('a', 'n', { mtls: { mode: 'STRICT' }, portLevelMtls: { 80: { mode: 'DISABLE' } } })]);
  t.same(nsLevel.forPod('a', {}), [STATIC], 'port-level on a namespace policy is ignored');
  t.match(nsLevel.status.get('PeerAuthentication/a/n'), { conditions: [{ type: 'ZtunnelAccepted', status: 'False', reason: 'UnsupportedValue' }] });
});

t.test('bad PeerAuthentications are skipped with a problem', async (t) => {
  const cases: Array<[string, unknown, string]> = [
    ['unknown mode', pa('a', 'p', { mtls: { mode: 'STRICTER' } }), 'spec.mtls.mode'],
    ['bad port key', pa('a', 'p', { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { http: { mode: 'STRICT' } } }), 'spec.portLevelMtls[http]'],
    ['bad port mode', pa('a', 'p', { selector: { matchLabels: { a: 'b' } }, portLevelMtls: { 80: { mode: 'x' } } }), 'spec.portLevelMtls[80].mode'],
    ['bad selector', pa('a', 'p', { selector: { matchLabels: ['a'] } }), 'spec.selector.matchLabels'],
  ];
  for (const [what, obj, field] of cases) {
    const r = run([obj, pa('b', 'fine', { mtls: { mode: 'STRICT' } })]);
    t.match(r.problems, [{ object: 'PeerAuthentication a/p', field }], what);
    t.same(r.forPod('a', { a: 'b' }), [], `${what}: skipped`);
    t.same(r.forPod('b', {}), [STATIC], `${what}: others still flow`);
  }
});
