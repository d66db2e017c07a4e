/**
 * RateLimitPolicy (ratelimit.ambit.dev/v1alpha1), Ambit's own policy, attached with targetRefs to
 * a waypoint Gateway or a Service:
 *
 *   spec:
 *     targetRefs: [{group: "", kind: Service, name: web}]
 *     local: {tokens: 100, tokensPerFill: 10, fillInterval: 1s}      # per waypoint instance
 *     global:                                                        # shared through Redis
 *       redis: {address: redis.ambit-system:6379}
 *       failureMode: Open | Closed                                   # default Open
 *       timeout: 100ms
 *       limits:
 *       - requests: 1000
 *         unit: Second | Minute | Hour | Day
 *         descriptors: [{header: {name: x-user}}, {sourceIdentity: {}}, {path: {value: /login}}]
 */
import { byAge, Problems, readMeta } from '../objects.js';
import { HEADER_NAME } from './defaults.js';
import { Invalid, list, oneOf, optDuration, optInt, optRecord, optString, record, requiredString } from './read.js';
import { ObjectReport } from './report.js';
import type { ServiceIndex } from './service-index.js';
import { resolveTargets } from './targets.js';
import type { DescriptorModel, RateLimitModel } from './types.js';

const COND = 'Accepted';
const U32 = 4_294_967_295;
const DEFAULT_TIMEOUT_MS = 100;
const UNITS = { Second: 'SECOND', Minute: 'MINUTE', Hour: 'HOUR', Day: 'DAY' } as const;

function descriptor(raw: unknown, path: string): DescriptorModel {
  const r = record(raw, path);
  const keys = ['header', 'sourceIdentity', 'path'].filter((k) => r[k] !== undefined && r[k] !== null);
  if (keys.length !== 1) throw new Invalid(path, `set exactly one of header, sourceIdentity or path${keys.length ? `, got ${keys.join(' and ')}` : ''}`);
  const k = keys[0] as 'header' | 'sourceIdentity' | 'path';
  const body = record(r[k], `${path}.${k}`);
  const value = optString(body.value, `${path}.${k}.value`);
  const v = value ? { value } : {};
  if (k === 'header') {
    const name = requiredString(body.name, `${path}.header.name`);
    if (!HEADER_NAME.test(name)) throw new Invalid(`${path}.header.name`, `"${name}" is not a valid header name`);
    return { header: name.toLowerCase(), ...v };
  }
  if (k === 'path' && value && !value.startsWith('/')) throw new Invalid(`${path}.path.value`, 'must start with "/"');
  return k === 'path' ? { path: true, ...v } : { sourceIdentity: true, ...v };
}

function compileSpec(spec: Record<string, unknown>, defaultRedis: string | undefined): Pick<RateLimitModel, 'local' | 'global'> {
  const out: Pick<RateLimitModel, 'local' | 'global'> = {};
  const local = optRecord(spec.local, 'spec.local');
  if (local) {
    const maxTokens = optInt(local.tokens, 'spec.local.tokens', 1, U32);
    if (maxTokens === undefined) throw new Invalid('spec.local.tokens', 'is required: the bucket size (requests allowed in a burst)');
    const tokensPerFill = optInt(local.tokensPerFill, 'spec.local.tokensPerFill', 1, U32) ?? maxTokens;
    const fillIntervalMs = optDuration(local.fillInterval, 'spec.local.fillInterval');
    if (!fillIntervalMs) throw new Invalid('spec.local.fillInterval', 'is required and must be longer than 0s, e.g. "1s"');
    if (fillIntervalMs < 50) throw new Invalid('spec.local.fillInterval', 'must be at least 50ms');
    out.local = { maxTokens, tokensPerFill, fillIntervalMs };
  }
  const global = optRecord(spec.global, 'spec.global');
  if (global) {
    const redis = record(global.redis, 'spec.global.redis');
    const redisAddress = optString(redis.address, 'spec.global.redis.address') || defaultRedis;
    if (!redisAddress) throw new Invalid('spec.global.redis.address', 'is required (host:port of the Redis server that holds the shared counters)');
    if (!/^[^\s:]+:\d{1,5}$/.test(redisAddress) && !/^\[[0-9a-fA-F:.]+\]:\d{1,5}$/.test(redisAddress)) {
      throw new Invalid('spec.global.redis.address', `must be host:port, got ${JSON.stringify(redisAddress)}`);
    }
    const failureMode = oneOf(global.failureMode, 'spec.global.failureMode', ['Open', 'Closed'] as const, 'Open');
    const timeoutMs = optDuration(global.timeout, 'spec.global.timeout') || DEFAULT_TIMEOUT_MS;
    const limits: NonNullable<RateLimitModel['global']>['limits'] = [];
    for (const [i, l] of list(global.limits, 'spec.global.limits').entries()) {
      const p = `spec.global.limits[${i}]`;
      const lr = record(l, p);
      const requestsPerUnit = optInt(lr.requests, `${p}.requests`, 0, Number.MAX_SAFE_INTEGER);
      if (requestsPerUnit === undefined) throw new Invalid(`${p}.requests`, 'is required: the requests allowed per unit');
      const unit = UNITS[oneOf(lr.unit, `${p}.unit`, ['Second', 'Minute', 'Hour', 'Day'] as const)];
      const descriptors = list(lr.descriptors, `${p}.descriptors`).map((d, j) => descriptor(d, `${p}.descriptors[${j}]`));
      limits.push({ descriptors, requestsPerUnit, unit });
    }
    if (!limits.length) throw new Invalid('spec.global.limits', 'at least one limit is required');
    out.global = { redisAddress, failureMode: failureMode === 'Open' ? 'OPEN' : 'CLOSED', timeoutMs, limits };
  }
  if (!out.local && !out.global) throw new Invalid('spec', 'set local, global or both');
  return out;
}

export interface RateLimitsResult {
  rateLimits: Map<string, RateLimitModel>;
  reports: ObjectReport[];
}

export function compileRateLimits(objs: readonly unknown[], index: ServiceIndex, defaultRedis: string | undefined): RateLimitsResult {
  const rateLimits = new Map<string, RateLimitModel>();
  const reports: ObjectReport[] = [];
  const quiet = new Problems();
  const metas = objs.flatMap((o) => {
    const meta = readMeta(o, 'RateLimitPolicy', true, quiet);
    return meta ? [{ meta, obj: o as Record<string, unknown> }] : [];
  });
  metas.sort((a, b) => byAge(a.meta, b.meta));
  for (const { meta, obj } of metas) {
    const report = new ObjectReport('RateLimitPolicy', meta, [{ type: COND, okReason: 'Accepted', okMessage: 'enforced by the waypoint' }]);
    reports.push(report);
    try {
      const spec = record(obj.spec, 'spec');
      const body = compileSpec(spec, defaultRedis);
      const targets = resolveTargets(spec, meta, index, report, COND);
      if (!targets.length) continue;
      rateLimits.set(`${meta.namespace}/${meta.name}`, { name: meta.name, namespace: meta.namespace, targets, ...body });
      report.setOk(COND, 'Accepted', `enforced by waypoint${targets.length > 1 ? 's' : ''} ${targets.map((t) => t.waypoint).join(', ')}`);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      report.error(COND, err.reason ?? 'Invalid', err.field, `${err.message}; the policy is not applied`);
    }
  }
  return { rateLimits, reports };
}
