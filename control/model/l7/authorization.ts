/**
 * AuthorizationPolicy with targetRefs → L7Authorization for the waypoints that enforce it.
 * Policies with a selector (or neither) stay ztunnel's (policies.ts). Attributes a waypoint cannot
 * evaluate yet (request principals, remote IPs, JWT claims) and malformed values are handled so
 * the result never admits more than written: an ALLOW rule using them is dropped, a DENY or AUDIT
 * rule loses just that condition; the `WaypointAccepted` condition says which.
 */
import { A } from '../labels.js';
import { parseCidr } from '../net.js';
import { byAge, parsePort, Problems, readMeta, type Meta } from '../objects.js';
import { stringMatch } from '../policy-rules.js';
import { HTTP_METHODS } from './defaults.js';
import { Invalid, list, oneOf, record } from './read.js';
import { ObjectReport } from './report.js';
import type { ServiceIndex } from './service-index.js';
import { hasTargetRefs, resolveTargets } from './targets.js';
import type { ConditionModel, L7AuthorizationModel, L7RuleModel, OperationModel, SourceModel, StringMatchModel } from './types.js';

const COND = 'WaypointAccepted';

/** What went wrong in one rule: unusable fields, by path. */
type Faults = Array<{ field: string; message: string }>;

function values<T>(raw: unknown, path: string, conv: (v: string) => T | undefined, faults: Faults): T[] | undefined {
  if (!Array.isArray(raw)) {
    faults.push({ field: path, message: 'must be a list of strings' });
    return undefined;
  }
  const out: T[] = [];
  for (const [i, v] of raw.entries()) {
    const c = typeof v === 'string' || typeof v === 'number' ? conv(String(v)) : undefined;
    if (c === undefined) {
      faults.push({ field: `${path}[${i}]`, message: `${JSON.stringify(v)} is not a valid value here` });
      return undefined;
    }
    out.push(c);
  }
  return out.length ? out : undefined;
}

const plain = (v: string): StringMatchModel | undefined => stringMatch(v);
const principal = (v: string): StringMatchModel | undefined => stringMatch(v, true);
const method = (v: string): string | undefined => (HTTP_METHODS.includes(v.toUpperCase()) ? v.toUpperCase() : undefined);

function source(raw: unknown, path: string, meta: Meta, trustDomain: string, faults: Faults): SourceModel {
  const r = record(raw, path);
  const out: SourceModel = {};
  const sa = (v: string): StringMatchModel | undefined => {
    const parts = v.split('/');
    const [ns, name] = parts.length === 1 ? [meta.namespace, parts[0]] : parts;
    return parts.length <= 2 && ns && name ? { exact: `${trustDomain}/ns/${ns}/sa/${name}` } : undefined;
  };
  for (const [k, v] of Object.entries(r)) {
    const p = `${path}.${k}`;
    switch (k) {
      case 'principals':
      case 'notPrincipals': {
        const vals = values(v, p, principal, faults);
        if (vals) out[k] = [...(out[k] ?? []), ...vals];
        break;
      }
      case 'serviceAccounts':
      case 'notServiceAccounts': {
        const vals = values(v, p, sa, faults);
        const field = k === 'serviceAccounts' ? 'principals' : 'notPrincipals';
        if (vals) out[field] = [...(out[field] ?? []), ...vals];
        break;
      }
      case 'namespaces':
      case 'notNamespaces': {
        const vals = values(v, p, plain, faults);
        if (vals) out[k] = vals;
        break;
      }
      case 'ipBlocks':
      case 'notIpBlocks': {
        const vals = values(v, p, parseCidr, faults);
        if (vals) out[k] = vals;
        break;
      }
      case 'requestPrincipals':
      case 'notRequestPrincipals':
      case 'remoteIpBlocks':
      case 'notRemoteIpBlocks':
        faults.push({ field: p, message: 'waypoints do not evaluate this attribute yet (no RequestAuthentication / remote address support)' });
        break;
      default:
        faults.push({ field: p, message: 'unknown field' });
    }
  }
  return out;
}

function operation(raw: unknown, path: string, faults: Faults): OperationModel {
  const r = record(raw, path);
  const out: OperationModel = {};
  for (const [k, v] of Object.entries(r)) {
    const p = `${path}.${k}`;
    switch (k) {
      case 'hosts':
      case 'notHosts':
      case 'paths':
      case 'notPaths': {
        const vals = values(v, p, plain, faults);
        if (vals) out[k] = vals;
        break;
      }
      case 'ports':
      case 'notPorts': {
        const vals = values(v, p, parsePort, faults);
        if (vals) out[k] = vals;
        break;
      }
      case 'methods':
      case 'notMethods': {
        const vals = values(v, p, method, faults);
        if (vals) out[k] = vals;
        break;
      }
      default:
        faults.push({ field: p, message: 'unknown field' });
    }
  }
  return out;
}

const HEADER_KEY = /^request\.headers\[([^\]]+)\]$/;

function condition(raw: unknown, path: string, faults: Faults): ConditionModel | undefined {
  const r = record(raw, path);
  const key = typeof r.key === 'string' ? r.key : '';
  const header = HEADER_KEY.exec(key)?.[1];
  const attribute = header ? 'REQUEST_HEADER' : key === 'source.namespace' ? 'SOURCE_NAMESPACE' : key === 'source.principal' ? 'SOURCE_PRINCIPAL' : undefined;
  if (!attribute) {
    faults.push({ field: `${path}.key`, message: key ? `waypoints do not evaluate "${key}" yet; use request.headers[<name>], source.namespace or source.principal` : 'a key is required' });
    return undefined;
  }
  const conv = attribute === 'SOURCE_PRINCIPAL' ? principal : plain;
  const vals = r.values === undefined ? undefined : values(r.values, `${path}.values`, conv, faults);
  const notVals = r.notValues === undefined ? undefined : values(r.notValues, `${path}.notValues`, conv, faults);
  if (!vals && !notVals) {
    if (r.values === undefined && r.notValues === undefined) faults.push({ field: path, message: 'values or notValues is required' });
    return undefined;
  }
  return { attribute, ...(header ? { header: header.toLowerCase() } : {}), ...(vals ? { values: vals } : {}), ...(notVals ? { notValues: notVals } : {}) };
}

function rule(raw: unknown, path: string, meta: Meta, trustDomain: string, faults: Faults): L7RuleModel {
  const r = record(raw, path);
  return {
    from: list(r.from, `${path}.from`).map((f, i) => source(record(f, `${path}.from[${i}]`).source, `${path}.from[${i}].source`, meta, trustDomain, faults)),
    to: list(r.to, `${path}.to`).map((t, i) => operation(record(t, `${path}.to[${i}]`).operation, `${path}.to[${i}].operation`, faults)),
    when: list(r.when, `${path}.when`).flatMap((w, i) => condition(w, `${path}.when[${i}]`, faults) ?? []),
  };
}

export interface AuthorizationsResult {
  authorizations: Map<string, L7AuthorizationModel>;
  reports: ObjectReport[];
}

export function compileAuthorizations(objs: readonly unknown[], index: ServiceIndex): AuthorizationsResult {
  const authorizations = new Map<string, L7AuthorizationModel>();
  const reports: ObjectReport[] = [];
  const quiet = new Problems();
  const metas = objs.flatMap((o) => {
    const meta = readMeta(o, 'AuthorizationPolicy', true, quiet);
    return meta ? [{ meta, obj: o as Record<string, unknown> }] : [];
  });
  metas.sort((a, b) => byAge(a.meta, b.meta));
  for (const { meta, obj } of metas) {
    const spec = typeof obj.spec === 'object' && obj.spec !== null ? (obj.spec as Record<string, unknown>) : {};
    let targeted: boolean;
    try {
      targeted = hasTargetRefs(spec);
    } catch {
      targeted = true;
    }
    if (!targeted) continue;
    const report = new ObjectReport('AuthorizationPolicy', meta, [{ type: COND, okReason: 'Accepted', okMessage: 'enforced by the waypoint' }]);
    reports.push(report);
    try {
      if (spec.selector !== undefined && spec.selector !== null) throw new Invalid('spec.selector', 'a policy cannot have both a selector and targetRefs; remove one');
      const action = oneOf(spec.action, 'spec.action', ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'] as const, 'ALLOW');
      if (action === 'CUSTOM') throw new Invalid('spec.action', 'CUSTOM (external authorization) is not supported by waypoints yet', 'UnsupportedValue');
      const targets = resolveTargets(spec, meta, index, report, COND);
      const rules: L7RuleModel[] = [];
      const faulty: string[] = [];
      for (const [i, r] of list(spec.rules, 'spec.rules').entries()) {
        const faults: Faults = [];
        const compiled = rule(r, `spec.rules[${i}]`, meta, index.opts.trustDomain, faults);
        for (const f of faults) report.error(COND, 'PartiallyInvalid', f.field, f.message);
        if (faults.length) faulty.push(`spec.rules[${i}]`);
        // An ALLOW rule that lost conditions would match more than written: drop it (fail closed).
        if (!faults.length || action !== 'ALLOW') rules.push(compiled);
      }
      if (faulty.length) {
        const effect = action === 'ALLOW' ? 'were dropped, so this policy allows less than written' : 'lost those conditions, so this policy matches more than written';
        report.error(COND, 'PartiallyInvalid', 'spec.rules', `${faulty.join(', ')} ${effect}`);
      }
      if (!targets.length) continue;
      authorizations.set(`${meta.namespace}/${meta.name}`, { name: meta.name, namespace: meta.namespace, targets, action, rules, dryRun: meta.annotations[A.dryRun] === 'true' });
      report.setOk(COND, 'Accepted', `enforced by waypoint${targets.length > 1 ? 's' : ''} ${targets.map((t) => t.waypoint).join(', ')}`);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      report.error(COND, err.reason ?? 'Invalid', err.field, `${err.message}; the policy is not applied`);
    }
  }
  return { authorizations, reports };
}
