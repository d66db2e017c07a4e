import t from 'tap';
import type { MessageInitShape } from '@bufbuild/protobuf';
import { Condition_Attribute, L7Authorization_Action, type RuleSchema } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import { DENIED_BODY, evaluateL7, matchesRequest, type L7Request } from './authz.js';
import { policiesFor } from './policy-targets.js';
import { authorization, cidr, sms, WAYPOINT } from './testkit.js';

type RuleInit = MessageInitShape<typeof RuleSchema>;
const { ALLOW, DENY, AUDIT } = L7Authorization_Action;

const req: L7Request = {
  method: 'GET',
  path: '/api/v1/items?limit=5',
  host: 'Reviews.Default.svc.cluster.local:9080',
  port: 9080,
  headers: { 'x-user': 'alice', 'x-multi': ['a', 'b'], 'x-empty': '' },
  sourceIp: '10.244.1.5',
  principal: 'spiffe://cluster.local/ns/client-ns/sa/client-sa',
};
const anon: L7Request = { ...req, principal: undefined };
const v6: L7Request = { ...req, sourceIp: 'fd00::5' };
const mapped: L7Request = { ...req, sourceIp: '::ffff:10.244.1.5' };

const allowRule = (rule: RuleInit) => authorization({ name: 'p', action: ALLOW, rules: [rule] });

t.test('each field of a source, an operation and a condition', async (t) => {
  const rows: Array<[string, RuleInit, L7Request, boolean]> = [
    ['empty rule matches everything', {}, req, true],
    ['principal exact (no scheme)', { from: [{ principals: sms('cluster.local/ns/client-ns/sa/client-sa') }] }, req, true],
    ['principal given with spiffe:// in the request is compared without it', { from: [{ principals: sms('cluster.local/ns/client-ns/sa/client-sa') }] }, { ...req, principal: 'cluster.local/ns/client-ns/sa/client-sa' }, true],
    ['principal prefix *', { from: [{ principals: sms('cluster.local/ns/client-ns/*') }] }, req, true],
    ['principal suffix *', { from: [{ principals: sms('*/sa/client-sa') }] }, req, true],
    ['principal suffix miss', { from: [{ principals: sms('*/sa/other') }] }, req, false],
    ['principal * needs an identity', { from: [{ principals: sms('*') }] }, anon, false],
    ['principals OR-ed', { from: [{ principals: sms('x', 'cluster.local/*') }] }, req, true],
    ['not_principals hit', { from: [{ notPrincipals: sms('*/sa/client-sa') }] }, req, false],
    ['not_principals: no identity passes', { from: [{ notPrincipals: sms('*/sa/client-sa') }] }, anon, true],
    ['not_principals * = only requests without identity', { from: [{ notPrincipals: sms('*') }] }, anon, true],
    ['namespace from the principal', { from: [{ namespaces: sms('client-ns') }] }, req, true],
    ['namespace prefix', { from: [{ namespaces: sms('client-*') }] }, req, true],
    ['namespace given explicitly wins', { from: [{ namespaces: sms('given') }] }, { ...req, namespace: 'given' }, true],
    ['namespace miss', { from: [{ namespaces: sms('other') }] }, req, false],
    ['namespace without identity never matches', { from: [{ namespaces: sms('*') }] }, anon, false],
    ['not_namespaces hit', { from: [{ notNamespaces: sms('client-ns') }] }, req, false],
    ['not_namespaces miss', { from: [{ notNamespaces: sms('other') }] }, req, true],
    ['ipBlocks /24', { from: [{ ipBlocks: [cidr('10.244.1.0/24')] }] }, req, true],
    ['ipBlocks outside', { from: [{ ipBlocks: [cidr('10.244.2.0/24')] }] }, req, false],
    ['ipBlocks /32', { from: [{ ipBlocks: [cidr('10.244.1.5/32')] }] }, req, true],
    ['ipBlocks v4 against a v4-mapped v6 source', { from: [{ ipBlocks: [cidr('10.244.0.0/16')] }] }, mapped, true],
    ['ipBlocks v6', { from: [{ ipBlocks: [cidr('fd00::/64')] }] }, v6, true],
    ['ipBlocks v4 never match v6', { from: [{ ipBlocks: [cidr('0.0.0.0/0')] }] }, v6, false],
    ['not_ipBlocks hit', { from: [{ notIpBlocks: [cidr('10.0.0.0/8')] }] }, req, false],
    ['not_ipBlocks miss', { from: [{ notIpBlocks: [cidr('192.168.0.0/16')] }] }, req, true],
    ['source fields AND-ed', { from: [{ principals: sms('*'), namespaces: sms('other') }] }, req, false],
    ['sources OR-ed', { from: [{ namespaces: sms('other') }, { namespaces: sms('client-ns') }] }, req, true],
    ['method', { to: [{ methods: ['GET', 'HEAD'] }] }, req, true],
    ['method miss', { to: [{ methods: ['POST'] }] }, req, false],
    ['method of the request compared upper-case', { to: [{ methods: ['GET'] }] }, { ...req, method: 'get' }, true],
    ['not_methods hit', { to: [{ notMethods: ['GET'] }] }, req, false],
    ['path exact, query ignored', { to: [{ paths: sms('/api/v1/items') }] }, req, true],
    ['path prefix *', { to: [{ paths: sms('/api/*') }] }, req, true],
    ['path suffix *', { to: [{ paths: sms('*/items') }] }, req, true],
    ['path * (presence)', { to: [{ paths: sms('*') }] }, req, true],
    ['path is case-sensitive', { to: [{ paths: sms('/API/*') }] }, req, false],
    ['not_paths hit', { to: [{ notPaths: sms('/api/*') }] }, req, false],
    ['not_paths miss', { to: [{ notPaths: sms('/admin/*') }] }, req, true],
    ['host with port, case-insensitive', { to: [{ hosts: sms('reviews.default.svc.cluster.local:9080') }] }, req, true],
    ['host without port matches a request with a port', { to: [{ hosts: sms('reviews.default.svc.cluster.local') }] }, req, true],
    ['host with another port does not', { to: [{ hosts: sms('reviews.default.svc.cluster.local:80') }] }, req, false],
    ['host with port does not match a request without one', { to: [{ hosts: sms('reviews:9080') }] }, { ...req, host: 'reviews' }, false],
    ['host suffix *, upper-case value', { to: [{ hosts: sms('*.SVC.cluster.local') }] }, req, true],
    ['host prefix *', { to: [{ hosts: sms('reviews.*') }] }, req, true],
    ['not_hosts hit', { to: [{ notHosts: sms('reviews.default.svc.cluster.local') }] }, req, false],
    ['v6 host literal with port', { to: [{ hosts: sms('[fd00::1]') }] }, { ...req, host: '[fd00::1]:9080' }, true],
    ['port', { to: [{ ports: [80, 9080] }] }, req, true],
    ['port miss', { to: [{ ports: [80] }] }, req, false],
    ['not_ports hit', { to: [{ notPorts: [9080] }] }, req, false],
    ['operation fields AND-ed', { to: [{ methods: ['GET'], paths: sms('/admin/*') }] }, req, false],
    ['operations OR-ed', { to: [{ methods: ['POST'] }, { paths: sms('/api/*') }] }, req, true],
    ['header value', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-user', values: sms('alice') }] }, req, true],
    ['header name compared lower-case', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'X-User', values: sms('ali*') }] }, req, true],
    ['header value miss', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-user', values: sms('bob') }] }, req, false],
    ['absent header matches no value', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-none', values: sms('*') }] }, req, false],
    ['empty header is not present', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-empty', values: sms('*') }] }, req, false],
    ['repeated header joined by comma', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-multi', values: sms('a,b') }] }, req, true],
    ['header notValues hit', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-user', notValues: sms('alice') }] }, req, false],
    ['header notValues: absent header passes', { when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-none', notValues: sms('alice') }] }, req, true],
    ['source.namespace condition', { when: [{ attribute: Condition_Attribute.SOURCE_NAMESPACE, values: sms('client-ns') }] }, req, true],
    ['source.principal condition', { when: [{ attribute: Condition_Attribute.SOURCE_PRINCIPAL, values: sms('*/sa/client-sa') }] }, req, true],
    ['source.principal condition without identity', { when: [{ attribute: Condition_Attribute.SOURCE_PRINCIPAL, values: sms('*') }] }, anon, false],
    ['conditions AND-ed', { when: [{ attribute: Condition_Attribute.SOURCE_NAMESPACE, values: sms('client-ns') }, { attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-user', values: sms('bob') }] }, req, false],
    ['an unknown attribute never holds', { when: [{ attribute: 99 as Condition_Attribute, values: sms('*') }] }, req, false],
    ['from, to and when AND-ed', { from: [{ namespaces: sms('client-ns') }], to: [{ methods: ['GET'] }], when: [{ attribute: Condition_Attribute.REQUEST_HEADER, header: 'x-user', values: sms('alice') }] }, req, true],
    ['from, to and when AND-ed: one fails', { from: [{ namespaces: sms('client-ns') }], to: [{ methods: ['DELETE'] }] }, req, false],
  ];
  for (const [name, rule, r, want] of rows) t.equal(matchesRequest(allowRule(rule), r), want, name);
});

t.test('policy matching: rules OR-ed, no rules never match', async (t) => {
  t.notOk(matchesRequest(authorization({ name: 'none', action: ALLOW, rules: [] }), req), 'no rules');
  t.ok(matchesRequest(authorization({ name: 'two', action: ALLOW, rules: [{ to: [{ methods: ['POST'] }] }, { to: [{ methods: ['GET'] }] }] }), req), 'second rule matches');
  t.notOk(matchesRequest(allowRule({ from: [{ ipBlocks: [{ address: new Uint8Array([1, 2, 3]), length: 8 }] }] }), req), 'a malformed CIDR matches nothing');
});

const pol = (name: string, action: L7Authorization_Action, rules: RuleInit[], dryRun = false) => authorization({ name, action, rules, dryRun });
const getOnly = { to: [{ methods: ['GET'] }] };
const postOnly = { to: [{ methods: ['POST'] }] };

t.test('evaluation order: AUDIT recorded, DENY first, then ALLOW', async (t) => {
  const rows: Array<[string, ReturnType<typeof pol>[], boolean, string | undefined]> = [
    ['no policies: allowed', [], true, undefined],
    ['only a non-matching DENY: allowed', [pol('d', DENY, [postOnly])], true, undefined],
    ['a matching DENY denies', [pol('d', DENY, [getOnly])], false, 'default/d'],
    ['DENY wins over a matching ALLOW', [pol('a', ALLOW, [{}]), pol('d', DENY, [getOnly])], false, 'default/d'],
    ['a matching ALLOW allows', [pol('a', ALLOW, [getOnly])], true, 'default/a'],
    ['ALLOW exists, none matches: denied', [pol('a', ALLOW, [postOnly])], false, undefined],
    ['any of several ALLOWs', [pol('a1', ALLOW, [postOnly]), pol('a2', ALLOW, [getOnly])], true, 'default/a2'],
    ['ALLOW without rules allows nothing', [pol('a', ALLOW, [])], false, undefined],
    ['AUDIT does not change the decision', [pol('au', AUDIT, [{}])], true, undefined],
    ['dry-run DENY is not enforced', [pol('d', DENY, [getOnly], true)], true, undefined],
    ['dry-run ALLOW does not make ALLOWs exist', [pol('a', ALLOW, [postOnly], true)], true, undefined],
    ['dry-run ALLOW beside an enforced one is ignored', [pol('a', ALLOW, [postOnly]), pol('dry', ALLOW, [getOnly], true)], false, undefined],
  ];
  for (const [name, policies, allow, policy] of rows) {
    const d = evaluateL7(policies, req);
    t.equal(d.allow, allow, name);
    t.equal(d.policy, policy, `${name}: deciding policy`);
    t.ok(d.reason.length > 0, `${name}: a reason for the log`);
  }
});

t.test('audited and dry-run results', async (t) => {
  const d = evaluateL7([pol('au1', AUDIT, [getOnly]), pol('au2', AUDIT, [postOnly]), pol('dd', DENY, [getOnly], true), pol('da', ALLOW, [postOnly], true)], req);
  t.same(d.audited, ['default/au1'], 'only matching AUDIT policies');
  t.same(d.dryRun, [
    { policy: 'default/dd', action: 'DENY', matched: true },
    { policy: 'default/da', action: 'ALLOW', matched: false },
  ]);
  const denied = evaluateL7([pol('au', AUDIT, [{}]), pol('d', DENY, [{}])], req);
  t.same(denied.audited, ['default/au'], 'audits are recorded on denied requests too');
  t.equal(DENIED_BODY, 'RBAC: access denied');
});

t.test('policiesFor: waypoint and hostnames', async (t) => {
  const all = [
    authorization({ name: 'whole-waypoint', targets: [{ waypoint: WAYPOINT }] }),
    authorization({ name: 'reviews', targets: [{ waypoint: WAYPOINT, hostnames: ['reviews.default.svc.cluster.local'] }] }),
    authorization({ name: 'other-waypoint', targets: [{ waypoint: 'other/waypoint' }] }),
    authorization({ name: 'two-targets', targets: [{ waypoint: 'other/waypoint' }, { waypoint: WAYPOINT, hostnames: ['ratings.default.svc.cluster.local'] }] }),
  ];
  t.same(policiesFor(all, WAYPOINT, 'reviews.default.svc.cluster.local').map((p) => p.name), ['whole-waypoint', 'reviews']);
  t.same(policiesFor(all, WAYPOINT, 'ratings.default.svc.cluster.local').map((p) => p.name), ['whole-waypoint', 'two-targets']);
  t.same(policiesFor(all, 'other/waypoint', 'x').map((p) => p.name), ['other-waypoint', 'two-targets']);
  t.same(policiesFor(all, 'nobody/waypoint', 'x'), []);
});
