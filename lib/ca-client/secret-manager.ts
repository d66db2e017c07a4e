// A proxy's workload certificates, one per identity (ztunnel: each identity of the pods on its node;
// a waypoint: its own): fetched on demand or ahead of time, renewed at half of their lifetime,
// retried with backoff while the old one is still good.
import { EventEmitter } from 'node:events';
import { generateCsr as defaultGenerateCsr, type GeneratedCsr } from '../identity/csr.js';
import { parseSpiffeId } from '../identity/spiffe.js';
import { silentLogger, type Logger } from '../telemetry/log.js';
import { backoffDelay, validateBackoff } from '../xds/backoff.js';
import type { BackoffOptions } from '../xds/types.js';
import type { CaClient } from './ca-client.js';
import { credentialsFromResponse, type Credentials } from './credentials.js';
import { PriorityLimiter, Priority } from './limiter.js';
import { CERT_RETRY_BACKOFF, refreshDelayMs } from './schedule.js';

export type { Credentials } from './credentials.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  now: () => Date.now(),
  // Unref'd: a pending renewal alone must not keep the process alive.
  setTimeout: (fn, ms) => setTimeout(fn, ms).unref(),
  clearTimeout: (h) => clearTimeout(h as NodeJS.Timeout),
};

export interface SecretManagerOptions {
  ca: CaClient;
  /** Requested certificate lifetime (Istio SECRET_TTL, default 24 h). */
  ttlSeconds?: number;
  /** Retry schedule after a failed request (default 1 s ×2 ±20 % up to 150 s). */
  backoff?: BackoffOptions;
  /** Concurrent certificate requests (Istio: 8). */
  concurrency?: number;
  /** Never renew sooner than this after a certificate arrives (default 1 s). */
  minRefreshMs?: number;
  clock?: Clock;
  random?: () => number;
  logger?: Logger;
  generateCsr?: (identity: string) => Promise<GeneratedCsr>;
}

export type CertState = 'initializing' | 'available' | 'unavailable';

/** One row of /config_dump's certificates. */
export interface CertStatus {
  identity: string;
  state: CertState;
  serialNumber?: string;
  notBefore?: string;
  notAfter?: string;
  /** When the next renewal or retry is due. */
  nextAttempt?: string;
  failures: number;
  lastError?: string;
}

interface Entry {
  identity: string;
  current?: Credentials;
  inflight?: Promise<Credentials>;
  timer?: unknown;
  nextAt?: number;
  failures: number;
  lastError?: Error;
}

/**
 * Events: 'fetched' (identity, credentials) for an identity's first certificate, 'rotated'
 * (identity, credentials, previous) when a new one replaces it, 'fetchFailed' (identity, Error).
 */
export class SecretManager extends EventEmitter {
  private readonly entries = new Map<string, Entry>();
  private readonly ttlSeconds: number;
  private readonly backoff: BackoffOptions;
  private readonly clock: Clock;
  private readonly limiter: PriorityLimiter;
  private readonly log: Logger;
  private readonly makeCsr: (identity: string) => Promise<GeneratedCsr>;
  private closed = false;

  constructor(private readonly opts: SecretManagerOptions) {
    super();
    this.ttlSeconds = opts.ttlSeconds ?? 86_400;
    if (!(Number.isSafeInteger(this.ttlSeconds) && this.ttlSeconds > 0)) throw new Error(`ttlSeconds must be a positive whole number, got ${opts.ttlSeconds}`);
    this.backoff = validateBackoff(opts.backoff ?? CERT_RETRY_BACKOFF);
    this.clock = opts.clock ?? realClock;
    this.limiter = new PriorityLimiter(opts.concurrency ?? 8);
    this.log = opts.logger ?? silentLogger();
    this.makeCsr = opts.generateCsr ?? ((id) => defaultGenerateCsr(id));
  }

  /** Starts fetching `identity`'s certificate ahead of need (a pod with it arrived on this node). */
  prefetch(identity: string): void {
    const e = this.entry(identity);
    if (!e.current && !e.inflight && e.timer === undefined) void this.fetch(e, Priority.Warmup).catch(() => undefined);
  }

  /**
   * A valid certificate for `identity`: the cached one, the one being fetched (one request however
   * many callers), or a new request. While retries are backing off and no valid certificate is
   * left, rejects at once with the last error rather than queueing callers behind the backoff.
   * Like prefetch, it keeps the identity renewed until forget().
   */
  get(identity: string): Promise<Credentials> {
    const e = this.entry(identity);
    if (e.current && e.current.notAfter.getTime() > this.clock.now()) return Promise.resolve(e.current);
    if (e.inflight) return e.inflight;
    if (e.lastError && e.timer !== undefined && e.nextAt !== undefined) {
      const wait = Math.max(0, Math.round((e.nextAt - this.clock.now()) / 1000));
      return Promise.reject(new Error(`no certificate for ${identity} (next attempt in ${wait} s): ${e.lastError.message}`));
    }
    return this.fetch(e, Priority.RealTime);
  }

  /** Drops `identity`: no more renewals. Connections holding its Credentials keep them. */
  forget(identity: string): void {
    const e = this.entries.get(identity);
    if (!e) return;
    this.clearTimer(e);
    this.entries.delete(identity);
    this.log.info({ identity }, 'identity: no pod needs this certificate any more');
  }

  identities(): string[] {
    return [...this.entries.keys()];
  }

  snapshot(): CertStatus[] {
    const now = this.clock.now();
    return [...this.entries.values()].map((e) => {
      const valid = e.current !== undefined && e.current.notAfter.getTime() > now;
      const state: CertState = valid ? 'available' : e.lastError ? 'unavailable' : 'initializing';
      return {
        identity: e.identity,
        state,
        ...(e.current
          ? { serialNumber: e.current.serialNumber, notBefore: e.current.notBefore.toISOString(), notAfter: e.current.notAfter.toISOString() }
          : {}),
        ...(e.nextAt !== undefined && e.timer !== undefined ? { nextAttempt: new Date(e.nextAt).toISOString() } : {}),
        failures: e.failures,
        ...(e.lastError ? { lastError: e.lastError.message } : {}),
      };
    });
  }

  close(): void {
    this.closed = true;
    for (const e of this.entries.values()) this.clearTimer(e);
    this.entries.clear();
  }

  private entry(identity: string): Entry {
    let e = this.entries.get(identity);
    if (!e) {
      if (this.closed) throw new Error('SecretManager is closed');
      parseSpiffeId(identity); // throws a clear error for a malformed id
      e = { identity, failures: 0 };
      this.entries.set(identity, e);
    }
    return e;
  }

  private fetch(e: Entry, priority: Priority): Promise<Credentials> {
    if (e.inflight) return e.inflight;
    this.clearTimer(e);
    const p = this.limiter.run(priority, () => this.request(e.identity)).then(
      ({ creds, requestedAt }) => {
        e.inflight = undefined;
        this.onSuccess(e, creds, requestedAt);
        return creds;
      },
      (err: Error) => {
        e.inflight = undefined;
        this.onFailure(e, err);
        throw err;
      },
    );
    e.inflight = p;
    return p;
  }

  private async request(identity: string): Promise<{ creds: Credentials; requestedAt: number }> {
    const csr = await this.makeCsr(identity);
    const requestedAt = this.clock.now();
    const chain = await this.opts.ca.createCertificate({ identity, csrPem: csr.csrPem, ttlSeconds: this.ttlSeconds });
    const creds = await credentialsFromResponse(identity, chain, csr.privateKeyPem, new Date(this.clock.now()));
    return { creds, requestedAt };
  }

  private live(e: Entry): boolean {
    return !this.closed && this.entries.get(e.identity) === e;
  }

  private onSuccess(e: Entry, creds: Credentials, requestedAt: number): void {
    if (!this.live(e)) return;
    const previous = e.current;
    e.current = creds;
    e.failures = 0;
    e.lastError = undefined;
    const delay = refreshDelayMs(creds, requestedAt, this.clock.now(), this.opts.minRefreshMs ?? 1000);
    this.schedule(e, delay);
    this.log.info(
      { identity: e.identity, serial: creds.serialNumber, notAfter: creds.notAfter.toISOString(), renewInMs: delay },
      previous ? 'identity: certificate rotated' : 'identity: certificate issued',
    );
    if (previous) this.emit('rotated', e.identity, creds, previous);
    else this.emit('fetched', e.identity, creds);
  }

  private onFailure(e: Entry, err: Error): void {
    if (!this.live(e)) return;
    e.failures++;
    e.lastError = err;
    const delay = backoffDelay(this.backoff, e.failures - 1, this.opts.random);
    this.schedule(e, delay);
    const keep = e.current && e.current.notAfter.getTime() > this.clock.now() ? e.current.notAfter.toISOString() : undefined;
    this.log.warn(
      { identity: e.identity, err: err.message, failures: e.failures, retryInMs: delay, ...(keep ? { keepingCertUntil: keep } : {}) },
      'identity: certificate request failed',
    );
    this.emit('fetchFailed', e.identity, err);
  }

  private schedule(e: Entry, delayMs: number): void {
    this.clearTimer(e);
    e.nextAt = this.clock.now() + delayMs;
    e.timer = this.clock.setTimeout(() => {
      e.timer = undefined;
      if (this.live(e)) void this.fetch(e, Priority.Background).catch(() => undefined);
    }, delayMs);
  }

  private clearTimer(e: Entry): void {
    if (e.timer !== undefined) this.clock.clearTimeout(e.timer);
    e.timer = undefined;
  }
}
