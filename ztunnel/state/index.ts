// ztunnel's xDS state: the store (ProxyState, written by the xDS side) and the read interface
// (StateView) the proxy uses. The xDS handlers live in feed.ts, outside this barrel.
export { ProxyState, type AddressUpsert, type AuthorizationUpsert, type ProxyStateOptions } from './state.js';
export { StateError } from './convert.js';
export { canonicalIp } from './ip.js';
export { eligibleEndpoints, localityRank, pickEndpoint, targetPort, weightedPick, type Random, type ResolutionMode } from './lb.js';
export * from './types.js';
export type * from './view.js';
