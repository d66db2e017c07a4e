/**
 * L7 AuthorizationPolicy at the waypoint (policies attached with targetRefs), per request:
 * AUDIT policies that match are recorded; any matching DENY denies; then, if any ALLOW policy
 * applies, one must match; otherwise the request is allowed. Dry-run policies
 * (`istio.io/dry-run`) are evaluated and reported, never enforced. A denied request gets 403 with
 * the body `RBAC: access denied` (DENIED_BODY).
 *
 * Matching, as Istio's: a policy matches when any rule does (no rules: never); a rule when its
 * from (any source), to (any operation) and when (every condition) all hold, an empty list
 * holding; within a source or operation every field set must hold, a field holding when any of
 * its values matches and none of its `not_` values does. An attribute the request lacks (no peer
 * identity, no such header) matches no value, so `not_` lists pass it. Pure.
 */
import ipaddr from 'ipaddr.js';
import { Condition_Attribute, L7Authorization_Action, type Cidr, type Condition, type L7Authorization, type Operation, type Rule, type Source } from '../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import type { StringMatch } from '../../lib/proto/gen/ambit/l7/v1/common_pb.js';
import { headerValue, namespaceOf, pathOnly, principalOf, type L7Request } from './l7-request.js';

export type { L7Request } from './l7-request.js';

export const DENIED_STATUS = 403;
export const DENIED_BODY = 'RBAC: access denied';

export interface DryRunResult {
  policy: string;
  action: 'ALLOW' | 'DENY' | 'AUDIT';
  matched: boolean;
}

export interface L7Decision {
  allow: boolean;
  /** `<ns>/<name>` of the policy that decided (the matching DENY or ALLOW), if one did. */
  policy?: string;
  /** AUDIT policies that matched: mark the access log entry. */
  audited: string[];
  /** Dry-run policies that applied, and whether they matched: log these, never enforce. */
  dryRun: DryRunResult[];
  /** One line for the access log. */
  reason: string;
}

/** The request's attributes, read once per decision. */
interface Facts {
  method: string;
  path: string;
  /** Lower-case host, and (when it carries a port) the host without it. */
  hosts: string[];
  port: number;
  ip: ipaddr.IPv4 | ipaddr.IPv6 | undefined;
  principal: string | undefined;
  namespace: string | undefined;
  req: L7Request;
}

const PORT_SUFFIX = /^(.*):(\d+)$/;

function facts(req: L7Request): Facts {
  const host = req.host.toLowerCase();
  const hosts = [host];
  const m = PORT_SUFFIX.exec(host);
  if (m?.[1] && (!m[1].includes(':') || m[1].endsWith(']'))) hosts.push(m[1]);
  // process() turns v4-mapped v6 (as dual-stack sockets report them) into v4, so v4 CIDRs match.
  const ip = ipaddr.isValid(req.sourceIp) ? ipaddr.process(req.sourceIp) : undefined;
  return { method: req.method.toUpperCase(), path: pathOnly(req.path), hosts, port: req.port, ip, principal: principalOf(req), namespace: namespaceOf(req), req };
}

export function stringMatches(m: StringMatch, s: string | undefined, ignoreCase = false): boolean {
  if (s === undefined) return false;
  const t = m.matchType;
  const v = ignoreCase && typeof t.value === 'string' ? t.value.toLowerCase() : t.value;
  switch (t.case) {
    case 'exact':
      return s === v;
    case 'prefix':
      return s.startsWith(v as string);
    case 'suffix':
      return s.endsWith(v as string);
    case 'presence':
      return s !== '';
    default:
      return false;
  }
}

const parsed = new WeakMap<Cidr, { range: ipaddr.IPv4 | ipaddr.IPv6; bits: number } | null>();

function cidrOf(c: Cidr): { range: ipaddr.IPv4 | ipaddr.IPv6; bits: number } | null {
  let p = parsed.get(c);
  if (p === undefined) {
    const ok = (c.address.length === 4 && c.length <= 32) || (c.address.length === 16 && c.length <= 128);
    p = ok ? { range: ipaddr.fromByteArray(Array.from(c.address)), bits: c.length } : null;
    parsed.set(c, p);
  }
  return p;
}

function inCidr(c: Cidr, ip: Facts['ip']): boolean {
  const p = cidrOf(c);
  return !!p && !!ip && p.range.kind() === ip.kind() && ip.match(p.range, p.bits);
}

/** Positive values: none given or any matches; negative values: none matches. */
function field<T>(pos: readonly T[], neg: readonly T[], pred: (v: T) => boolean): boolean {
  return (pos.length === 0 || pos.some(pred)) && !neg.some(pred);
}

function sourceMatches(s: Source, f: Facts): boolean {
  return (
    field(s.principals, s.notPrincipals, (m) => stringMatches(m, f.principal)) &&
    field(s.namespaces, s.notNamespaces, (m) => stringMatches(m, f.namespace)) &&
    field(s.ipBlocks, s.notIpBlocks, (c) => inCidr(c, f.ip))
  );
}

function operationMatches(o: Operation, f: Facts): boolean {
  return (
    field(o.hosts, o.notHosts, (m) => f.hosts.some((h) => stringMatches(m, h, true))) &&
    field(o.ports, o.notPorts, (p) => p === f.port) &&
    field(o.methods, o.notMethods, (m) => m.toUpperCase() === f.method) &&
    field(o.paths, o.notPaths, (m) => stringMatches(m, f.path))
  );
}

function conditionHolds(c: Condition, f: Facts): boolean {
  let value: string | undefined;
  switch (c.attribute) {
    case Condition_Attribute.REQUEST_HEADER:
      value = headerValue(f.req, c.header.toLowerCase());
      break;
    case Condition_Attribute.SOURCE_NAMESPACE:
      value = f.namespace;
      break;
    case Condition_Attribute.SOURCE_PRINCIPAL:
      value = f.principal;
      break;
    default:
      // An attribute this waypoint does not know: the condition cannot be shown to hold.
      return false;
  }
  return field(c.values, c.notValues, (m) => stringMatches(m, value));
}

function ruleMatches(r: Rule, f: Facts): boolean {
  return (
    (r.from.length === 0 || r.from.some((s) => sourceMatches(s, f))) &&
    (r.to.length === 0 || r.to.some((o) => operationMatches(o, f))) &&
    r.when.every((c) => conditionHolds(c, f))
  );
}

function policyMatches(p: L7Authorization, f: Facts): boolean {
  return p.rules.some((r) => ruleMatches(r, f));
}

const key = (p: L7Authorization): string => `${p.namespace}/${p.name}`;
const actionName = (a: L7Authorization_Action): DryRunResult['action'] => (a === L7Authorization_Action.DENY ? 'DENY' : a === L7Authorization_Action.AUDIT ? 'AUDIT' : 'ALLOW');

/** Whether `policy` matches `req`, its action aside. */
export function matchesRequest(policy: L7Authorization, req: L7Request): boolean {
  return policyMatches(policy, facts(req));
}

/**
 * Decides `req` against the policies that apply to it (already narrowed to this waypoint and the
 * request's service: see policy-targets.ts).
 */
export function evaluateL7(policies: readonly L7Authorization[], req: L7Request): L7Decision {
  const f = facts(req);
  const audited: string[] = [];
  const dryRun: DryRunResult[] = [];
  for (const p of policies) {
    if (p.action === L7Authorization_Action.AUDIT) {
      if (policyMatches(p, f)) audited.push(key(p));
    } else if (p.dryRun) {
      dryRun.push({ policy: key(p), action: actionName(p.action), matched: policyMatches(p, f) });
    }
  }
  const enforced = policies.filter((p) => !p.dryRun);
  for (const p of enforced) {
    if (p.action === L7Authorization_Action.DENY && policyMatches(p, f)) {
      return { allow: false, policy: key(p), audited, dryRun, reason: `denied by DENY policy ${key(p)}` };
    }
  }
  const allows = enforced.filter((p) => p.action === L7Authorization_Action.ALLOW);
  if (allows.length === 0) return { allow: true, audited, dryRun, reason: 'no ALLOW policy applies' };
  const hit = allows.find((p) => policyMatches(p, f));
  if (hit) return { allow: true, policy: key(hit), audited, dryRun, reason: `allowed by ALLOW policy ${key(hit)}` };
  return { allow: false, audited, dryRun, reason: `no ALLOW policy matched (${allows.map(key).join(', ')})` };
}
