/**
 * L7 model → generated ambit.l7.v1 messages, and each resource's version (a digest of its encoded
 * bytes, as for the L4 resources). Map fields are filled with sorted keys so that equal content
 * always encodes to equal bytes.
 */
import { createHash } from 'node:crypto';
import { create, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import type { DurationSchema } from '@bufbuild/protobuf/wkt';
import { L7Authorization_Action, L7AuthorizationSchema, Condition_Attribute } from '../../../lib/proto/gen/ambit/l7/v1/authorization_pb.js';
import type { StringMatchSchema } from '../../../lib/proto/gen/ambit/l7/v1/common_pb.js';
import { DestinationPolicySchema, LoadBalancer_Policy, type LoadBalancerSchema, type TrafficPolicySchema } from '../../../lib/proto/gen/ambit/l7/v1/destination_pb.js';
import { GlobalLimit_Unit, GlobalRateLimit_FailureMode, RateLimitSchema } from '../../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import { RouteConfigSchema, type DestinationSchema, type HeaderMutationSchema, type RouteMatchSchema, type RouteSchema } from '../../../lib/proto/gen/ambit/l7/v1/route_pb.js';
import { ipBytes } from '../net.js';
import type {
  DescriptorModel,
  DestinationModel,
  DestinationPolicyModel,
  HeaderMutationModel,
  L7AuthorizationModel,
  LoadBalancerModel,
  RateLimitModel,
  RouteConfigModel,
  RouteMatchModel,
  RouteModel,
  StringMatchModel,
  TrafficPolicyModel,
} from './types.js';

type Init<D extends DescMessage> = MessageInitShape<D>;

function duration(ms: number | undefined): Init<typeof DurationSchema> | undefined {
  if (ms === undefined) return undefined;
  const whole = Math.floor(ms / 1000);
  return { seconds: BigInt(whole), nanos: Math.round((ms - whole * 1000) * 1e6) };
}

function sortedMap(m: Record<string, string> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(m ?? {}).sort()) out[k] = (m ?? {})[k] ?? '';
  return out;
}

function mutation(m: HeaderMutationModel | undefined): Init<typeof HeaderMutationSchema> | undefined {
  return m && { set: sortedMap(m.set), add: sortedMap(m.add), remove: m.remove ?? [] };
}

function destination(d: DestinationModel): Init<typeof DestinationSchema> {
  return {
    hostname: d.hostname,
    namespace: d.namespace,
    port: d.port,
    subset: d.subset ?? '',
    subsetLabels: sortedMap(d.subsetLabels),
    weight: d.weight,
    failureStatus: d.failureStatus ?? 0,
    requestHeaders: mutation(d.requestHeaders),
    responseHeaders: mutation(d.responseHeaders),
  };
}

function oneofOf<K extends string>(m: object, keys: readonly K[]): { case: K; value: never } | { case: undefined } {
  for (const k of keys) if (k in m) return { case: k, value: (m as Record<K, never>)[k] };
  return { case: undefined };
}

function routeMatch(m: RouteMatchModel): Init<typeof RouteMatchSchema> {
  return {
    path: m.path && { kind: oneofOf(m.path, ['exact', 'prefix', 'regex', 'plainPrefix'] as const) },
    headers: (m.headers ?? []).map((h) => ({ name: h.name, invert: h.invert ?? false, kind: oneofOf(h, ['exact', 'prefix', 'regex', 'present'] as const) })),
    queryParams: (m.queryParams ?? []).map((q) => ({ name: q.name, kind: oneofOf(q, ['exact', 'prefix', 'regex', 'present'] as const) })),
    method: m.method ?? '',
    port: m.port ?? 0,
  };
}

function action(r: RouteModel): Init<typeof RouteSchema>['action'] {
  const a = r.action;
  if ('forward' in a) return { case: 'forward', value: { destinations: a.forward.map(destination) } };
  if ('redirect' in a) {
    const d = a.redirect;
    const path = d.fullPath !== undefined ? { case: 'fullPath' as const, value: d.fullPath } : d.prefix !== undefined ? { case: 'prefix' as const, value: d.prefix } : { case: undefined };
    return { case: 'redirect', value: { scheme: d.scheme ?? '', host: d.host ?? '', port: d.port ?? 0, statusCode: d.statusCode, path } };
  }
  return { case: 'directResponse', value: { status: a.directResponse.status, body: a.directResponse.body ?? '' } };
}

function route(r: RouteModel): Init<typeof RouteSchema> {
  const rw = r.rewrite;
  const f = r.fault;
  return {
    name: r.name,
    matches: r.matches.map(routeMatch),
    action: action(r),
    requestHeaders: mutation(r.requestHeaders),
    responseHeaders: mutation(r.responseHeaders),
    rewrite: rw && {
      host: rw.host ?? '',
      path: rw.fullPath !== undefined ? { case: 'fullPath', value: rw.fullPath } : rw.prefix !== undefined ? { case: 'prefix', value: rw.prefix } : { case: undefined },
    },
    mirrors: (r.mirrors ?? []).map((m) => ({ destination: destination(m.destination), percentage: m.percentage })),
    timeout: duration(r.timeoutMs),
    retry: r.retry && {
      attempts: r.retry.attempts,
      perTryTimeout: duration(r.retry.perTryTimeoutMs),
      retryOn: r.retry.retryOn,
      retriableStatusCodes: r.retry.retriableStatusCodes ?? [],
      backoff: duration(r.retry.backoffMs),
    },
    fault: f && {
      delay: f.delay && { fixedDelay: duration(f.delay.fixedDelayMs), percentage: f.delay.percentage },
      abort: f.abort && {
        percentage: f.abort.percentage,
        error: 'httpStatus' in f.abort ? { case: 'httpStatus', value: f.abort.httpStatus } : { case: 'grpcStatus', value: f.abort.grpcStatus },
      },
    },
  };
}

export function routeConfigToProto(c: RouteConfigModel): MessageShape<typeof RouteConfigSchema> {
  return create(RouteConfigSchema, { name: c.name, hostname: c.hostname, namespace: c.namespace, waypoint: c.waypoint, routes: c.routes.map(route), sources: c.sources });
}

function loadBalancer(lb: LoadBalancerModel): Init<typeof LoadBalancerSchema> {
  const ch = lb.consistentHash;
  let key: NonNullable<Init<typeof LoadBalancerSchema>['consistentHash']>['key'] = { case: undefined };
  if (ch) {
    if ('headerName' in ch) key = { case: 'headerName', value: ch.headerName };
    else if ('queryParameterName' in ch) key = { case: 'queryParameterName', value: ch.queryParameterName };
    else if ('useSourceIp' in ch) key = { case: 'useSourceIp', value: true };
    else key = { case: 'cookie', value: { name: ch.cookie.name, path: ch.cookie.path ?? '', ttl: duration(ch.cookie.ttlMs) } };
  }
  return { policy: LoadBalancer_Policy[lb.policy], consistentHash: ch && { key, minimumRingSize: BigInt(ch.minimumRingSize) } };
}

function trafficPolicy(p: TrafficPolicyModel): Init<typeof TrafficPolicySchema> {
  const pool = (c: TrafficPolicyModel['connectionPool']) =>
    c && {
      maxConnections: c.maxConnections,
      http1MaxPendingRequests: c.http1MaxPendingRequests,
      http2MaxRequests: c.http2MaxRequests,
      maxRequestsPerConnection: c.maxRequestsPerConnection,
      maxRetries: c.maxRetries,
      connectTimeout: duration(c.connectTimeoutMs),
      idleTimeout: duration(c.idleTimeoutMs),
    };
  const outlier = (o: TrafficPolicyModel['outlierDetection']) =>
    o && {
      consecutive5xxErrors: o.consecutive5xxErrors,
      consecutiveGatewayErrors: o.consecutiveGatewayErrors,
      interval: duration(o.intervalMs),
      baseEjectionTime: duration(o.baseEjectionTimeMs),
      maxEjectionPercent: o.maxEjectionPercent,
      minHealthPercent: o.minHealthPercent,
    };
  return {
    loadBalancer: loadBalancer(p.loadBalancer),
    connectionPool: pool(p.connectionPool),
    outlierDetection: outlier(p.outlierDetection),
    ports: p.ports.map((x) => ({ port: x.port, loadBalancer: loadBalancer(x.loadBalancer), connectionPool: pool(x.connectionPool), outlierDetection: outlier(x.outlierDetection) })),
  };
}

export function destinationPolicyToProto(d: DestinationPolicyModel): MessageShape<typeof DestinationPolicySchema> {
  return create(DestinationPolicySchema, {
    name: d.name,
    hostname: d.hostname,
    namespace: d.namespace,
    waypoint: d.waypoint,
    source: d.source,
    trafficPolicy: trafficPolicy(d.trafficPolicy),
    subsets: d.subsets.map((s) => ({ name: s.name, labels: sortedMap(s.labels), trafficPolicy: trafficPolicy(s.trafficPolicy) })),
  });
}

function stringMatch(m: StringMatchModel): Init<typeof StringMatchSchema> {
  if ('exact' in m) return { matchType: { case: 'exact', value: m.exact } };
  if ('prefix' in m) return { matchType: { case: 'prefix', value: m.prefix } };
  if ('suffix' in m) return { matchType: { case: 'suffix', value: m.suffix } };
  return { matchType: { case: 'presence', value: true } };
}

const sms = (l: StringMatchModel[] | undefined) => (l ?? []).map(stringMatch);
const cidrs = (l: Array<{ ip: string; length: number }> | undefined) => (l ?? []).map((c) => ({ address: ipBytes(c.ip), length: c.length }));

export function l7AuthorizationToProto(a: L7AuthorizationModel): MessageShape<typeof L7AuthorizationSchema> {
  return create(L7AuthorizationSchema, {
    name: a.name,
    namespace: a.namespace,
    targets: a.targets,
    action: L7Authorization_Action[a.action],
    dryRun: a.dryRun,
    rules: a.rules.map((r) => ({
      from: r.from.map((s) => ({
        principals: sms(s.principals),
        notPrincipals: sms(s.notPrincipals),
        namespaces: sms(s.namespaces),
        notNamespaces: sms(s.notNamespaces),
        ipBlocks: cidrs(s.ipBlocks),
        notIpBlocks: cidrs(s.notIpBlocks),
      })),
      to: r.to.map((o) => ({
        hosts: sms(o.hosts),
        notHosts: sms(o.notHosts),
        ports: o.ports ?? [],
        notPorts: o.notPorts ?? [],
        methods: o.methods ?? [],
        notMethods: o.notMethods ?? [],
        paths: sms(o.paths),
        notPaths: sms(o.notPaths),
      })),
      when: r.when.map((c) => ({ attribute: Condition_Attribute[c.attribute], header: c.header ?? '', values: sms(c.values), notValues: sms(c.notValues) })),
    })),
  });
}

function descriptor(d: DescriptorModel) {
  const value = d.value ?? '';
  if ('header' in d) return { key: { case: 'header' as const, value: d.header }, value };
  if ('path' in d) return { key: { case: 'path' as const, value: true }, value };
  return { key: { case: 'sourceIdentity' as const, value: true }, value };
}

export function rateLimitToProto(r: RateLimitModel): MessageShape<typeof RateLimitSchema> {
  return create(RateLimitSchema, {
    name: r.name,
    namespace: r.namespace,
    targets: r.targets,
    local: r.local && { maxTokens: r.local.maxTokens, tokensPerFill: r.local.tokensPerFill, fillInterval: duration(r.local.fillIntervalMs) },
    global: r.global && {
      redisAddress: r.global.redisAddress,
      failureMode: GlobalRateLimit_FailureMode[r.global.failureMode],
      timeout: duration(r.global.timeoutMs),
      limits: r.global.limits.map((l) => ({ descriptors: l.descriptors.map(descriptor), requestsPerUnit: BigInt(l.requestsPerUnit), unit: GlobalLimit_Unit[l.unit] })),
    },
  });
}

/** Encoded bytes and version of a message; the same digest as the L4 resources'. */
export function encodeVersioned<D extends DescMessage>(schema: D, message: MessageShape<D>): { bytes: Uint8Array; version: string } {
  const bytes = toBinary(schema, message);
  return { bytes, version: createHash('sha256').update(bytes).digest('base64url').slice(0, 22) };
}

export const L7_SCHEMAS = { RouteConfigSchema, DestinationPolicySchema, L7AuthorizationSchema, RateLimitSchema };
