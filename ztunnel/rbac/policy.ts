/**
 * `istio.security.Authorization` → a compiled policy: CIDRs parsed once, enums as names, bad
 * values rejected with the resource and field named (the xDS update is then NACKed and the last
 * good policies stay in force). Field semantics are those of
 * istio.security.Authorization (lib/proto/src/istio/security/authorization.proto).
 */
import ipaddr from 'ipaddr.js';
import {
  Action,
  Scope,
  type Address as CidrProto,
  type Authorization,
  type Match,
  type StringMatch,
} from '../../lib/proto/gen/istio/security/authorization_pb.js';

export type StringMatcher =
  | { kind: 'exact' | 'prefix' | 'suffix'; value: string }
  | { kind: 'presence' };

export interface Cidr {
  /** `10.0.0.0/8` as sent (host bits kept), for logs. */
  text: string;
  range: ipaddr.IPv4 | ipaddr.IPv6;
  bits: number;
}

export interface ServiceAccountMatcher {
  namespace: string;
  serviceAccount: string;
}

/** One Match: fields AND-ed, values of a field OR-ed, `not*`: none may match. Empty = no field set. */
export interface MatchSpec {
  namespaces: StringMatcher[];
  notNamespaces: StringMatcher[];
  serviceAccounts: ServiceAccountMatcher[];
  notServiceAccounts: ServiceAccountMatcher[];
  principals: StringMatcher[];
  notPrincipals: StringMatcher[];
  sourceIps: Cidr[];
  notSourceIps: Cidr[];
  destinationIps: Cidr[];
  notDestinationIps: Cidr[];
  destinationPorts: number[];
  notDestinationPorts: number[];
  /** True when no field is set: such a match never matches (as ztunnel does). */
  empty: boolean;
}

export type PolicyScope = 'GLOBAL' | 'NAMESPACE' | 'WORKLOAD_SELECTOR';
export type PolicyAction = 'ALLOW' | 'DENY';

export interface Policy {
  /** The xDS resource name, `<ns>/<name>`: what Workload.authorization_policies lists. */
  key: string;
  name: string;
  namespace: string;
  scope: PolicyScope;
  action: PolicyAction;
  /** rules[rule][clause][match]: any rule; all clauses of it; any match of a clause. */
  rules: MatchSpec[][][];
  dryRun: boolean;
}

export class PolicyError extends Error {
  readonly code = 'INVALID_AUTHORIZATION';
  constructor(
    readonly resource: string,
    readonly field: string,
    message: string,
  ) {
    super(`Authorization "${resource}": ${field}: ${message}`);
    this.name = 'PolicyError';
  }
}

function stringMatchers(list: readonly StringMatch[]): StringMatcher[] {
  const out: StringMatcher[] = [];
  // A StringMatch without a type carries no condition; ztunnel drops it rather than rejecting.
  for (const m of list) {
    const t = m.matchType;
    if (t.case === 'presence') out.push({ kind: 'presence' });
    else if (t.case !== undefined) out.push({ kind: t.case, value: t.value });
  }
  return out;
}

function cidr(a: CidrProto, resource: string, field: string): Cidr {
  const fail = (msg: string): never => {
    throw new PolicyError(resource, field, msg);
  };
  if (a.address.length !== 4 && a.address.length !== 16) fail(`address has ${a.address.length} bytes (expected 4 or 16)`);
  const range = ipaddr.fromByteArray([...a.address]) as ipaddr.IPv4 | ipaddr.IPv6;
  const max = range.kind() === 'ipv4' ? 32 : 128;
  if (a.length > max) fail(`prefix length ${a.length} is longer than ${max}`);
  const text = range.kind() === 'ipv6' ? (range as ipaddr.IPv6).toRFC5952String() : range.toString();
  return { text: `${text}/${a.length}`, range, bits: a.length };
}

function ports(list: readonly number[], resource: string, field: string): number[] {
  for (const [i, p] of list.entries()) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) throw new PolicyError(resource, `${field}[${i}]`, `${p} is not a port number`);
  }
  return [...list];
}

function compileMatch(m: Match, resource: string, path: string): MatchSpec {
  const cidrs = (list: readonly CidrProto[], f: string): Cidr[] => list.map((a, i) => cidr(a, resource, `${path}.${f}[${i}]`));
  const sa = (list: Match['serviceAccounts']): ServiceAccountMatcher[] => list.map((s) => ({ namespace: s.namespace, serviceAccount: s.serviceAccount }));
  const spec: MatchSpec = {
    namespaces: stringMatchers(m.namespaces),
    notNamespaces: stringMatchers(m.notNamespaces),
    serviceAccounts: sa(m.serviceAccounts),
    notServiceAccounts: sa(m.notServiceAccounts),
    principals: stringMatchers(m.principals),
    notPrincipals: stringMatchers(m.notPrincipals),
    sourceIps: cidrs(m.sourceIps, 'source_ips'),
    notSourceIps: cidrs(m.notSourceIps, 'not_source_ips'),
    destinationIps: cidrs(m.destinationIps, 'destination_ips'),
    notDestinationIps: cidrs(m.notDestinationIps, 'not_destination_ips'),
    destinationPorts: ports(m.destinationPorts, resource, `${path}.destination_ports`),
    notDestinationPorts: ports(m.notDestinationPorts, resource, `${path}.not_destination_ports`),
    empty: false,
  };
  spec.empty = Object.values(spec).every((v) => !Array.isArray(v) || v.length === 0);
  return spec;
}

/** Compiles one Authorization resource named `key` (`<ns>/<name>`); throws PolicyError on bad input. */
export function compilePolicy(key: string, a: Authorization): Policy {
  if (key === '') throw new PolicyError(key, 'name', 'resource has no name');
  const scope = Scope[a.scope] as PolicyScope | undefined;
  if (scope === undefined) throw new PolicyError(key, 'scope', `unknown scope ${a.scope}`);
  const action = Action[a.action] as PolicyAction | undefined;
  if (action === undefined) throw new PolicyError(key, 'action', `unknown action ${a.action}`);
  const rules = a.rules.map((r, i) =>
    r.clauses.map((c, j) => c.matches.map((m, k) => compileMatch(m, key, `rules[${i}].clauses[${j}].matches[${k}]`))),
  );
  return { key, name: a.name, namespace: a.namespace, scope, action, rules, dryRun: a.dryRun };
}
