/**
 * DestinationRule → DestinationPolicy for each service a waypoint serves, and the subsets every
 * VirtualService route resolves against. The rule for a host is the oldest one in the service's
 * namespace, else the oldest in the root namespace. Policies are resolved completely here: a
 * subset's trafficPolicy replaces the rule's field by field (load balancer, connection pool,
 * outlier detection, port settings) and port-level settings replace them for their port.
 */
import { byAge, Problems, readMeta, type Meta } from '../objects.js';
import { DEFAULT_LOAD_BALANCER, DEFAULT_RING_SIZE, OUTLIER_DEFAULTS } from './defaults.js';
import { Invalid, list, oneOf, optBool, optDuration, optInt, optRecord, optString, optStringMap, record, requiredString } from './read.js';
import { ObjectReport } from './report.js';
import { resolveHost, type ServiceIndex, type ServiceInfo } from './service-index.js';
import type { ConnectionPoolModel, DestinationPolicyModel, LoadBalancerModel, OutlierDetectionModel, TrafficPolicyModel } from './types.js';

const COND = 'WaypointAccepted';

interface PartialPolicy {
  loadBalancer?: LoadBalancerModel;
  connectionPool?: ConnectionPoolModel;
  outlierDetection?: OutlierDetectionModel;
}

interface ParsedPolicy extends PartialPolicy {
  ports: Array<PartialPolicy & { port: number }>;
}

const U32 = 4_294_967_295;

function loadBalancer(raw: unknown, path: string, report: ObjectReport): LoadBalancerModel | undefined {
  const r = optRecord(raw, path);
  if (!r) return undefined;
  for (const ignored of ['localityLbSetting', 'warmup', 'warmupDurationSecs']) {
    if (r[ignored] !== undefined) report.warn(COND, 'Accepted', `${path}.${ignored}`, 'not supported by waypoints yet; ignored');
  }
  if (r.simple !== undefined && r.consistentHash !== undefined) throw new Invalid(path, 'set simple or consistentHash, not both');
  const ch = optRecord(r.consistentHash, `${path}.consistentHash`);
  if (!ch) {
    const simple = oneOf(r.simple, `${path}.simple`, ['UNSPECIFIED', 'LEAST_REQUEST', 'LEAST_CONN', 'ROUND_ROBIN', 'RANDOM', 'PASSTHROUGH'] as const, 'UNSPECIFIED');
    if (simple === 'PASSTHROUGH') throw new Invalid(`${path}.simple`, 'PASSTHROUGH is not supported by waypoints; use LEAST_REQUEST, ROUND_ROBIN or RANDOM', 'UnsupportedValue');
    // UNSPECIFIED is Istio's default, LEAST_REQUEST; LEAST_CONN is its old name.
    return { policy: simple === 'ROUND_ROBIN' || simple === 'RANDOM' ? simple : 'LEAST_REQUEST' };
  }
  const cp = `${path}.consistentHash`;
  if (ch.maglev !== undefined) throw new Invalid(`${cp}.maglev`, 'maglev is not supported by waypoints; use ringHash', 'UnsupportedValue');
  const ring = optRecord(ch.ringHash, `${cp}.ringHash`);
  const minimumRingSize = optInt(ring?.minimumRingSize ?? ch.minimumRingSize, `${cp}.${ring ? 'ringHash.' : ''}minimumRingSize`, 1, 8_388_608) ?? DEFAULT_RING_SIZE;
  const keys = ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'].filter((k) => ch[k] !== undefined && ch[k] !== null);
  if (keys.length !== 1) throw new Invalid(cp, `set exactly one of httpHeaderName, httpCookie, useSourceIp or httpQueryParameterName${keys.length ? `, got ${keys.join(' and ')}` : ''}`);
  switch (keys[0]) {
    case 'httpHeaderName':
      return { policy: 'CONSISTENT_HASH', consistentHash: { headerName: requiredString(ch.httpHeaderName, `${cp}.httpHeaderName`).toLowerCase(), minimumRingSize } };
    case 'httpQueryParameterName':
      return { policy: 'CONSISTENT_HASH', consistentHash: { queryParameterName: requiredString(ch.httpQueryParameterName, `${cp}.httpQueryParameterName`), minimumRingSize } };
    case 'useSourceIp':
      if (optBool(ch.useSourceIp, `${cp}.useSourceIp`) !== true) throw new Invalid(`${cp}.useSourceIp`, 'must be true when set');
      return { policy: 'CONSISTENT_HASH', consistentHash: { useSourceIp: true, minimumRingSize } };
    default: {
      const c = record(ch.httpCookie, `${cp}.httpCookie`);
      const name = requiredString(c.name, `${cp}.httpCookie.name`);
      const cpath = optString(c.path, `${cp}.httpCookie.path`);
      const ttlMs = optDuration(c.ttl, `${cp}.httpCookie.ttl`);
      return { policy: 'CONSISTENT_HASH', consistentHash: { cookie: { name, ...(cpath ? { path: cpath } : {}), ...(ttlMs ? { ttlMs } : {}) }, minimumRingSize } };
    }
  }
}

function connectionPool(raw: unknown, path: string): ConnectionPoolModel | undefined {
  const r = optRecord(raw, path);
  if (!r) return undefined;
  const tcp = record(r.tcp, `${path}.tcp`);
  const http = record(r.http, `${path}.http`);
  const out: ConnectionPoolModel = {};
  // 0 is what an unset proto3 field reads as: no limit.
  const put = (k: keyof ConnectionPoolModel, v: number | undefined): void => {
    if (v) out[k] = v;
  };
  put('maxConnections', optInt(tcp.maxConnections, `${path}.tcp.maxConnections`, 0, U32));
  put('connectTimeoutMs', optDuration(tcp.connectTimeout, `${path}.tcp.connectTimeout`));
  put('http1MaxPendingRequests', optInt(http.http1MaxPendingRequests, `${path}.http.http1MaxPendingRequests`, 0, U32));
  put('http2MaxRequests', optInt(http.http2MaxRequests, `${path}.http.http2MaxRequests`, 0, U32));
  put('maxRequestsPerConnection', optInt(http.maxRequestsPerConnection, `${path}.http.maxRequestsPerConnection`, 0, U32));
  put('maxRetries', optInt(http.maxRetries, `${path}.http.maxRetries`, 0, U32));
  put('idleTimeoutMs', optDuration(http.idleTimeout ?? tcp.idleTimeout, `${path}.${http.idleTimeout !== undefined ? 'http' : 'tcp'}.idleTimeout`));
  return out;
}

function outlierDetection(raw: unknown, path: string): OutlierDetectionModel | undefined {
  const r = optRecord(raw, path);
  if (!r) return undefined;
  const d = OUTLIER_DEFAULTS;
  const interval = optDuration(r.interval, `${path}.interval`);
  if (interval === 0) throw new Invalid(`${path}.interval`, 'must be longer than 0s');
  return {
    consecutive5xxErrors: optInt(r.consecutive5xxErrors, `${path}.consecutive5xxErrors`, 0, U32) ?? d.consecutive5xxErrors,
    consecutiveGatewayErrors: optInt(r.consecutiveGatewayErrors, `${path}.consecutiveGatewayErrors`, 0, U32) ?? d.consecutiveGatewayErrors,
    intervalMs: interval ?? d.intervalMs,
    baseEjectionTimeMs: optDuration(r.baseEjectionTime, `${path}.baseEjectionTime`) ?? d.baseEjectionTimeMs,
    maxEjectionPercent: optInt(r.maxEjectionPercent, `${path}.maxEjectionPercent`, 0, 100) ?? d.maxEjectionPercent,
    minHealthPercent: optInt(r.minHealthPercent, `${path}.minHealthPercent`, 0, 100) ?? d.minHealthPercent,
  };
}

function partial(r: Record<string, unknown>, path: string, report: ObjectReport): PartialPolicy {
  const out: PartialPolicy = {};
  const lb = loadBalancer(r.loadBalancer, `${path}.loadBalancer`, report);
  const pool = connectionPool(r.connectionPool, `${path}.connectionPool`);
  const od = outlierDetection(r.outlierDetection, `${path}.outlierDetection`);
  if (lb) out.loadBalancer = lb;
  if (pool) out.connectionPool = pool;
  if (od) out.outlierDetection = od;
  return out;
}

function trafficPolicy(raw: unknown, path: string, report: ObjectReport): ParsedPolicy {
  const r = record(raw, path);
  for (const ignored of ['tls', 'proxyProtocol', 'tunnel', 'retryBudget']) {
    if (r[ignored] !== undefined) report.warn(COND, 'Accepted', `${path}.${ignored}`, 'not supported by waypoints yet; ignored');
  }
  const ports: ParsedPolicy['ports'] = [];
  for (const [i, p] of list(r.portLevelSettings, `${path}.portLevelSettings`).entries()) {
    const pp = `${path}.portLevelSettings[${i}]`;
    const pr = record(p, pp);
    const port = optInt(record(pr.port, `${pp}.port`).number, `${pp}.port.number`, 1, 65535);
    if (!port) throw new Invalid(`${pp}.port.number`, 'a port number is required');
    if (ports.some((x) => x.port === port)) throw new Invalid(`${pp}.port.number`, `port ${port} has settings already`);
    ports.push({ port, ...partial(pr, pp, report) });
  }
  return { ...partial(r, path, report), ports };
}

function resolve(p: ParsedPolicy): TrafficPolicyModel {
  const loadBalancer = p.loadBalancer ?? DEFAULT_LOAD_BALANCER;
  const out: TrafficPolicyModel = { loadBalancer, ports: [] };
  if (p.connectionPool) out.connectionPool = p.connectionPool;
  if (p.outlierDetection) out.outlierDetection = p.outlierDetection;
  out.ports = p.ports.map((x) => {
    const pool = x.connectionPool ?? p.connectionPool;
    const od = x.outlierDetection ?? p.outlierDetection;
    return { port: x.port, loadBalancer: x.loadBalancer ?? loadBalancer, ...(pool ? { connectionPool: pool } : {}), ...(od ? { outlierDetection: od } : {}) };
  });
  return out;
}

/** A subset's policy over the rule's: each field the subset sets replaces the rule's. */
function mergeSubset(top: ParsedPolicy, sub: ParsedPolicy | undefined): ParsedPolicy {
  if (!sub) return top;
  return {
    loadBalancer: sub.loadBalancer ?? top.loadBalancer,
    connectionPool: sub.connectionPool ?? top.connectionPool,
    outlierDetection: sub.outlierDetection ?? top.outlierDetection,
    ports: sub.ports.length ? sub.ports : top.ports,
  };
}

const SUBSET_NAME = /^[a-z0-9]([-a-z0-9_.]*[a-z0-9])?$/i;

export interface DestinationRulesResult {
  policies: Map<string, DestinationPolicyModel>;
  /** hostname → subset name → labels, from the rule in force for the host. */
  subsets: Map<string, Map<string, Record<string, string>>>;
  reports: ObjectReport[];
}

interface Compiled {
  meta: Meta;
  report: ObjectReport;
  hostname: string;
  service?: ServiceInfo;
  trafficPolicy: TrafficPolicyModel;
  subsets: DestinationPolicyModel['subsets'];
}

function compileOne(meta: Meta, obj: Record<string, unknown>, index: ServiceIndex, report: ObjectReport): Compiled | undefined {
  try {
    const spec = record(obj.spec, 'spec');
    if (spec.workloadSelector !== undefined) {
      report.error(COND, 'UnsupportedValue', 'spec.workloadSelector', 'rules with a workloadSelector configure sidecars, not waypoints; remove it for the waypoint to use this rule');
      return undefined;
    }
    const hostname = resolveHost(requiredString(spec.host, 'spec.host'), meta.namespace, index.opts);
    const top = trafficPolicy(spec.trafficPolicy, 'spec.trafficPolicy', report);
    const subsets: Compiled['subsets'] = [];
    for (const [i, s] of list(spec.subsets, 'spec.subsets').entries()) {
      const sp = `spec.subsets[${i}]`;
      const sr = record(s, sp);
      const name = requiredString(sr.name, `${sp}.name`);
      if (!SUBSET_NAME.test(name)) throw new Invalid(`${sp}.name`, `"${name}" is not a valid subset name (letters, digits, '-', '_' and '.')`);
      if (subsets.some((x) => x.name === name)) throw new Invalid(`${sp}.name`, `subset "${name}" is defined twice`);
      const labels = optStringMap(sr.labels, `${sp}.labels`) ?? {};
      const sub = sr.trafficPolicy === undefined ? undefined : trafficPolicy(sr.trafficPolicy, `${sp}.trafficPolicy`, report);
      subsets.push({ name, labels, trafficPolicy: resolve(mergeSubset(top, sub)) });
    }
    const service = index.byHostname.get(hostname);
    if (!service) report.warn(COND, 'Accepted', 'spec.host', `no Service has the hostname ${hostname}; the rule applies once one does`);
    else if (!service.waypoint) report.warn(COND, 'Accepted', 'spec.host', `no waypoint serves Service ${service.namespace}/${service.name} yet; the rule applies once one does`);
    return { meta, report, hostname, service, trafficPolicy: resolve(top), subsets };
  } catch (err) {
    if (!(err instanceof Invalid)) throw err;
    report.error(COND, err.reason ?? 'Invalid', err.field, `${err.message}; the rule is not applied`);
    return undefined;
  }
}

export function compileDestinationRules(objs: readonly unknown[], index: ServiceIndex): DestinationRulesResult {
  const reports: ObjectReport[] = [];
  const quiet = new Problems();
  const compiled: Compiled[] = [];
  for (const o of objs) {
    const meta = readMeta(o, 'DestinationRule', true, quiet);
    if (!meta) continue;
    const report = new ObjectReport('DestinationRule', meta, [{ type: COND, okReason: 'Accepted', okMessage: 'applied by waypoints' }]);
    reports.push(report);
    const c = compileOne(meta, o as Record<string, unknown>, index, report);
    if (c) compiled.push(c);
  }
  // The rule in force per host: the service's own namespace first, then the root namespace.
  const rank = (c: Compiled): number => (c.meta.namespace === c.service?.namespace ? 0 : c.meta.namespace === index.opts.rootNamespace ? 1 : 2);
  compiled.sort((a, b) => rank(a) - rank(b) || byAge(a.meta, b.meta));
  const policies = new Map<string, DestinationPolicyModel>();
  const subsets = new Map<string, Map<string, Record<string, string>>>();
  const winner = new Map<string, Compiled>();
  for (const c of compiled) {
    const first = winner.get(c.hostname);
    if (first) {
      c.report.warn(COND, 'Accepted', 'spec.host', `DestinationRule ${first.meta.namespace}/${first.meta.name} already configures ${c.hostname} and takes precedence; this rule is not used for it`);
      continue;
    }
    if (rank(c) === 2 && c.service) {
      c.report.warn(COND, 'Accepted', 'metadata.namespace', `a DestinationRule applies to waypoints only from the Service's namespace or ${index.opts.rootNamespace}; move it there`);
      continue;
    }
    winner.set(c.hostname, c);
    subsets.set(c.hostname, new Map(c.subsets.map((s) => [s.name, s.labels])));
    if (!c.service?.waypoint) continue;
    policies.set(c.service.key, {
      name: c.service.key,
      hostname: c.hostname,
      namespace: c.service.namespace,
      waypoint: c.service.waypoint,
      source: `DestinationRule ${c.meta.namespace}/${c.meta.name}`,
      trafficPolicy: c.trafficPolicy,
      subsets: c.subsets,
    });
  }
  return { policies, subsets, reports };
}
