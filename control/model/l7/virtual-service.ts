/**
 * VirtualService `http` routes → routes for the services a waypoint serves. A VirtualService
 * applies to a service when one of its `hosts` covers the service's hostname, it is bound to the
 * mesh (no `gateways`, or `mesh` among them) and it lives in the service's or the waypoint's
 * namespace. Several VirtualServices for one service are concatenated oldest first, and the
 * first catch-all route ends the list. A malformed VirtualService is skipped; a destination that
 * does not resolve keeps the route and answers 503 for its share, as Istio's missing cluster does.
 */
import { byAge, Problems, readMeta, type Meta } from '../objects.js';
import { DEFAULT_RETRY, HEADER_NAME, HTTP_METHODS, RETRY_ON } from './defaults.js';
import { Invalid, list, optDuration, optInt, optNumber, optRecord, optString, record, requiredString } from './read.js';
import { regexProblem } from '../../../lib/regex/re2.js';
import { ObjectReport } from './report.js';
import { hostCovers, resolveHost, type ServiceIndex, type ServiceInfo } from './service-index.js';
import type { DestinationModel, FaultModel, HeaderMatchModel, HeaderMutationModel, QueryParamMatchModel, RetryModel, RouteMatchModel, RouteModel } from './types.js';

const COND = 'WaypointAccepted';

/** gRPC status names (Istio's `grpcStatus` is a name), by code. */
const GRPC_CODES = ['OK', 'CANCELLED', 'UNKNOWN', 'INVALID_ARGUMENT', 'DEADLINE_EXCEEDED', 'NOT_FOUND', 'ALREADY_EXISTS', 'PERMISSION_DENIED', 'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION', 'ABORTED', 'OUT_OF_RANGE', 'UNIMPLEMENTED', 'INTERNAL', 'UNAVAILABLE', 'DATA_LOSS', 'UNAUTHENTICATED'];

interface Ctx {
  meta: Meta;
  index: ServiceIndex;
  subsets: ReadonlyMap<string, ReadonlyMap<string, Record<string, string>>>;
  report: ObjectReport;
}

type Kind3 = { exact: string } | { prefix: string } | { regex: string };

function stringMatch(raw: unknown, path: string): Kind3 | undefined {
  const r = optRecord(raw, path);
  if (!r) return undefined;
  const keys = ['exact', 'prefix', 'regex'].filter((k) => r[k] !== undefined && r[k] !== null);
  if (keys.length === 0) return undefined;
  if (keys.length > 1) throw new Invalid(path, `set one of exact, prefix or regex, got ${keys.join(' and ')}`);
  const k = keys[0] as 'exact' | 'prefix' | 'regex';
  const v = optString(r[k], `${path}.${k}`) ?? '';
  if (k === 'regex') {
    const p = regexProblem(v);
    if (p) throw new Invalid(`${path}.regex`, p, 'UnsupportedValue');
  }
  return { [k]: v } as Kind3;
}

function headerMap(raw: unknown, path: string, invert: boolean): HeaderMatchModel[] {
  const r = optRecord(raw, path);
  if (!r) return [];
  return Object.entries(r).map(([name, m]) => {
    if (!HEADER_NAME.test(name)) throw new Invalid(`${path}.${name}`, `"${name}" is not a valid header name`);
    const sm = stringMatch(m, `${path}.${name}`);
    const lname = name.toLowerCase();
    return { name: lname, ...(sm ?? { present: true }), ...(invert ? { invert: true } : {}) } as HeaderMatchModel;
  });
}

function match(ctx: Ctx, raw: unknown, path: string): RouteMatchModel | undefined {
  const m = record(raw, path);
  for (const unsupported of ['ignoreUriCase', 'sourceNamespace', 'scheme', 'authority', 'statPrefix']) {
    if (m[unsupported] !== undefined && m[unsupported] !== false) {
      throw new Invalid(`${path}.${unsupported}`, 'not supported by waypoints; remove it (the route would otherwise match differently than written)', 'UnsupportedValue');
    }
  }
  const gateways = list(m.gateways, `${path}.gateways`);
  if (gateways.length && !gateways.includes('mesh')) return undefined;
  if (m.sourceLabels !== undefined) ctx.report.warn(COND, 'Accepted', `${path}.sourceLabels`, 'waypoints cannot see the client pod\'s labels; this condition is ignored');
  const out: RouteMatchModel = {};
  const uri = stringMatch(m.uri, `${path}.uri`);
  if (uri) out.path = 'prefix' in uri ? { plainPrefix: uri.prefix } : uri;
  const headers = [...headerMap(m.headers, `${path}.headers`, false), ...headerMap(m.withoutHeaders, `${path}.withoutHeaders`, true)];
  if (headers.length) out.headers = headers;
  const qp = optRecord(m.queryParams, `${path}.queryParams`);
  if (qp) {
    out.queryParams = Object.entries(qp).map(([name, q]) => ({ name, ...(stringMatch(q, `${path}.queryParams.${name}`) ?? { present: true }) }) as QueryParamMatchModel);
  }
  const method = stringMatch(m.method, `${path}.method`);
  if (method) {
    if (!('exact' in method) || !HTTP_METHODS.includes(method.exact)) throw new Invalid(`${path}.method`, `must be {exact: <METHOD>} with one of ${HTTP_METHODS.join(', ')}`);
    out.method = method.exact;
  }
  const port = optInt(m.port, `${path}.port`, 1, 65535);
  if (port) out.port = port;
  return out;
}

function mutation(raw: unknown, path: string): HeaderMutationModel | undefined {
  const r = optRecord(raw, path);
  if (!r) return undefined;
  const out: HeaderMutationModel = {};
  for (const op of ['set', 'add'] as const) {
    const m = optRecord(r[op], `${path}.${op}`);
    if (!m) continue;
    const lower: Record<string, string> = {};
    for (const [k, v] of Object.entries(m)) {
      if (!HEADER_NAME.test(k)) throw new Invalid(`${path}.${op}.${k}`, `"${k}" is not a valid header name`);
      lower[k.toLowerCase()] = optString(v, `${path}.${op}.${k}`) ?? '';
    }
    out[op] = lower;
  }
  const remove = list(r.remove, `${path}.remove`).map((v, i) => requiredString(v, `${path}.remove[${i}]`).toLowerCase());
  if (remove.length) out.remove = remove;
  return out;
}

function headers(raw: unknown, path: string): { request?: HeaderMutationModel; response?: HeaderMutationModel } {
  const r = record(raw, path);
  const request = mutation(r.request, `${path}.request`);
  const response = mutation(r.response, `${path}.response`);
  return { ...(request ? { request } : {}), ...(response ? { response } : {}) };
}

/** A destination; one that does not resolve answers 503 and is reported. */
function destination(ctx: Ctx, raw: unknown, path: string, weight: number): DestinationModel {
  const d = record(raw, path);
  const hostname = resolveHost(requiredString(d.host, `${path}.host`), ctx.meta.namespace, ctx.index.opts);
  const subset = optString(d.subset, `${path}.subset`) || undefined;
  const port = optInt(record(d.port, `${path}.port`).number, `${path}.port.number`, 1, 65535) ?? 0;
  const svc = ctx.index.byHostname.get(hostname);
  const namespace = svc?.namespace ?? '';
  const out: DestinationModel = { hostname, namespace, port, weight, ...(subset ? { subset } : {}) };
  if (!svc) {
    ctx.report.error(COND, 'PartiallyInvalid', `${path}.host`, `no Service has the hostname ${hostname}; requests for this destination get 503 until one does`);
    return { ...out, failureStatus: 503 };
  }
  if (port && !svc.ports.some((p) => p.port === port)) {
    ctx.report.error(COND, 'PartiallyInvalid', `${path}.port.number`, `Service ${svc.namespace}/${svc.name} has no port ${port}; requests for this destination get 503`);
    return { ...out, failureStatus: 503 };
  }
  if (subset) {
    const labels = ctx.subsets.get(hostname)?.get(subset);
    if (!labels) {
      ctx.report.error(COND, 'PartiallyInvalid', `${path}.subset`, `no DestinationRule defines subset "${subset}" for ${hostname}; add it to the rule's subsets (requests for this destination get 503)`);
      return { ...out, failureStatus: 503 };
    }
    out.subsetLabels = labels;
  }
  return out;
}

function percentage(raw: unknown, path: string): number | undefined {
  const r = optRecord(raw, path);
  return r ? (optNumber(r.value, `${path}.value`, 0, 100) ?? 0) : undefined;
}

function fault(raw: unknown, path: string): FaultModel | undefined {
  const f = optRecord(raw, path);
  if (!f) return undefined;
  const out: FaultModel = {};
  const share = (r: Record<string, unknown>, p: string): number =>
    // Without a percentage no request is affected (the API's documented default).
    percentage(r.percentage, `${p}.percentage`) ?? optInt(r.percent, `${p}.percent`, 0, 100) ?? 0;
  const delay = optRecord(f.delay, `${path}.delay`);
  if (delay) {
    const fixedDelayMs = optDuration(delay.fixedDelay, `${path}.delay.fixedDelay`);
    if (fixedDelayMs === undefined) throw new Invalid(`${path}.delay.fixedDelay`, 'is required (exponentialDelay is not supported)');
    out.delay = { fixedDelayMs, percentage: share(delay, `${path}.delay`) };
  }
  const abort = optRecord(f.abort, `${path}.abort`);
  if (abort) {
    const ap = `${path}.abort`;
    const pct = share(abort, ap);
    if (abort.httpStatus !== undefined && abort.grpcStatus !== undefined) throw new Invalid(ap, 'set httpStatus or grpcStatus, not both');
    if (abort.grpcStatus !== undefined) {
      const g = abort.grpcStatus;
      const code = typeof g === 'string' ? GRPC_CODES.indexOf(g) : typeof g === 'number' && Number.isInteger(g) ? g : -1;
      if (code < 0 || code > 16) throw new Invalid(`${ap}.grpcStatus`, `must be a gRPC status name such as UNAVAILABLE, got ${JSON.stringify(g)}`);
      out.abort = { grpcStatus: code, percentage: pct };
    } else {
      const httpStatus = optInt(abort.httpStatus, `${ap}.httpStatus`, 200, 599);
      if (httpStatus === undefined) throw new Invalid(`${ap}.httpStatus`, 'httpStatus or grpcStatus is required');
      out.abort = { httpStatus, percentage: pct };
    }
  }
  return out.delay || out.abort ? out : undefined;
}

function retries(raw: unknown, path: string): RetryModel | undefined {
  const r = optRecord(raw, path);
  if (!r) return DEFAULT_RETRY;
  const attempts = optInt(r.attempts, `${path}.attempts`, 0, 1000) ?? 0;
  const perTryTimeoutMs = optDuration(r.perTryTimeout, `${path}.perTryTimeout`);
  const backoffMs = optDuration(r.backoff, `${path}.backoff`);
  const retryOnRaw = optString(r.retryOn, `${path}.retryOn`);
  // attempts 0 (or unset, which is the same in Istio's API) disables retries.
  if (attempts === 0) return undefined;
  let retryOn = DEFAULT_RETRY.retryOn;
  const codes: number[] = [];
  if (retryOnRaw) {
    retryOn = [];
    for (const part of retryOnRaw.split(',').map((s) => s.trim()).filter(Boolean)) {
      if (/^\d+$/.test(part)) {
        const n = Number(part);
        if (n < 100 || n > 599) throw new Invalid(`${path}.retryOn`, `status code ${part} is not between 100 and 599`);
        codes.push(n);
      } else if (RETRY_ON.includes(part)) retryOn.push(part);
      else throw new Invalid(`${path}.retryOn`, `unknown retry condition "${part}"; use status codes or ${RETRY_ON.join(', ')}`);
    }
    if (codes.length && !retryOn.includes('retriable-status-codes')) retryOn.push('retriable-status-codes');
  }
  return {
    attempts,
    retryOn,
    ...(codes.length ? { retriableStatusCodes: codes } : {}),
    ...(perTryTimeoutMs ? { perTryTimeoutMs } : {}),
    ...(backoffMs ? { backoffMs } : {}),
  };
}

function httpRoute(ctx: Ctx, raw: unknown, path: string): RouteModel | undefined {
  const h = record(raw, path);
  if (h.delegate !== undefined) throw new Invalid(`${path}.delegate`, 'delegation is not supported by waypoints; put the routes in this VirtualService', 'UnsupportedValue');
  if (h.corsPolicy !== undefined) ctx.report.warn(COND, 'Accepted', `${path}.corsPolicy`, 'CORS is not supported by waypoints yet; ignored');
  const rawMatches = list(h.match, `${path}.match`);
  const matches: RouteMatchModel[] = [];
  for (const [i, m] of rawMatches.entries()) {
    const mm = match(ctx, m, `${path}.match[${i}]`);
    if (mm) matches.push(mm);
  }
  // Every match was for gateways other than the mesh.
  if (rawMatches.length && !matches.length) return undefined;
  const name = `VirtualService ${ctx.meta.namespace}/${ctx.meta.name} ${typeof h.name === 'string' && h.name ? h.name : path.replace(/^spec\./, '')}`;
  const hdrs = headers(h.headers, `${path}.headers`);
  const route: RouteModel = { name, matches, action: { forward: [] } };
  if (hdrs.request) route.requestHeaders = hdrs.request;
  if (hdrs.response) route.responseHeaders = hdrs.response;
  const actions = ['route', 'redirect', 'directResponse'].filter((k) => h[k] !== undefined && h[k] !== null);
  if (actions.length !== 1) throw new Invalid(path, actions.length ? `set one of route, redirect or directResponse, got ${actions.join(' and ')}` : 'needs a route, a redirect or a directResponse');
  if (h.redirect !== undefined) {
    const r = record(h.redirect, `${path}.redirect`);
    const rp = `${path}.redirect`;
    const uri = optString(r.uri, `${rp}.uri`);
    const host = optString(r.authority, `${rp}.authority`);
    const scheme = optString(r.scheme, `${rp}.scheme`);
    const port = optInt(r.port, `${rp}.port`, 1, 65535);
    // Istio's default redirect code is 301.
    const statusCode = optInt(r.redirectCode, `${rp}.redirectCode`, 300, 399) ?? 301;
    route.action = { redirect: { statusCode, ...(uri ? { fullPath: uri } : {}), ...(host ? { host } : {}), ...(scheme ? { scheme } : {}), ...(port ? { port } : {}) } };
  } else if (h.directResponse !== undefined) {
    const d = record(h.directResponse, `${path}.directResponse`);
    const status = optInt(d.status, `${path}.directResponse.status`, 200, 599);
    if (status === undefined) throw new Invalid(`${path}.directResponse.status`, 'is required');
    const body = optString(record(d.body, `${path}.directResponse.body`).string, `${path}.directResponse.body.string`);
    route.action = { directResponse: { status, ...(body ? { body } : {}) } };
  } else {
    const dests = list(h.route, `${path}.route`);
    if (!dests.length) throw new Invalid(`${path}.route`, 'needs at least one destination');
    const weights = dests.map((d, i) => optInt(record(d, `${path}.route[${i}]`).weight, `${path}.route[${i}].weight`, 0, 1_000_000) ?? 0);
    // One destination takes all the traffic whatever its weight; several split by weight.
    if (dests.length > 1 && weights.every((w) => w === 0)) throw new Invalid(`${path}.route`, 'the weights are all 0; give at least one destination a positive weight');
    const forward: DestinationModel[] = [];
    for (const [i, d] of dests.entries()) {
      const w = dests.length === 1 ? 100 : (weights[i] ?? 0);
      const dest = destination(ctx, record(d, `${path}.route[${i}]`).destination, `${path}.route[${i}].destination`, w);
      const dh = headers(record(d, `${path}.route[${i}]`).headers, `${path}.route[${i}].headers`);
      if (dh.request) dest.requestHeaders = dh.request;
      if (dh.response) dest.responseHeaders = dh.response;
      if (w > 0) forward.push(dest);
    }
    route.action = { forward };
  }
  const rw = optRecord(h.rewrite, `${path}.rewrite`);
  if (rw) {
    if (rw.uriRegexRewrite !== undefined) throw new Invalid(`${path}.rewrite.uriRegexRewrite`, 'not supported by waypoints yet', 'UnsupportedValue');
    const uri = optString(rw.uri, `${path}.rewrite.uri`);
    const host = optString(rw.authority, `${path}.rewrite.authority`);
    if (uri && matches.some((m) => m.path && 'regex' in m.path)) throw new Invalid(`${path}.rewrite.uri`, 'cannot rewrite the matched prefix of a regex uri match; match with exact or prefix');
    // Istio rewrites the matched part of the path (the whole path for an exact match).
    route.rewrite = { ...(host ? { host } : {}), ...(uri ? { prefix: uri } : {}) };
  }
  const timeoutMs = optDuration(h.timeout, `${path}.timeout`);
  if (timeoutMs) route.timeoutMs = timeoutMs;
  const retry = retries(h.retries, `${path}.retries`);
  if (retry) route.retry = retry;
  const f = fault(h.fault, `${path}.fault`);
  if (f) route.fault = f;
  const mirrors: NonNullable<RouteModel['mirrors']> = [];
  if (h.mirror !== undefined) {
    const pct = percentage(h.mirrorPercentage, `${path}.mirrorPercentage`) ?? optInt(h.mirrorPercent, `${path}.mirrorPercent`, 0, 100) ?? 100;
    const dest = destination(ctx, h.mirror, `${path}.mirror`, 1);
    if (!dest.failureStatus) mirrors.push({ destination: dest, percentage: pct });
  }
  for (const [i, m] of list(h.mirrors, `${path}.mirrors`).entries()) {
    const mr = record(m, `${path}.mirrors[${i}]`);
    const dest = destination(ctx, mr.destination, `${path}.mirrors[${i}].destination`, 1);
    if (!dest.failureStatus) mirrors.push({ destination: dest, percentage: percentage(mr.percentage, `${path}.mirrors[${i}].percentage`) ?? 100 });
  }
  if (mirrors.length) route.mirrors = mirrors;
  return route;
}

/** A route that every request matches: nothing after it can be reached. */
export function isCatchAll(r: RouteModel): boolean {
  return r.matches.length === 0 || r.matches.some((m) => Object.keys(m).length === 0 || (Object.keys(m).length === 1 && m.path !== undefined && 'plainPrefix' in m.path && m.path.plainPrefix === '/'));
}

export interface VirtualServicesResult {
  /** Service key → routes, for the services no HTTPRoute or GRPCRoute claims. */
  routes: Map<string, { routes: RouteModel[]; sources: string[] }>;
  reports: ObjectReport[];
}

/** `claimed`: services Gateway API routes attach to; they override VirtualServices. */
export function compileVirtualServices(objs: readonly unknown[], index: ServiceIndex, subsets: DestinationRulesSubsets, claimed: ReadonlySet<string>): VirtualServicesResult {
  const reports: ObjectReport[] = [];
  const quiet = new Problems();
  const metas: Array<{ meta: Meta; obj: Record<string, unknown> }> = [];
  for (const o of objs) {
    const meta = readMeta(o, 'VirtualService', true, quiet);
    if (meta) metas.push({ meta, obj: o as Record<string, unknown> });
  }
  metas.sort((a, b) => byAge(a.meta, b.meta));
  const out = new Map<string, { routes: RouteModel[]; sources: string[]; closed: boolean }>();
  for (const { meta, obj } of metas) {
    const report = new ObjectReport('VirtualService', meta, [{ type: COND, okReason: 'Accepted', okMessage: 'applied by waypoints' }]);
    const ctx: Ctx = { meta, index, subsets, report };
    let routes: RouteModel[];
    let services: ServiceInfo[];
    try {
      const spec = record(obj.spec, 'spec');
      const gateways = list(spec.gateways, 'spec.gateways');
      // Bound to ingress gateways only: not ours.
      if (gateways.length && !gateways.includes('mesh')) continue;
      reports.push(report);
      const hosts = list(spec.hosts, 'spec.hosts').map((h, i) => resolveHost(requiredString(h, `spec.hosts[${i}]`), meta.namespace, index.opts));
      if (!hosts.length) throw new Invalid('spec.hosts', 'at least one host is required');
      for (const unsupported of ['tcp', 'tls']) {
        if (list(spec[unsupported], `spec.${unsupported}`).length) report.warn(COND, 'Accepted', `spec.${unsupported}`, `${unsupported} routes are not supported by waypoints yet; ignored`);
      }
      routes = [];
      for (const [i, h] of list(spec.http, 'spec.http').entries()) {
        const r = httpRoute(ctx, h, `spec.http[${i}]`);
        if (r) routes.push(r);
      }
      services = [...index.byHostname.values()].filter((s) => hosts.some((h) => hostCovers(h, s.hostname)));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      report.error(COND, err.reason ?? 'Invalid', err.field, `${err.message}; the VirtualService is not applied`);
      continue;
    }
    if (!services.length) report.warn(COND, 'Accepted', 'spec.hosts', 'no Service has any of these hosts; the routes apply once one does');
    for (const svc of services) {
      const wpNs = svc.waypoint?.slice(0, svc.waypoint.indexOf('/'));
      if (meta.namespace !== svc.namespace && meta.namespace !== wpNs) continue;
      if (!svc.waypoint) {
        report.warn(COND, 'Accepted', 'spec.hosts', `no waypoint serves Service ${svc.namespace}/${svc.name} yet; the routes apply once one does`);
        continue;
      }
      if (claimed.has(svc.key)) {
        report.warn(COND, 'Accepted', 'spec.hosts', `an HTTPRoute or GRPCRoute attaches to Service ${svc.namespace}/${svc.name} and takes precedence; this VirtualService is not used for it`);
        continue;
      }
      const entry = out.get(svc.key) ?? { routes: [], sources: [], closed: false };
      out.set(svc.key, entry);
      if (entry.closed) {
        report.warn(COND, 'Accepted', 'spec.http', `an older VirtualService for ${svc.hostname} ends with a catch-all route, so these routes are never reached`);
        continue;
      }
      entry.sources.push(`VirtualService ${meta.namespace}/${meta.name}`);
      for (const r of routes) {
        entry.routes.push(r);
        if (isCatchAll(r)) {
          entry.closed = true;
          break;
        }
      }
    }
  }
  return { routes: new Map([...out].map(([k, v]) => [k, { routes: v.routes, sources: v.sources }])), reports };
}

export type DestinationRulesSubsets = ReadonlyMap<string, ReadonlyMap<string, Record<string, string>>>;
