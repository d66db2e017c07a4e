// When to renew a certificate and how long to wait after a failure. Pure.
import type { BackoffOptions } from '../xds/types.js';

/** Retries after a failed request: 1 s doubling to 150 s (Istio's maximum), ±20 %. */
export const CERT_RETRY_BACKOFF: BackoffOptions = { initialMs: 1000, maxMs: 150_000, multiplier: 2, jitter: 0.2 };

/**
 * Milliseconds from `now` until the certificate should be renewed: half of its lifetime, as Istio.
 * The lifetime counts from when we asked for it (or notBefore, if later), because CAs backdate
 * notBefore for clock skew (Ambit's by 60 s), which would make short certificates renew at once.
 */
export function refreshDelayMs(cert: { notBefore: Date; notAfter: Date }, requestedAtMs: number, nowMs: number, minMs = 0): number {
  const start = Math.max(cert.notBefore.getTime(), requestedAtMs);
  const end = cert.notAfter.getTime();
  const at = start + Math.max(0, end - start) / 2;
  return Math.max(minMs, Math.round(at - nowMs));
}
