/**
 * One AuthorizationPolicy rule → one ztunnel Rule. `from` becomes one clause (a match per source),
 * `to` one clause (a match per operation), each `when` one clause per polarity; clauses AND, the
 * matches of a clause OR. ztunnel sees connections, not requests: HTTP attributes (and values it
 * cannot read) are left out of the matches and reported, and the caller decides what the rule
 * becomes — an ALLOW drops it (allowing less), a DENY keeps the rest (denying more).
 */
import { parseCidr } from './net.js';
import { isRecord, parsePort } from './objects.js';
import type { CidrModel, MatchModel, RuleModel, ServiceAccountMatchModel, StringMatchModel } from './types.js';

export interface RuleIssues {
  /** HTTP-only attribute names seen, e.g. `methods`, `request.headers[x-user]`. */
  l7: string[];
  /** Values ztunnel cannot use, by field path. */
  invalid: Array<{ field: string; message: string }>;
}

type Conv<T> = (v: string) => T | undefined;

/** `*` → presence, `*x` → suffix, `x*` → prefix, else exact; principals lose a `spiffe://` prefix. */
export function stringMatch(v: string, principal = false): StringMatchModel | undefined {
  const s = principal && v.startsWith('spiffe://') ? v.slice('spiffe://'.length) : v;
  if (!s) return undefined;
  if (s === '*') return { presence: true };
  if (s.startsWith('*')) return { suffix: s.slice(1) };
  if (s.endsWith('*')) return { prefix: s.slice(0, -1) };
  return { exact: s };
}

function serviceAccount(policyNs: string): Conv<ServiceAccountMatchModel> {
  return (v) => {
    const parts = v.split('/');
    if (parts.length === 1 && parts[0]) return { namespace: policyNs, serviceAccount: parts[0] };
    if (parts.length === 2 && parts[0] && parts[1]) return { namespace: parts[0], serviceAccount: parts[1] };
    return undefined;
  };
}

const principal: Conv<StringMatchModel> = (v) => stringMatch(v, true);
const plain: Conv<StringMatchModel> = (v) => stringMatch(v);
const cidr: Conv<CidrModel> = parseCidr;
const port: Conv<number> = parsePort;

type Field = keyof MatchModel;
type Spec = { field: Field; conv: Conv<unknown> } | 'l7';

const SOURCE: Record<string, Spec | ((ns: string) => Spec)> = {
  principals: { field: 'principals', conv: principal },
  notPrincipals: { field: 'notPrincipals', conv: principal },
  namespaces: { field: 'namespaces', conv: plain },
  notNamespaces: { field: 'notNamespaces', conv: plain },
  ipBlocks: { field: 'sourceIps', conv: cidr },
  notIpBlocks: { field: 'notSourceIps', conv: cidr },
  serviceAccounts: (ns) => ({ field: 'serviceAccounts', conv: serviceAccount(ns) }),
  notServiceAccounts: (ns) => ({ field: 'notServiceAccounts', conv: serviceAccount(ns) }),
  requestPrincipals: 'l7',
  notRequestPrincipals: 'l7',
  remoteIpBlocks: 'l7',
  notRemoteIpBlocks: 'l7',
};

const OPERATION: Record<string, Spec> = {
  ports: { field: 'destinationPorts', conv: port },
  notPorts: { field: 'notDestinationPorts', conv: port },
  hosts: 'l7',
  notHosts: 'l7',
  methods: 'l7',
  notMethods: 'l7',
  paths: 'l7',
  notPaths: 'l7',
};

/** `when` keys ztunnel can check: [field for values, field for notValues, converter]. */
const WHEN_L4: Record<string, [Field, Field, Conv<unknown>]> = {
  'source.ip': ['sourceIps', 'notSourceIps', cidr],
  'source.namespace': ['namespaces', 'notNamespaces', plain],
  'source.principal': ['principals', 'notPrincipals', principal],
  'destination.ip': ['destinationIps', 'notDestinationIps', cidr],
  'destination.port': ['destinationPorts', 'notDestinationPorts', port],
};

const WHEN_L7_EXACT = new Set(['request.auth.principal', 'request.auth.audiences', 'request.auth.presenter', 'remote.ip', 'connection.sni', 'source.user']);
const WHEN_L7_PREFIX = ['request.headers[', 'request.auth.claims[', 'experimental.envoy.filters.'];

function isL7Key(key: string): boolean {
  return WHEN_L7_EXACT.has(key) || WHEN_L7_PREFIX.some((p) => key.startsWith(p));
}

/** Converts a list of strings; any bad entry makes the whole field unusable. */
function values<T>(raw: unknown, conv: Conv<T>, path: string, issues: RuleIssues): T[] | undefined {
  if (!Array.isArray(raw)) {
    issues.invalid.push({ field: path, message: 'must be a list of strings' });
    return undefined;
  }
  const out: T[] = [];
  for (const [i, v] of raw.entries()) {
    const c = typeof v === 'string' || typeof v === 'number' ? conv(String(v)) : undefined;
    if (c === undefined) {
      issues.invalid.push({ field: `${path}[${i}]`, message: `${JSON.stringify(v)} is not a valid value here` });
      return undefined;
    }
    out.push(c);
  }
  return out;
}

function set(m: MatchModel, field: Field, vals: unknown[]): void {
  if (vals.length === 0) return;
  const prev = (m[field] ?? []) as unknown[];
  (m as Record<Field, unknown[]>)[field] = [...prev, ...vals];
}

function convertMatch(obj: unknown, table: Record<string, Spec | ((ns: string) => Spec)>, path: string, ns: string, issues: RuleIssues): MatchModel {
  const m: MatchModel = {};
  if (obj === undefined || obj === null) return m;
  if (!isRecord(obj)) {
    issues.invalid.push({ field: path, message: 'must be an object' });
    return m;
  }
  for (const [k, raw] of Object.entries(obj)) {
    const entry = table[k];
    const spec = typeof entry === 'function' ? entry(ns) : entry;
    if (spec === undefined) issues.invalid.push({ field: `${path}.${k}`, message: 'unknown field' });
    else if (spec === 'l7') issues.l7.push(k);
    else {
      const vals = values(raw, spec.conv, `${path}.${k}`, issues);
      if (vals) set(m, spec.field, vals);
    }
  }
  return m;
}

function listOf(raw: unknown, path: string, issues: RuleIssues): unknown[] {
  if (raw === undefined || raw === null) return [];
  if (Array.isArray(raw)) return raw;
  issues.invalid.push({ field: path, message: 'must be a list' });
  return [];
}

function whenClauses(raw: unknown, path: string, issues: RuleIssues): Array<{ matches: MatchModel[] }> {
  const out: Array<{ matches: MatchModel[] }> = [];
  for (const [i, w] of listOf(raw, path, issues).entries()) {
    const p = `${path}[${i}]`;
    if (!isRecord(w) || typeof w.key !== 'string') {
      issues.invalid.push({ field: `${p}.key`, message: 'a key is required' });
      continue;
    }
    const l4 = WHEN_L4[w.key];
    if (!l4) {
      if (isL7Key(w.key)) issues.l7.push(w.key);
      else issues.invalid.push({ field: `${p}.key`, message: `unknown condition key "${w.key}"` });
      continue;
    }
    const count = (v: unknown): number => (Array.isArray(v) ? v.length : v === undefined || v === null ? 0 : 1);
    if (count(w.values) + count(w.notValues) === 0) {
      issues.invalid.push({ field: p, message: 'values or notValues is required' });
      continue;
    }
    const [pos, neg, conv] = l4;
    for (const [field, key] of [[pos, 'values'], [neg, 'notValues']] as const) {
      if (w[key] === undefined) continue;
      const vals = values(w[key], conv, `${p}.${key}`, issues);
      if (vals && vals.length > 0) out.push({ matches: [{ [field]: vals }] });
    }
  }
  return out;
}

/** The L4 part of a rule, with what had to be left out recorded in `issues`. */
export function convertRule(rule: unknown, path: string, policyNs: string, issues: RuleIssues): RuleModel {
  const clauses: RuleModel['clauses'] = [];
  if (!isRecord(rule)) {
    issues.invalid.push({ field: path, message: 'must be an object' });
    return { clauses };
  }
  for (const [key, sub, table] of [['from', 'source', SOURCE], ['to', 'operation', OPERATION]] as const) {
    const entries = listOf(rule[key], `${path}.${key}`, issues);
    if (entries.length === 0) continue;
    const matches = entries.map((e, j) => {
      const p = `${path}.${key}[${j}]`;
      if (!isRecord(e)) {
        issues.invalid.push({ field: p, message: 'must be an object' });
        return {};
      }
      return convertMatch(e[sub], table, `${p}.${sub}`, policyNs, issues);
    });
    clauses.push({ matches });
  }
  clauses.push(...whenClauses(rule.when, `${path}.when`, issues));
  return { clauses };
}
