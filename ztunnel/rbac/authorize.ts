/**
 * Istio's L4 authorization: non-dry-run DENY policies
 * first (any match denies); then, if any non-dry-run ALLOW policy applies, one must match;
 * otherwise allowed. Dry-run policies are evaluated and reported, never enforced.
 */
import ipaddr from 'ipaddr.js';
import type { Cidr, MatchSpec, Policy, PolicyAction, ServiceAccountMatcher, StringMatcher } from './policy.js';

/** What authorization sees of a connection (the real app port, not 15008). */
export interface Connection {
  srcIp: string;
  /** The peer's SPIFFE id (`spiffe://td/ns/x/sa/y`) from its certificate; absent for plaintext. */
  srcIdentity?: string;
  dstIp: string;
  dstPort: number;
  /** For logs only: the workload the connection is for. */
  dstWorkload?: { namespace: string; name: string };
}

export type DecisionCode = 'ExplicitlyDenied' | 'Allowed' | 'NoAllowPolicies' | 'NotAllowed' | 'InvalidConnection';

export interface DryRunResult {
  policy: string;
  action: PolicyAction;
  matched: boolean;
}

export interface Decision {
  allowed: boolean;
  /** `<ns>/<name>` of the policy that decided (a matching DENY or ALLOW), if one did. */
  policy?: string;
  code: DecisionCode;
  /** One line for access logs and the 401 body. */
  reason: string;
  /** Every dry-run policy that applied, and whether it matched: log these, never enforce them. */
  dryRun: DryRunResult[];
}

/** The connection's attributes, parsed once per decision. */
interface Facts {
  src: ipaddr.IPv4 | ipaddr.IPv6;
  dst: ipaddr.IPv4 | ipaddr.IPv6;
  port: number;
  /** The identity without `spiffe://`, as Istio compares principals. */
  principal?: string;
  namespace?: string;
  serviceAccount?: string;
}

const SPIFFE = 'spiffe://';
const ISTIO_PATH = /^[^/]+\/ns\/([^/]+)\/sa\/([^/]+)$/;

function facts(conn: Connection): Facts | undefined {
  if (!ipaddr.isValid(conn.srcIp) || !ipaddr.isValid(conn.dstIp)) return undefined;
  if (!Number.isInteger(conn.dstPort) || conn.dstPort < 0 || conn.dstPort > 65535) return undefined;
  // process() turns v4-mapped v6 (as sockets report them) into v4, so v4 CIDRs match.
  const f: Facts = { src: ipaddr.process(conn.srcIp), dst: ipaddr.process(conn.dstIp), port: conn.dstPort };
  const id = conn.srcIdentity;
  if (id && id.startsWith(SPIFFE) && id.length > SPIFFE.length) {
    f.principal = id.slice(SPIFFE.length);
    const m = ISTIO_PATH.exec(f.principal);
    if (m) {
      f.namespace = m[1];
      f.serviceAccount = m[2];
    }
  }
  return f;
}

export function stringMatches(m: StringMatcher, s: string | undefined): boolean {
  // No identity never matches (so not_principals: [presence] catches plaintext).
  if (s === undefined) return false;
  switch (m.kind) {
    case 'exact':
      return s === m.value;
    case 'prefix':
      return s.startsWith(m.value);
    case 'suffix':
      return s.endsWith(m.value);
    case 'presence':
      return s !== '';
  }
}

export function cidrContains(c: Cidr, ip: ipaddr.IPv4 | ipaddr.IPv6): boolean {
  return c.range.kind() === ip.kind() && ip.match(c.range, c.bits);
}

function saMatches(m: ServiceAccountMatcher, f: Facts): boolean {
  return f.namespace === m.namespace && f.serviceAccount === m.serviceAccount;
}

/** Positive list: empty or any matches; negative list: none matches. */
function field<T>(pos: readonly T[], neg: readonly T[], pred: (v: T) => boolean): boolean {
  return (pos.length === 0 || pos.some(pred)) && !neg.some(pred);
}

function matchSpec(m: MatchSpec, f: Facts): boolean {
  if (m.empty) return false;
  return (
    field(m.destinationIps, m.notDestinationIps, (c) => cidrContains(c, f.dst)) &&
    field(m.sourceIps, m.notSourceIps, (c) => cidrContains(c, f.src)) &&
    field(m.destinationPorts, m.notDestinationPorts, (p) => p === f.port) &&
    field(m.serviceAccounts, m.notServiceAccounts, (s) => saMatches(s, f)) &&
    field(m.principals, m.notPrincipals, (s) => stringMatches(s, f.principal)) &&
    field(m.namespaces, m.notNamespaces, (s) => stringMatches(s, f.namespace))
  );
}

function policyMatchesFacts(p: Policy, f: Facts): boolean {
  // Any rule; every clause of the rule (an empty clause matches); any match of a clause.
  return p.rules.some((rule) => rule.every((clause) => clause.length === 0 || clause.some((m) => matchSpec(m, f))));
}

/** Whether `policy` matches `conn` (its action aside). Invalid connections match nothing. */
export function policyMatches(policy: Policy, conn: Connection): boolean {
  const f = facts(conn);
  return f !== undefined && policyMatchesFacts(policy, f);
}

/** Decides a connection against the policies that apply to its destination workload. */
export function authorize(conn: Connection, policies: readonly Policy[]): Decision {
  const dryRun: DryRunResult[] = [];
  const f = facts(conn);
  if (!f) {
    // Fail closed: a connection we cannot describe cannot be shown to be allowed.
    return { allowed: false, code: 'InvalidConnection', reason: `invalid connection ${conn.srcIp} -> ${conn.dstIp}:${conn.dstPort}`, dryRun };
  }
  for (const p of policies) {
    if (p.dryRun) dryRun.push({ policy: p.key, action: p.action, matched: policyMatchesFacts(p, f) });
  }
  for (const p of policies) {
    if (p.action === 'DENY' && !p.dryRun && policyMatchesFacts(p, f)) {
      return { allowed: false, policy: p.key, code: 'ExplicitlyDenied', reason: `denied by DENY policy ${p.key}`, dryRun };
    }
  }
  const allow = policies.filter((p) => p.action === 'ALLOW' && !p.dryRun);
  if (allow.length === 0) return { allowed: true, code: 'NoAllowPolicies', reason: 'no ALLOW policy applies', dryRun };
  const hit = allow.find((p) => policyMatchesFacts(p, f));
  if (hit) return { allowed: true, policy: hit.key, code: 'Allowed', reason: `allowed by ALLOW policy ${hit.key}`, dryRun };
  return {
    allowed: false,
    code: 'NotAllowed',
    reason: `no ALLOW policy matched (${allow.map((p) => p.key).join(', ')})`,
    dryRun,
  };
}

/** What enforcing the dry-run policies too would have decided; for the "dry-run" log line. */
export function dryRunVerdict(conn: Connection, policies: readonly Policy[]): Decision {
  return authorize(conn, policies.map((p) => (p.dryRun ? { ...p, dryRun: false } : p)));
}
