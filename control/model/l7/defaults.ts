// Istio's defaults for what a waypoint does when a resource leaves a field unset.
import type { LoadBalancerModel, OutlierDetectionModel, RetryModel } from './types.js';

/**
 * Istio's outbound default, which waypoints use for routes without a `retries` field and for the
 * default route of a service without any: 2 retries on connection-level failures only
 * (`retriable-status-codes` with no codes listed retries no status).
 */
export const DEFAULT_RETRY: RetryModel = Object.freeze({
  attempts: 2,
  retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes'],
}) as RetryModel;

/** Gateway API `retry` keeps these conditions and adds its status codes. */
export const GATEWAY_RETRY_ON: readonly string[] = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled'];

export const DEFAULT_LOAD_BALANCER: LoadBalancerModel = Object.freeze({ policy: 'LEAST_REQUEST' }) as LoadBalancerModel;

export const DEFAULT_RING_SIZE = 1024;

/** Filled into a configured `outlierDetection` block (Istio's proto defaults). */
export const OUTLIER_DEFAULTS: OutlierDetectionModel = Object.freeze({
  consecutive5xxErrors: 5,
  consecutiveGatewayErrors: 0,
  intervalMs: 10_000,
  baseEjectionTimeMs: 30_000,
  maxEjectionPercent: 10,
  minHealthPercent: 0,
});

export const REDIRECT_CODES: readonly number[] = [301, 302, 303, 307, 308];

export const HTTP_METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'];

/** RFC 9110 token characters: what a header name may contain. */
export const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]+$/;

/** Envoy's retry conditions a VirtualService may name in `retryOn`. */
export const RETRY_ON: readonly string[] = [
  '5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'envoy-ratelimited', 'retriable-4xx', 'refused-stream',
  'retriable-status-codes', 'retriable-headers', 'http3-post-connect-failure', 'cancelled', 'deadline-exceeded', 'internal',
  'resource-exhausted', 'unavailable',
];
