/**
 * Gateway API HTTPRoute and GRPCRoute with a Service parent (GAMMA) → routes for that service's
 * waypoint. Each (rule, match) becomes one route so that all routes of a service can be ordered
 * by Gateway API precedence (route-order.ts). A malformed route is skipped (`Accepted=False`); a
 * backend that does not resolve keeps the route and answers 500 for its share of the traffic
 * (`ResolvedRefs=False`), as Gateway API requires.
 */
import { byAge, Problems, readMeta, type Meta } from '../objects.js';
import { DEFAULT_RETRY, GATEWAY_RETRY_ON, HEADER_NAME, HTTP_METHODS, REDIRECT_CODES } from './defaults.js';
import { Invalid, list, oneOf, optDuration, optInt, optRecord, optString, record, requiredString } from './read.js';
import { regexProblem } from '../../../lib/regex/re2.js';
import { ObjectReport } from './report.js';
import type { OrderKey } from './route-order.js';
import { serviceNamed, type ServiceIndex, type ServiceInfo } from './service-index.js';
import type { DestinationModel, HeaderMatchModel, HeaderMutationModel, ParentRefModel, PathMatchModel, QueryParamMatchModel, RedirectModel, RewriteModel, RouteMatchModel, RouteModel } from './types.js';

export type GatewayRouteKind = 'HTTPRoute' | 'GRPCRoute';

/** One route for one service, with what orders it among the others. */
export interface RouteCandidate {
  service: ServiceInfo;
  route: RouteModel;
  order: OrderKey;
}

const ACCEPTED = 'Accepted';
const RESOLVED = 'ResolvedRefs';
const GATEWAY_GROUP = 'gateway.networking.k8s.io';

function conditionSpecs() {
  return [
    { type: ACCEPTED, okReason: 'Accepted', okMessage: 'accepted by the Ambit waypoint compiler' },
    { type: RESOLVED, okReason: 'ResolvedRefs', okMessage: 'all references resolved' },
  ];
}

interface Ctx {
  kind: GatewayRouteKind;
  meta: Meta;
  index: ServiceIndex;
  report: ObjectReport;
}

function checkRegex(pattern: string, path: string): string {
  const p = regexProblem(pattern);
  if (p) throw new Invalid(path, p, 'UnsupportedValue');
  return pattern;
}

function headerName(v: unknown, path: string): string {
  const name = requiredString(v, path);
  if (!HEADER_NAME.test(name)) throw new Invalid(path, `"${name}" is not a valid header name`);
  return name.toLowerCase();
}

function pathValue(v: unknown, path: string, dflt?: string): string {
  const s = optString(v, path) ?? dflt;
  if (s === undefined || !s.startsWith('/')) throw new Invalid(path, `must be a path starting with "/", got ${JSON.stringify(v)}`);
  return s;
}

function httpPath(raw: unknown, path: string): PathMatchModel | undefined {
  const p = optRecord(raw, path);
  if (!p) return undefined;
  const type = oneOf(p.type, `${path}.type`, ['Exact', 'PathPrefix', 'RegularExpression'] as const, 'PathPrefix');
  if (type === 'RegularExpression') return { regex: checkRegex(requiredString(p.value, `${path}.value`), `${path}.value`) };
  const value = pathValue(p.value, `${path}.value`, '/');
  if (type === 'Exact') return { exact: value };
  // Gateway API: a trailing slash does not change a path prefix.
  return { prefix: value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value };
}

function headerMatches(raw: unknown, path: string): HeaderMatchModel[] | undefined {
  const out: HeaderMatchModel[] = [];
  for (const [i, h] of list(raw, path).entries()) {
    const p = `${path}[${i}]`;
    const r = record(h, p);
    const name = headerName(r.name, `${p}.name`);
    const type = oneOf(r.type, `${p}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
    const value = optString(r.value, `${p}.value`) ?? '';
    out.push(type === 'Exact' ? { name, exact: value } : { name, regex: checkRegex(value, `${p}.value`) });
  }
  return out.length ? out : undefined;
}

function queryMatches(raw: unknown, path: string): QueryParamMatchModel[] | undefined {
  const out: QueryParamMatchModel[] = [];
  for (const [i, q] of list(raw, path).entries()) {
    const p = `${path}[${i}]`;
    const r = record(q, p);
    const name = requiredString(r.name, `${p}.name`);
    const type = oneOf(r.type, `${p}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
    const value = optString(r.value, `${p}.value`) ?? '';
    out.push(type === 'Exact' ? { name, exact: value } : { name, regex: checkRegex(value, `${p}.value`) });
  }
  return out.length ? out : undefined;
}

function httpMatch(raw: unknown, path: string): RouteMatchModel {
  const m = record(raw, path);
  const out: RouteMatchModel = {};
  const p = httpPath(m.path, `${path}.path`);
  if (p) out.path = p;
  const headers = headerMatches(m.headers, `${path}.headers`);
  if (headers) out.headers = headers;
  const query = queryMatches(m.queryParams, `${path}.queryParams`);
  if (query) out.queryParams = query;
  if (m.method !== undefined && m.method !== null) out.method = oneOf(m.method, `${path}.method`, HTTP_METHODS);
  return out;
}

const grpcName = /^[A-Za-z0-9_.]+$/;

/** A gRPC method match is a match on the request path `/<service>/<method>`. */
function grpcMatch(raw: unknown, path: string): RouteMatchModel {
  const m = record(raw, path);
  const out: RouteMatchModel = {};
  const method = optRecord(m.method, `${path}.method`);
  if (method) {
    const mp = `${path}.method`;
    const type = oneOf(method.type, `${mp}.type`, ['Exact', 'RegularExpression'] as const, 'Exact');
    const svc = optString(method.service, `${mp}.service`) || undefined;
    const name = optString(method.method, `${mp}.method`) || undefined;
    if (type === 'Exact') {
      if (svc && !grpcName.test(svc)) throw new Invalid(`${mp}.service`, `"${svc}" is not a gRPC service name (letters, digits, '_' and '.')`);
      if (name && !grpcName.test(name)) throw new Invalid(`${mp}.method`, `"${name}" is not a gRPC method name (letters, digits, '_' and '.')`);
      if (svc && name) out.path = { exact: `/${svc}/${name}` };
      else if (svc) out.path = { plainPrefix: `/${svc}/` };
      else if (name) out.path = { regex: `/[^/]+/${name.replace(/\./g, '\\.')}` };
    } else if (svc || name) {
      if (svc) checkRegex(svc, `${mp}.service`);
      if (name) checkRegex(name, `${mp}.method`);
      out.path = { regex: `/${svc ?? '[^/]+'}/${name ?? '[^/]+'}` };
    }
  }
  const headers = headerMatches(m.headers, `${path}.headers`);
  if (headers) out.headers = headers;
  return out;
}

function headerModifier(raw: unknown, path: string): HeaderMutationModel {
  const r = record(raw, path);
  const out: HeaderMutationModel = {};
  for (const op of ['set', 'add'] as const) {
    const entries = list(r[op], `${path}.${op}`);
    if (!entries.length) continue;
    const m: Record<string, string> = {};
    for (const [i, e] of entries.entries()) {
      const er = record(e, `${path}.${op}[${i}]`);
      m[headerName(er.name, `${path}.${op}[${i}].name`)] = optString(er.value, `${path}.${op}[${i}].value`) ?? '';
    }
    out[op] = m;
  }
  const remove = list(r.remove, `${path}.remove`).map((v, i) => headerName(v, `${path}.remove[${i}]`));
  if (remove.length) out.remove = remove;
  return out;
}

function pathModifier(raw: unknown, path: string): { fullPath?: string; prefix?: string } {
  const r = optRecord(raw, path);
  if (!r) return {};
  const type = oneOf(r.type, `${path}.type`, ['ReplaceFullPath', 'ReplacePrefixMatch'] as const);
  if (type === 'ReplaceFullPath') return { fullPath: pathValue(r.replaceFullPath, `${path}.replaceFullPath`) };
  return { prefix: pathValue(r.replacePrefixMatch, `${path}.replacePrefixMatch`) };
}

function parentOf(ctx: Ctx, raw: unknown, path: string): ParentRefModel | undefined {
  const r = record(raw, path);
  const group = optString(r.group, `${path}.group`) ?? GATEWAY_GROUP;
  const kind = optString(r.kind, `${path}.kind`) ?? 'Gateway';
  // Gateway parents are north-south routes, which are another controller's to program.
  if (!(kind === 'Service' && (group === '' || group === 'core'))) return undefined;
  const name = requiredString(r.name, `${path}.name`);
  const namespace = optString(r.namespace, `${path}.namespace`) || ctx.meta.namespace;
  const port = optInt(r.port, `${path}.port`, 1, 65535);
  return { group, kind, namespace, name, ...(port ? { port } : {}) };
}

/** The backend a ref names, or a destination that answers 500 (with `ResolvedRefs=False`). */
function backend(ctx: Ctx, raw: unknown, path: string, withWeight: boolean): DestinationModel | undefined {
  const r = record(raw, path);
  const group = optString(r.group, `${path}.group`) ?? '';
  const kind = optString(r.kind, `${path}.kind`) ?? 'Service';
  const name = requiredString(r.name, `${path}.name`);
  const namespace = optString(r.namespace, `${path}.namespace`) || ctx.meta.namespace;
  const port = optInt(r.port, `${path}.port`, 1, 65535) ?? 0;
  const weight = withWeight ? (optInt(r.weight, `${path}.weight`, 0, 1_000_000) ?? 1) : 1;
  const broken = { hostname: `${name}.${namespace}.svc.${ctx.index.opts.domainSuffix}`, namespace, port, weight, failureStatus: 500 };
  if (kind !== 'Service' || (group !== '' && group !== 'core')) {
    ctx.report.error(RESOLVED, 'InvalidKind', `${path}.kind`, `backends must be core Services, got ${group ? `${group}/` : ''}${kind}; requests for this backend get 500`);
    return broken;
  }
  if (namespace !== ctx.meta.namespace) {
    ctx.report.error(RESOLVED, 'RefNotPermitted', `${path}.namespace`, `backends in another namespace (${namespace}) need a ReferenceGrant, which Ambit does not support; route to a Service in ${ctx.meta.namespace}`);
    return broken;
  }
  const svc = serviceNamed(ctx.index, namespace, name);
  if (!svc) {
    ctx.report.error(RESOLVED, 'BackendNotFound', `${path}.name`, `Service ${namespace}/${name} does not exist; create it or fix the name (requests for this backend get 500)`);
    return broken;
  }
  if (port && !svc.ports.some((p) => p.port === port)) {
    ctx.report.error(RESOLVED, 'BackendNotFound', `${path}.port`, `Service ${namespace}/${name} has no port ${port} (it has ${svc.ports.map((p) => p.port).join(', ') || 'none'})`);
    return { ...broken, hostname: svc.hostname };
  }
  const dest: DestinationModel = { hostname: svc.hostname, namespace: svc.namespace, port, weight };
  for (const [i, f] of list(r.filters, `${path}.filters`).entries()) {
    const fp = `${path}.filters[${i}]`;
    const fr = record(f, fp);
    const type = oneOf(fr.type, `${fp}.type`, ['RequestHeaderModifier', 'ResponseHeaderModifier'] as const);
    if (type === 'RequestHeaderModifier') dest.requestHeaders = headerModifier(fr.requestHeaderModifier, `${fp}.requestHeaderModifier`);
    else dest.responseHeaders = headerModifier(fr.responseHeaderModifier, `${fp}.responseHeaderModifier`);
  }
  return dest;
}

interface CompiledRule {
  matches: RouteMatchModel[];
  base: Omit<RouteModel, 'name' | 'matches'>;
}

const HTTP_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite', 'RequestMirror'] as const;
const GRPC_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror'] as const;

function compileRule(ctx: Ctx, raw: unknown, path: string): CompiledRule {
  const rule = record(raw, path);
  const http = ctx.kind === 'HTTPRoute';
  const rawMatches = list(rule.matches, `${path}.matches`);
  const matches = rawMatches.map((m, i) => (http ? httpMatch(m, `${path}.matches[${i}]`) : grpcMatch(m, `${path}.matches[${i}]`)));
  if (matches.length === 0) matches.push(http ? { path: { prefix: '/' } } : {});
  const base: Omit<RouteModel, 'name' | 'matches'> = { action: { forward: [] } };
  let redirect: RedirectModel | undefined;
  for (const [i, f] of list(rule.filters, `${path}.filters`).entries()) {
    const fp = `${path}.filters[${i}]`;
    const fr = record(f, fp);
    const supported: readonly string[] = http ? HTTP_FILTERS : GRPC_FILTERS;
    if (typeof fr.type !== 'string' || !supported.includes(fr.type)) {
      throw new Invalid(`${fp}.type`, `unsupported filter type ${JSON.stringify(fr.type)} on a ${ctx.kind}; use one of ${supported.join(', ')}`, 'UnsupportedValue');
    }
    switch (fr.type) {
      case 'RequestHeaderModifier':
        base.requestHeaders = headerModifier(fr.requestHeaderModifier, `${fp}.requestHeaderModifier`);
        break;
      case 'ResponseHeaderModifier':
        base.responseHeaders = headerModifier(fr.responseHeaderModifier, `${fp}.responseHeaderModifier`);
        break;
      case 'RequestRedirect': {
        const rp = `${fp}.requestRedirect`;
        const r = record(fr.requestRedirect, rp);
        const scheme = r.scheme === undefined || r.scheme === null ? undefined : oneOf(r.scheme, `${rp}.scheme`, ['http', 'https'] as const);
        const host = optString(r.hostname, `${rp}.hostname`);
        const port = optInt(r.port, `${rp}.port`, 1, 65535);
        const statusCode = optInt(r.statusCode, `${rp}.statusCode`, 0, 999) ?? 302;
        if (!REDIRECT_CODES.includes(statusCode)) throw new Invalid(`${rp}.statusCode`, `must be one of ${REDIRECT_CODES.join(', ')}, got ${statusCode}`);
        redirect = { statusCode, ...(scheme ? { scheme } : {}), ...(host ? { host } : {}), ...(port ? { port } : {}), ...pathModifier(r.path, `${rp}.path`) };
        break;
      }
      case 'URLRewrite': {
        const rp = `${fp}.urlRewrite`;
        const r = record(fr.urlRewrite, rp);
        const host = optString(r.hostname, `${rp}.hostname`);
        const rewrite: RewriteModel = { ...(host ? { host } : {}), ...pathModifier(r.path, `${rp}.path`) };
        base.rewrite = rewrite;
        break;
      }
      case 'RequestMirror': {
        const rp = `${fp}.requestMirror`;
        const r = record(fr.requestMirror, rp);
        const percent = optInt(r.percent, `${rp}.percent`, 0, 100);
        const fraction = optRecord(r.fraction, `${rp}.fraction`);
        if (percent !== undefined && fraction) throw new Invalid(rp, 'set percent or fraction, not both');
        let percentage = percent ?? 100;
        if (fraction) {
          const num = optInt(fraction.numerator, `${rp}.fraction.numerator`, 0, 1_000_000) ?? 0;
          const den = optInt(fraction.denominator, `${rp}.fraction.denominator`, 1, 1_000_000) ?? 100;
          if (num > den) throw new Invalid(`${rp}.fraction`, `numerator (${num}) must not exceed denominator (${den})`);
          percentage = (num / den) * 100;
        }
        const dest = backend(ctx, r.backendRef, `${rp}.backendRef`, false);
        // A mirror that does not resolve is dropped: mirroring never changes the response.
        if (dest && !dest.failureStatus) (base.mirrors ??= []).push({ destination: dest, percentage });
        break;
      }
    }
  }
  if (redirect && base.rewrite) throw new Invalid(`${path}.filters`, 'RequestRedirect and URLRewrite cannot be used in the same rule');
  const prefixReplace = redirect?.prefix !== undefined || base.rewrite?.prefix !== undefined;
  if (prefixReplace && !matches.every((m) => m.path && 'prefix' in m.path)) {
    throw new Invalid(`${path}.filters`, 'ReplacePrefixMatch needs every match of the rule to be a PathPrefix path match');
  }
  if (redirect) base.action = { redirect };
  else {
    const dests: DestinationModel[] = [];
    for (const [i, b] of list(rule.backendRefs, `${path}.backendRefs`).entries()) {
      const d = backend(ctx, b, `${path}.backendRefs[${i}]`, true);
      if (d) dests.push(d);
    }
    const live = dests.filter((d) => d.weight > 0);
    if (live.length === 0) {
      ctx.report.warn(ACCEPTED, 'Accepted', `${path}.backendRefs`, dests.length ? 'every backend has weight 0, so requests matching this rule get 500' : 'no backendRefs, so requests matching this rule get 500');
      base.action = { directResponse: { status: 500 } };
    } else base.action = { forward: live };
  }
  if (http) timeoutsAndRetry(rule, path, base);
  else base.retry = DEFAULT_RETRY;
  return { matches, base };
}

function timeoutsAndRetry(rule: Record<string, unknown>, path: string, base: Omit<RouteModel, 'name' | 'matches'>): void {
  const t = record(rule.timeouts, `${path}.timeouts`);
  const request = optDuration(t.request, `${path}.timeouts.request`);
  const backendRequest = optDuration(t.backendRequest, `${path}.timeouts.backendRequest`);
  if (request && backendRequest && backendRequest > request) {
    throw new Invalid(`${path}.timeouts.backendRequest`, `must not be longer than timeouts.request (${t.request as string})`);
  }
  const retry = optRecord(rule.retry, `${path}.retry`);
  // 0s disables a timeout.
  if (request) base.timeoutMs = request;
  if (!retry) {
    base.retry = DEFAULT_RETRY;
    if (backendRequest) base.retry = { ...DEFAULT_RETRY, perTryTimeoutMs: backendRequest };
    return;
  }
  const rp = `${path}.retry`;
  const attempts = optInt(retry.attempts, `${rp}.attempts`, 0, 1000) ?? 2;
  const codes = list(retry.codes, `${rp}.codes`).map((c, i) => optInt(c, `${rp}.codes[${i}]`, 400, 599) as number);
  const backoffMs = optDuration(retry.backoff, `${rp}.backoff`);
  if (attempts === 0) return;
  base.retry = {
    attempts,
    retryOn: [...GATEWAY_RETRY_ON, ...(codes.length ? ['retriable-status-codes'] : [])],
    ...(codes.length ? { retriableStatusCodes: codes } : {}),
    ...(backoffMs ? { backoffMs } : {}),
    ...(backendRequest ? { perTryTimeoutMs: backendRequest } : {}),
  };
}

/** The parents of a route that are Services it may attach to, with `Accepted` problems for the rest. */
function attachments(ctx: Ctx, spec: Record<string, unknown>): Array<{ parent: ParentRefModel; service: ServiceInfo }> {
  const out: Array<{ parent: ParentRefModel; service: ServiceInfo }> = [];
  for (const [i, raw] of list(spec.parentRefs, 'spec.parentRefs').entries()) {
    const path = `spec.parentRefs[${i}]`;
    const parent = parentOf(ctx, raw, path);
    if (!parent) continue;
    (ctx.report.parentRefs ??= []).push(parent);
    const svc = serviceNamed(ctx.index, parent.namespace, parent.name);
    if (!svc) {
      ctx.report.error(ACCEPTED, 'NoMatchingParent', `${path}.name`, `Service ${parent.namespace}/${parent.name} does not exist; create it or fix the parentRef`);
      continue;
    }
    const wpNs = svc.waypoint?.slice(0, svc.waypoint.indexOf('/'));
    if (ctx.meta.namespace !== svc.namespace && ctx.meta.namespace !== wpNs) {
      ctx.report.error(ACCEPTED, 'NotAllowedByListeners', `${path}.namespace`, `waypoints only honour routes in the Service's namespace (${svc.namespace}) or the waypoint's; move this ${ctx.kind} there`);
      continue;
    }
    if (parent.port && !svc.ports.some((p) => p.port === parent.port)) {
      ctx.report.error(ACCEPTED, 'NoMatchingParent', `${path}.port`, `Service ${svc.namespace}/${svc.name} has no port ${parent.port}`);
      continue;
    }
    if (!svc.waypoint) {
      ctx.report.warn(ACCEPTED, 'Accepted', path, `no waypoint serves Service ${svc.namespace}/${svc.name} yet (label it or its namespace istio.io/use-waypoint); the route takes effect once one does`);
    }
    out.push({ parent, service: svc });
  }
  return out;
}

export interface GatewayRoutesResult {
  candidates: RouteCandidate[];
  reports: ObjectReport[];
}

export function compileGatewayRoutes(kind: GatewayRouteKind, objs: readonly unknown[], index: ServiceIndex): GatewayRoutesResult {
  const candidates: RouteCandidate[] = [];
  const reports: ObjectReport[] = [];
  const metas: Array<{ meta: Meta; obj: Record<string, unknown> }> = [];
  // Unusable metadata is reported by nothing else, but has no name a status could go to either.
  const quiet = new Problems();
  for (const o of objs) {
    const meta = readMeta(o, kind, true, quiet);
    if (meta) metas.push({ meta, obj: o as Record<string, unknown> });
  }
  metas.sort((a, b) => byAge(a.meta, b.meta));
  for (const { meta, obj } of metas) {
    const report = new ObjectReport(kind, meta, conditionSpecs());
    const ctx: Ctx = { kind, meta, index, report };
    let parents: Array<{ parent: ParentRefModel; service: ServiceInfo }>;
    const mine: RouteCandidate[] = [];
    try {
      const spec = record(obj.spec, 'spec');
      parents = attachments(ctx, spec);
      // Not a mesh route (only Gateway parents): nothing of ours to report.
      if (!report.parentRefs) continue;
      const rules = list(spec.rules, 'spec.rules');
      const compiled = (rules.length ? rules : [{}]).map((r, i) => compileRule(ctx, r, `spec.rules[${i}]`));
      for (const { parent, service } of parents) {
        for (const [ri, rule] of compiled.entries()) {
          for (const [mi, match] of rule.matches.entries()) {
            const m = parent.port ? { ...match, port: parent.port } : match;
            const name = `${kind} ${meta.namespace}/${meta.name} rules[${ri}]${rule.matches.length > 1 ? `.matches[${mi}]` : ''}`;
            mine.push({ service, route: { name, matches: [m], ...rule.base }, order: { created: meta.creationTimestamp, id: `${meta.namespace}/${meta.name}`, rule: ri, match: mi } });
          }
        }
      }
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      report.error(ACCEPTED, err.reason ?? 'UnsupportedValue', err.field, `${err.message}; the route is not applied`);
      reports.push(report);
      continue;
    }
    reports.push(report);
    candidates.push(...mine);
  }
  return { candidates, reports };
}
