import t from 'tap';
import { authz, bytes, type AuthzOpts, type MatchInit } from '../state/testkit.js';
import { authorize, dryRunVerdict, policyMatches, type Connection } from './authorize.js';
import { compilePolicy, PolicyError, type Policy } from './policy.js';

function pol(name: string, o: AuthzOpts): Policy {
  const u = authz('ns', name, o);
  return compilePolicy(u.name, u.authorization);
}

/** An ALLOW policy with one rule of one clause of one match. */
const one = (m: MatchInit): Policy => pol('p', { rules: [[[m]]] });

const mtls: Connection = { srcIp: '10.244.1.5', srcIdentity: 'spiffe://cluster.local/ns/client-ns/sa/client-sa', dstIp: '10.244.2.7', dstPort: 8080 };
const plain: Connection = { srcIp: '10.244.1.5', dstIp: '10.244.2.7', dstPort: 8080 };
const v6: Connection = { srcIp: 'fd00::5', srcIdentity: mtls.srcIdentity, dstIp: 'fd00::7', dstPort: 8080 };
const mapped: Connection = { ...mtls, srcIp: '::ffff:10.244.1.5', dstIp: '::ffff:10.244.2.7' };

const exact = (value: string): { matchType: { case: 'exact'; value: string } } => ({ matchType: { case: 'exact', value } });
const prefix = (value: string): { matchType: { case: 'prefix'; value: string } } => ({ matchType: { case: 'prefix', value } });
const suffix = (value: string): { matchType: { case: 'suffix'; value: string } } => ({ matchType: { case: 'suffix', value } });
const presence = { matchType: { case: 'presence' as const, value: {} } };
const cidr = (ip: string, length: number): { address: Uint8Array; length: number } => ({ address: bytes(ip), length });

t.test('each field and its not_ form', async (t) => {
  const rows: Array<[string, MatchInit, Connection, boolean]> = [
    ['principal exact', { principals: [exact('cluster.local/ns/client-ns/sa/client-sa')] }, mtls, true],
    ['principal with spiffe:// never matches (Istio strips it)', { principals: [exact('spiffe://cluster.local/ns/client-ns/sa/client-sa')] }, mtls, false],
    ['principal prefix', { principals: [prefix('cluster.local/ns/client-ns/')] }, mtls, true],
    ['principal suffix', { principals: [suffix('/sa/client-sa')] }, mtls, true],
    ['principal suffix miss', { principals: [suffix('/sa/other')] }, mtls, false],
    ['principal presence', { principals: [presence] }, mtls, true],
    ['principal presence, plaintext', { principals: [presence] }, plain, false],
    ['principal OR within field', { principals: [exact('x'), prefix('cluster.local/')] }, mtls, true],
    ['not_principals hit', { notPrincipals: [prefix('cluster.local/ns/client-ns/')] }, mtls, false],
    ['not_principals miss', { notPrincipals: [exact('other')] }, mtls, true],
    ['not_principals presence = plaintext only (STRICT)', { notPrincipals: [presence] }, plain, true],
    ['not_principals presence, mTLS', { notPrincipals: [presence] }, mtls, false],
    ['namespace exact', { namespaces: [exact('client-ns')] }, mtls, true],
    ['namespace prefix', { namespaces: [prefix('client-')] }, mtls, true],
    ['namespace miss', { namespaces: [exact('other')] }, mtls, false],
    ['namespace, plaintext never matches', { namespaces: [presence] }, plain, false],
    ['not_namespaces hit', { notNamespaces: [exact('client-ns')] }, mtls, false],
    ['not_namespaces, plaintext passes', { notNamespaces: [exact('client-ns')] }, plain, true],
    ['service account', { serviceAccounts: [{ namespace: 'client-ns', serviceAccount: 'client-sa' }] }, mtls, true],
    ['service account other ns', { serviceAccounts: [{ namespace: 'x', serviceAccount: 'client-sa' }] }, mtls, false],
    ['service account, plaintext', { serviceAccounts: [{ namespace: 'client-ns', serviceAccount: 'client-sa' }] }, plain, false],
    ['not_service_accounts hit', { notServiceAccounts: [{ namespace: 'client-ns', serviceAccount: 'client-sa' }] }, mtls, false],
    ['source ip in /24', { sourceIps: [cidr('10.244.1.0', 24)] }, mtls, true],
    ['source ip outside', { sourceIps: [cidr('10.244.2.0', 24)] }, mtls, false],
    ['not_source_ips hit', { notSourceIps: [cidr('10.244.0.0', 16)] }, mtls, false],
    ['not_source_ips miss', { notSourceIps: [cidr('192.168.0.0', 16)] }, mtls, true],
    ['destination ip /32', { destinationIps: [cidr('10.244.2.7', 32)] }, mtls, true],
    ['destination ip /32 miss', { destinationIps: [cidr('10.244.2.8', 32)] }, mtls, false],
    ['not_destination_ips hit', { notDestinationIps: [cidr('10.244.2.7', 32)] }, mtls, false],
    ['destination port', { destinationPorts: [80, 8080] }, mtls, true],
    ['destination port miss', { destinationPorts: [80] }, mtls, false],
    ['not_destination_ports hit', { notDestinationPorts: [8080] }, mtls, false],
    ['not_destination_ports miss', { notDestinationPorts: [9090] }, mtls, true],
    ['fields AND-ed: both hold', { principals: [presence], destinationPorts: [8080] }, mtls, true],
    ['fields AND-ed: one fails', { principals: [presence], destinationPorts: [80] }, mtls, false],
    ['positive and negative of one field', { sourceIps: [cidr('10.0.0.0', 8)], notSourceIps: [cidr('10.244.1.5', 32)] }, mtls, false],
  ];
  for (const [name, m, conn, want] of rows) t.equal(policyMatches(one(m), conn), want, name);
});

t.test('CIDR edge cases', async (t) => {
  const rows: Array<[string, MatchInit, Connection, boolean]> = [
    ['/0 matches every v4', { sourceIps: [cidr('0.0.0.0', 0)] }, mtls, true],
    ['v4 /0 does not match v6', { sourceIps: [cidr('0.0.0.0', 0)] }, v6, false],
    ['v6 /0 does not match v4', { sourceIps: [cidr('::', 0)] }, mtls, false],
    ['v6 prefix', { sourceIps: [cidr('fd00::', 8)] }, v6, true],
    ['v6 /128', { destinationIps: [cidr('fd00::7', 128)] }, v6, true],
    ['host bits set in the range are ignored', { sourceIps: [cidr('10.244.1.77', 24)] }, mtls, true],
    ['v4-mapped connection matches v4 CIDR', { sourceIps: [cidr('10.244.1.0', 24)], destinationIps: [cidr('10.244.2.7', 32)] }, mapped, true],
    ['boundary: last address of /31', { sourceIps: [cidr('10.244.1.4', 31)] }, mtls, true],
    ['boundary: next /31', { sourceIps: [cidr('10.244.1.6', 31)] }, mtls, false],
    ['not_ v4 range with v6 peer: none matches → passes', { notSourceIps: [cidr('10.0.0.0', 8)] }, v6, true],
  ];
  for (const [name, m, conn, want] of rows) t.equal(policyMatches(one(m), conn), want, name);
  t.throws(() => one({ sourceIps: [cidr('10.0.0.0', 33)] }), PolicyError);
  t.throws(() => one({ sourceIps: [{ address: new Uint8Array([1, 2]), length: 8 }] }), /source_ips\[0\]: address has 2 bytes/);
  t.throws(() => one({ destinationPorts: [70000] }), /destination_ports\[0\]: 70000 is not a port/);
});

t.test('rule / clause / match structure', async (t) => {
  const port80: MatchInit = { destinationPorts: [80] };
  const port8080: MatchInit = { destinationPorts: [8080] };
  const rows: Array<[string, MatchInit[][][], boolean]> = [
    ['no rules never matches', [], false],
    ['empty rule (no clauses) matches', [[]], true],
    ['empty clause matches', [[[]]], true],
    ['empty match never matches', [[[{}]]], false],
    ['empty match beside a matching one', [[[{}, port8080]]], true],
    ['matches OR-ed within a clause', [[[port80, port8080]]], true],
    ['clauses AND-ed: one fails', [[[port8080], [port80]]], false],
    ['clauses AND-ed: all hold', [[[port8080], [{ principals: [presence] }]]], true],
    ['rules OR-ed', [[[port80]], [[port8080]]], true],
  ];
  for (const [name, rules, want] of rows) t.equal(policyMatches(pol('p', { rules }), mtls), want, name);
  t.same(one({ principals: [{ matchType: { case: undefined } }] }).rules[0]?.[0]?.[0]?.principals, [], 'a StringMatch without a type is dropped');
});

t.test('decision: DENY first, then ALLOW', async (t) => {
  const denyPort = pol('deny-8080', { action: 'DENY', rules: [[[{ destinationPorts: [8080] }]]] });
  const denyOther = pol('deny-9090', { action: 'DENY', rules: [[[{ destinationPorts: [9090] }]]] });
  const allowNs = pol('allow-client', { rules: [[[{ namespaces: [exact('client-ns')] }]]] });
  const allowOther = pol('allow-other', { rules: [[[{ namespaces: [exact('other')] }]]] });
  const allowNothing = pol('allow-nothing', {});
  const rows: Array<[string, Policy[], Connection, boolean, string | undefined, string]> = [
    ['no policies → allow', [], mtls, true, undefined, 'NoAllowPolicies'],
    ['only non-matching DENY → allow', [denyOther], mtls, true, undefined, 'NoAllowPolicies'],
    ['matching DENY wins over matching ALLOW', [allowNs, denyPort], mtls, false, 'ns/deny-8080', 'ExplicitlyDenied'],
    ['ALLOW present and matching', [allowOther, allowNs], mtls, true, 'ns/allow-client', 'Allowed'],
    ['ALLOW present, none matching → deny', [allowOther], mtls, false, undefined, 'NotAllowed'],
    ['ALLOW with no rules = deny all', [allowNothing], mtls, false, undefined, 'NotAllowed'],
    ['plaintext vs namespace ALLOW → deny', [allowNs], plain, false, undefined, 'NotAllowed'],
  ];
  for (const [name, policies, conn, allowed, policy, code] of rows) {
    const d = authorize(conn, policies);
    t.same({ allowed: d.allowed, policy: d.policy, code: d.code }, { allowed, policy, code }, name);
    t.ok(d.reason.length > 0);
  }
  t.equal(authorize({ ...mtls, srcIp: 'garbage' }, []).allowed, false, 'an undescribable connection is denied');
});

t.test('dry-run policies are evaluated and reported, never enforced', async (t) => {
  const dryDeny = pol('dry-deny', { action: 'DENY', dryRun: true, rules: [[[{ destinationPorts: [8080] }]]] });
  const dryAllow = pol('dry-allow', { dryRun: true, rules: [[[{ namespaces: [exact('other')] }]]] });
  const d = authorize(mtls, [dryDeny, dryAllow]);
  t.equal(d.allowed, true, 'matching dry-run DENY does not deny; dry-run ALLOW does not make ALLOW apply');
  t.equal(d.code, 'NoAllowPolicies');
  t.same(d.dryRun, [{ policy: 'ns/dry-deny', action: 'DENY', matched: true }, { policy: 'ns/dry-allow', action: 'ALLOW', matched: false }]);
  const would = dryRunVerdict(mtls, [dryDeny, dryAllow]);
  t.same({ allowed: would.allowed, policy: would.policy }, { allowed: false, policy: 'ns/dry-deny' }, 'what enforcing them would do');
});
