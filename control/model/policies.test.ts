import t from 'tap';
import { Problems } from './objects.js';
import { buildAuthorizationPolicies } from './policies.js';
import { convertRule, stringMatch, type RuleIssues } from './policy-rules.js';
import { ap } from './testkit.js';
import { resolveOptions, type RuleModel } from './types.js';

const opts = resolveOptions();
const presence = { presence: true as const };

function run(objs: unknown[]) {
  const problems = new Problems();
  return { ...buildAuthorizationPolicies(objs, opts, problems), problems: problems.list };
}

t.test('stringMatch', async (t) => {
  t.same(stringMatch('*'), presence);
  t.same(stringMatch('*.local'), { suffix: '.local' });
  t.same(stringMatch('cluster.local/ns/a/*'), { prefix: 'cluster.local/ns/a/' });
  t.same(stringMatch('cluster.local/ns/a/sa/b'), { exact: 'cluster.local/ns/a/sa/b' });
  t.same(stringMatch('spiffe://cluster.local/ns/a/sa/b', true), { exact: 'cluster.local/ns/a/sa/b' });
  t.equal(stringMatch(''), undefined);
});

t.test('convertRule: L4 fields', async (t) => {
  const cases: Array<{ what: string; rule: unknown; want: RuleModel }> = [
    { what: 'empty rule matches everything', rule: {}, want: { clauses: [] } },
    {
      what: 'from: every source field',
      rule: { from: [{ source: { principals: ['cluster.local/ns/a/sa/b', '*'], notPrincipals: ['*/sa/evil'], namespaces: ['a'], notNamespaces: ['b*'], ipBlocks: ['10.0.0.0/8', '1.2.3.4'], notIpBlocks: ['10.1.0.0/16'], serviceAccounts: ['x/y', 'z'], notServiceAccounts: ['q/r'] } }] },
      want: { clauses: [{ matches: [{
        principals: [{ exact: 'cluster.local/ns/a/sa/b' }, presence], notPrincipals: [{ suffix: '/sa/evil' }],
        namespaces: [{ exact: 'a' }], notNamespaces: [{ prefix: 'b' }],
        sourceIps: [{ ip: '10.0.0.0', length: 8 }, { ip: '1.2.3.4', length: 32 }], notSourceIps: [{ ip: '10.1.0.0', length: 16 }],
        serviceAccounts: [{ namespace: 'x', serviceAccount: 'y' }, { namespace: 'pol', serviceAccount: 'z' }], notServiceAccounts: [{ namespace: 'q', serviceAccount: 'r' }],
      }] }] },
    },
    { what: 'two sources OR in one clause', rule: { from: [{ source: { namespaces: ['a'] } }, { source: { namespaces: ['b'] } }] },
      want: { clauses: [{ matches: [{ namespaces: [{ exact: 'a' }] }, { namespaces: [{ exact: 'b' }] }] }] } },
    { what: 'from and to AND as clauses', rule: { from: [{ source: { namespaces: ['a'] } }], to: [{ operation: { ports: ['80', 443] } }, { operation: { notPorts: ['22'] } }] },
      want: { clauses: [{ matches: [{ namespaces: [{ exact: 'a' }] }] }, { matches: [{ destinationPorts: [80, 443] }, { notDestinationPorts: [22] }] }] } },
    {
      what: 'when conditions on L4 keys',
      rule: { when: [
        { key: 'source.ip', values: ['10.0.0.0/8'], notValues: ['10.0.0.1'] },
        { key: 'source.namespace', values: ['a'] },
        { key: 'source.principal', notValues: ['*'] },
        { key: 'destination.ip', values: ['10.96.0.1'] },
        { key: 'destination.port', values: ['8080'] },
      ] },
      want: { clauses: [
        { matches: [{ sourceIps: [{ ip: '10.0.0.0', length: 8 }] }] }, { matches: [{ notSourceIps: [{ ip: '10.0.0.1', length: 32 }] }] },
        { matches: [{ namespaces: [{ exact: 'a' }] }] },
        { matches: [{ notPrincipals: [presence] }] },
        { matches: [{ destinationIps: [{ ip: '10.96.0.1', length: 32 }] }] },
        { matches: [{ destinationPorts: [8080] }] },
      ] },
    },
    { what: 'empty value lists add nothing', rule: { from: [{ source: { principals: [] } }] }, want: { clauses: [{ matches: [{}] }] } },
  ];
  for (const c of cases) {
    const issues: RuleIssues = { l7: [], invalid: [] };
    t.same(convertRule(c.rule, 'spec.rules[0]', 'pol', issues), c.want, c.what);
    t.same(issues, { l7: [], invalid: [] }, `${c.what}: no issues`);
  }
});

t.test('convertRule: L7 and invalid values are left out and reported', async (t) => {
  const cases: Array<{ what: string; rule: unknown; want: RuleModel; l7?: string[]; invalid?: string[] }> = [
    { what: 'methods', rule: { to: [{ operation: { methods: ['GET'], ports: ['80'] } }] }, want: { clauses: [{ matches: [{ destinationPorts: [80] }] }] }, l7: ['methods'] },
    { what: 'only L7 leaves an empty match', rule: { to: [{ operation: { paths: ['/admin'] } }] }, want: { clauses: [{ matches: [{}] }] }, l7: ['paths'] },
    { what: 'requestPrincipals', rule: { from: [{ source: { requestPrincipals: ['iss/sub'], namespaces: ['a'] } }] }, want: { clauses: [{ matches: [{ namespaces: [{ exact: 'a' }] }] }] }, l7: ['requestPrincipals'] },
    { what: 'header condition', rule: { when: [{ key: 'request.headers[x-user]', values: ['a'] }, { key: 'destination.port', values: ['1'] }] }, want: { clauses: [{ matches: [{ destinationPorts: [1] }] }] }, l7: ['request.headers[x-user]'] },
    { what: 'bad CIDR', rule: { from: [{ source: { ipBlocks: ['10.0.0.0/99'], namespaces: ['a'] } }] }, want: { clauses: [{ matches: [{ namespaces: [{ exact: 'a' }] }] }] }, invalid: ['spec.rules[0].from[0].source.ipBlocks[0]'] },
    { what: 'bad port', rule: { to: [{ operation: { ports: ['http'] } }] }, want: { clauses: [{ matches: [{}] }] }, invalid: ['spec.rules[0].to[0].operation.ports[0]'] },
    { what: 'unknown field', rule: { from: [{ source: { principal: ['x'] } }] }, want: { clauses: [{ matches: [{}] }] }, invalid: ['spec.rules[0].from[0].source.principal'] },
    { what: 'unknown when key', rule: { when: [{ key: 'source.colour', values: ['red'] }] }, want: { clauses: [] }, invalid: ['spec.rules[0].when[0].key'] },
    { what: 'when without values', rule: { when: [{ key: 'source.ip' }] }, want: { clauses: [] }, invalid: ['spec.rules[0].when[0]'] },
    { what: 'when with empty values', rule: { when: [{ key: 'source.ip', values: [], notValues: [] }] }, want: { clauses: [] }, invalid: ['spec.rules[0].when[0]'] },
    { what: 'bad service account', rule: { from: [{ source: { serviceAccounts: ['a/b/c'] } }] }, want: { clauses: [{ matches: [{}] }] }, invalid: ['spec.rules[0].from[0].source.serviceAccounts[0]'] },
    { what: 'values not a list', rule: { from: [{ source: { namespaces: 'a' } }] }, want: { clauses: [{ matches: [{}] }] }, invalid: ['spec.rules[0].from[0].source.namespaces'] },
    { what: 'rule not an object', rule: 'allow', want: { clauses: [] }, invalid: ['spec.rules[0]'] },
  ];
  for (const c of cases) {
    const issues: RuleIssues = { l7: [], invalid: [] };
    t.same(convertRule(c.rule, 'spec.rules[0]', 'pol', issues), c.want, c.what);
    t.same(issues.l7, c.l7 ?? [], `${c.what}: l7`);
    t.same(issues.invalid.map((i) => i.field), c.invalid ?? [], `${c.what}: invalid`);
  }
});

t.test('policy scope, action, and what a policy with no rules means', async (t) => {
  const r = run([
    ap('a', 'ns-wide', { rules: [{}] }),
    ap('a', 'sel', { selector: { matchLabels: { app: 'x' } }, action: 'DENY', rules: [{ from: [{ source: { namespaces: ['b'] } }] }] }),
    ap('istio-system', 'global', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['1.1.1.1'] } }] }] }),
    ap('istio-system', 'root-sel', { selector: { matchLabels: { app: 'x' } } }),
    ap('a', 'empty-selector', { selector: { matchLabels: {} } }),
    ap('a', 'deny-all', {}),
    ap('a', 'waypoint-policy', { targetRefs: [{ kind: 'Gateway', name: 'waypoint' }], rules: [{}] }),
    ap('a', 'dry', { action: 'DENY', rules: [{}] }, { annotations: { 'istio.io/dry-run': 'true' } }),
  ]);
  t.same(r.problems, []);
  t.match(r.authorizations.get('a/ns-wide'), { scope: 'NAMESPACE', action: 'ALLOW', rules: [{ clauses: [] }] }, 'rules: [{}] allows all');
  t.match(r.authorizations.get('a/sel'), { scope: 'WORKLOAD_SELECTOR', action: 'DENY' });
  t.match(r.authorizations.get('istio-system/global'), { scope: 'GLOBAL', namespace: 'istio-system' });
  t.match(r.authorizations.get('istio-system/root-sel'), { scope: 'WORKLOAD_SELECTOR' });
  t.match(r.authorizations.get('a/empty-selector'), { scope: 'NAMESPACE' }, 'empty matchLabels = no selector');
  t.same(r.authorizations.get('a/deny-all')?.rules, [], 'ALLOW with no rules never matches (denies all)');
  t.notOk(r.authorizations.has('a/waypoint-policy'), 'targetRefs policies are for waypoints');
  t.equal(r.authorizations.get('a/dry')?.dryRun, true);
  t.same([...r.selectorPolicies.keys()].sort(), ['a', 'istio-system']);
  t.same(r.selectorPolicies.get('a')?.matching({ app: 'x', other: 'y' }), [{ key: 'a/sel', namespace: 'a', selector: { app: 'x' } }]);
  t.same(r.selectorPolicies.get('a')?.matching({ app: 'y' }), []);
  t.match(r.status.get('AuthorizationPolicy/a/sel'), { kind: 'AuthorizationPolicy', conditions: [{ type: 'ZtunnelAccepted', status: 'True', reason: 'Accepted' }] });
});

t.test('HTTP rules: ALLOW drops the rule, DENY keeps the rest', async (t) => {
  const rules = [{ to: [{ operation: { methods: ['GET'] } }] }, { from: [{ source: { namespaces: ['ok'] } }] }];
  const r = run([ap('a', 'allow', { rules }), ap('a', 'deny', { action: 'DENY', rules }), ap('a', 'allow-only-l7', { rules: [rules[0]] })]);
  t.same(r.problems, [], 'HTTP attributes are valid config, not problems');
  t.same(r.authorizations.get('a/allow')?.rules, [{ clauses: [{ matches: [{ namespaces: [{ exact: 'ok' }] }] }] }]);
  t.same(r.authorizations.get('a/deny')?.rules, [{ clauses: [{ matches: [{}] }] }, { clauses: [{ matches: [{ namespaces: [{ exact: 'ok' }] }] }] }]);
  t.same(r.authorizations.get('a/allow-only-l7')?.rules, [], 'nothing left: allows nothing');
  const allow = r.status.get('AuthorizationPolicy/a/allow')?.conditions[0];
  t.match(allow, { status: 'False', reason: 'UnsupportedValue', message: /HTTP attribute methods.*1 rule using them was dropped.*allows less/ });
  t.match(r.status.get('AuthorizationPolicy/a/deny')?.conditions[0]?.message, /denies more than written.*waypoint/);
});

t.test('bad values: problems, and the result never admits more', async (t) => {
  const rules = [{ from: [{ source: { ipBlocks: ['not-an-ip'] } }] }, { from: [{ source: { namespaces: ['ok'] } }] }];
  const r = run([ap('a', 'allow', { rules }), ap('a', 'deny', { action: 'DENY', rules })]);
  t.same(r.authorizations.get('a/allow')?.rules, [{ clauses: [{ matches: [{ namespaces: [{ exact: 'ok' }] }] }] }]);
  t.same(r.authorizations.get('a/deny')?.rules?.[0], { clauses: [{ matches: [{}] }] });
  t.match(r.problems, [
    { object: 'AuthorizationPolicy a/allow', field: 'spec.rules[0].from[0].source.ipBlocks[0]' },
    { object: 'AuthorizationPolicy a/deny', field: 'spec.rules[0].from[0].source.ipBlocks[0]' },
  ]);
  t.match(r.status.get('AuthorizationPolicy/a/allow')?.conditions[0], { status: 'False', reason: 'Invalid' });
});

t.test('skipped policies', async (t) => {
  const cases: Array<[string, unknown, string | undefined, string]> = [
    ['AUDIT', ap('a', 'p', { action: 'AUDIT' }), undefined, 'UnsupportedValue'],
    ['CUSTOM', ap('a', 'p', { action: 'CUSTOM', provider: { name: 'ext' } }), undefined, 'UnsupportedValue'],
    ['unknown action', ap('a', 'p', { action: 'REJECT' }), 'spec.action', 'Invalid'],
    ['bad selector', ap('a', 'p', { selector: { matchLabels: 'app=x' } }), 'spec.selector.matchLabels', 'Invalid'],
    ['rules not a list', ap('a', 'p', { rules: { from: [] } }), 'spec.rules', 'Invalid'],
  ];
  for (const [what, obj, field, reason] of cases) {
    const r = run([obj, ap('a', 'fine', {})]);
    t.same([...r.authorizations.keys()], ['a/fine'], what);
    t.same(r.problems.map((p) => p.field), field ? [field] : [], what);
    t.match(r.status.get('AuthorizationPolicy/a/p'), { conditions: [{ status: 'False', reason }] }, what);
  }
  const r = run([{ kind: 'AuthorizationPolicy', metadata: { namespace: 'a' }, spec: {} }, ap('a', 'x', {}), ap('a', 'x', { action: 'DENY' })]);
  t.match(r.problems, [{ object: 'AuthorizationPolicy a/<no name>', field: 'metadata.name' }, { object: 'AuthorizationPolicy a/x', message: /duplicate/ }]);
  t.equal(r.authorizations.get('a/x')?.action, 'ALLOW', 'first one wins');
});
