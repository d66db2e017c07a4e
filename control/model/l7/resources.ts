/**
 * The four L7 resource types as the xDS server serves them: which type URL each model map goes
 * to, and how one resource is encoded.
 */
import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { TYPE_DESTINATION_POLICY, TYPE_L7_AUTHORIZATION, TYPE_RATE_LIMIT, TYPE_ROUTE_CONFIG } from '../../../lib/xds/types.js';
import { destinationPolicyToProto, L7_SCHEMAS, l7AuthorizationToProto, rateLimitToProto, routeConfigToProto } from './to-proto.js';
import type { DestinationPolicyModel, L7AuthorizationModel, L7Model, RateLimitModel, RouteConfigModel } from './types.js';

export type L7ResourceType = 'routeConfigs' | 'destinationPolicies' | 'authorizations' | 'rateLimits';

export const L7_RESOURCE_TYPES: readonly L7ResourceType[] = ['routeConfigs', 'destinationPolicies', 'authorizations', 'rateLimits'];

export const L7_TYPE_URLS: Readonly<Record<L7ResourceType, string>> = {
  routeConfigs: TYPE_ROUTE_CONFIG,
  destinationPolicies: TYPE_DESTINATION_POLICY,
  authorizations: TYPE_L7_AUTHORIZATION,
  rateLimits: TYPE_RATE_LIMIT,
};

type AnyL7 = RouteConfigModel | DestinationPolicyModel | L7AuthorizationModel | RateLimitModel;

/** Encodes one model entry of `type`. */
export function encodeL7(type: L7ResourceType, m: AnyL7): Uint8Array {
  switch (type) {
    case 'routeConfigs':
      return toBinary(L7_SCHEMAS.RouteConfigSchema, routeConfigToProto(m as RouteConfigModel));
    case 'destinationPolicies':
      return toBinary(L7_SCHEMAS.DestinationPolicySchema, destinationPolicyToProto(m as DestinationPolicyModel));
    case 'authorizations':
      return toBinary(L7_SCHEMAS.L7AuthorizationSchema, l7AuthorizationToProto(m as L7AuthorizationModel));
    default:
      return toBinary(L7_SCHEMAS.RateLimitSchema, rateLimitToProto(m as RateLimitModel));
  }
}

/** The same digest as the L4 resources' versions. */
export function l7Version(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

/** Resource name → version for every L7 type. */
export function l7Versions(m: L7Model): Record<L7ResourceType, Map<string, string>> {
  const maps = l7Maps(m);
  const out = {} as Record<L7ResourceType, Map<string, string>>;
  for (const type of L7_RESOURCE_TYPES) out[type] = new Map([...maps[type]].map(([k, v]) => [k, l7Version(encodeL7(type, v))]));
  return out;
}

/** The model's maps by resource type. */
export function l7Maps(m: L7Model): Record<L7ResourceType, ReadonlyMap<string, AnyL7>> {
  return { routeConfigs: m.routeConfigs, destinationPolicies: m.destinationPolicies, authorizations: m.authorizations, rateLimits: m.rateLimits };
}
