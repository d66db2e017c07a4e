/**
 * Outlier detection for one destination (Istio's `outlierDetection`, Envoy's consecutive-error
 * detector). Every response or connect failure is reported per endpoint:
 *
 * - a 5xx adds to the endpoint's consecutive 5xx count; 502/503/504 and connect failures also
 *   add to its consecutive gateway-error count (a connect failure counts as a 503, as Envoy maps
 *   local-origin errors when they are not split); any other 5xx resets the gateway count, and a
 *   success resets both;
 * - reaching a threshold (0 disables it) ejects the endpoint at once for baseEjectionTime × the
 *   number of times it has been ejected (capped at max(300s, baseEjectionTime), as Envoy does),
 *   unless that would put more than maxEjectionPercent of the endpoints out; the first ejection
 *   is allowed whenever the percentage is above 0, even if one endpoint is more than that share;
 * - every `interval` a sweep lowers the ejection multiplier of endpoints that stayed healthy for
 *   the whole interval, so an endpoint that recovered gets short ejections again;
 * - below minHealthPercent of endpoints healthy, health is ignored (Envoy's panic threshold):
 *   isEjected answers false for all.
 *
 * Pure: time comes from the injected clock; nothing runs on a timer. An ejected endpoint is back
 * as soon as its time is up (checked on every call), and the sweep runs lazily on the next call
 * after each interval boundary.
 */
import { durationMs } from '@bufbuild/protobuf/wkt';
import type { OutlierDetection } from '../../lib/proto/gen/ambit/l7/v1/destination_pb.js';

export type Outcome = 'success' | '5xx' | 'gateway-error' | 'connect-failure';

export interface OutlierClock {
  now(): number;
}

/** Istio's defaults, for fields a hand-built resource leaves unset. */
const DEFAULT_INTERVAL_MS = 10_000;
const DEFAULT_BASE_EJECTION_MS = 30_000;
/** Envoy's max_ejection_time. */
const MAX_EJECTION_MS = 300_000;

interface HostState {
  consecutive5xx: number;
  consecutiveGateway: number;
  /** How many times ejected, lowered by healthy sweeps; the ejection lasts base × this. */
  multiplier: number;
  /** When the current ejection ends; undefined when not ejected. */
  ejectedUntil?: number;
  /** When the last ejection ended (or will), so the sweep can tell a whole healthy interval. */
  lastEjectionEnd?: number;
}

export interface OutlierSnapshot {
  id: string;
  ejected: boolean;
  ejectedUntil?: number;
  multiplier: number;
  consecutive5xx: number;
  consecutiveGatewayErrors: number;
}

export class OutlierDetector {
  readonly #hosts = new Map<string, HostState>();
  readonly #intervalMs: number;
  readonly #baseMs: number;
  readonly #maxEjectionMs: number;
  #nextSweep: number;
  /** Ejections made, for the destination's metrics. */
  ejectionsTotal = 0;
  /** Ejections refused by maxEjectionPercent. */
  ejectionsOverflow = 0;

  constructor(
    private readonly settings: OutlierDetection,
    private readonly clock: OutlierClock,
  ) {
    const interval = settings.interval ? durationMs(settings.interval) : DEFAULT_INTERVAL_MS;
    this.#intervalMs = interval > 0 ? interval : DEFAULT_INTERVAL_MS;
    const base = settings.baseEjectionTime ? durationMs(settings.baseEjectionTime) : DEFAULT_BASE_EJECTION_MS;
    this.#baseMs = base > 0 ? base : DEFAULT_BASE_EJECTION_MS;
    this.#maxEjectionMs = Math.max(MAX_EJECTION_MS, this.#baseMs);
    this.#nextSweep = clock.now() + this.#intervalMs;
  }

  /**
   * The endpoints of the destination now. Percentages are over this set; endpoints that left are
   * forgotten (a returning one starts clean), new ones start healthy.
   */
  setEndpoints(ids: Iterable<string>): void {
    const live = new Set(ids);
    for (const id of this.#hosts.keys()) if (!live.has(id)) this.#hosts.delete(id);
    for (const id of live) if (!this.#hosts.has(id)) this.#hosts.set(id, { consecutive5xx: 0, consecutiveGateway: 0, multiplier: 0 });
  }

  /** The result of one request (or connect attempt) to `endpointId`. Unknown ids are ignored. */
  report(endpointId: string, outcome: Outcome): void {
    const now = this.#tick();
    const h = this.#hosts.get(endpointId);
    if (!h) return;
    if (outcome === 'success') {
      h.consecutive5xx = 0;
      h.consecutiveGateway = 0;
      return;
    }
    h.consecutive5xx++;
    if (outcome === 'gateway-error' || outcome === 'connect-failure') h.consecutiveGateway++;
    else h.consecutiveGateway = 0;
    // Answers from an endpoint already out (requests that were in flight) change nothing more.
    if (this.#isOut(h, now)) return;
    const s = this.settings;
    const by5xx = s.consecutive5xxErrors > 0 && h.consecutive5xx >= s.consecutive5xxErrors;
    const byGateway = s.consecutiveGatewayErrors > 0 && h.consecutiveGateway >= s.consecutiveGatewayErrors;
    if (by5xx || byGateway) this.#eject(h, now);
  }

  /** Whether the balancer must skip the endpoint now (always false in panic). */
  isEjected(endpointId: string): boolean {
    const now = this.#tick();
    const h = this.#hosts.get(endpointId);
    if (!h || !this.#isOut(h, now)) return false;
    return !this.#panic(now);
  }

  /** Endpoints currently ejected (counted even in panic). */
  ejectedCount(): number {
    const now = this.#tick();
    let n = 0;
    for (const h of this.#hosts.values()) if (this.#isOut(h, now)) n++;
    return n;
  }

  /** For /config_dump and logs. */
  snapshot(): OutlierSnapshot[] {
    const now = this.#tick();
    return [...this.#hosts].map(([id, h]) => ({
      id,
      ejected: this.#isOut(h, now),
      ...(this.#isOut(h, now) ? { ejectedUntil: h.ejectedUntil } : {}),
      multiplier: h.multiplier,
      consecutive5xx: h.consecutive5xx,
      consecutiveGatewayErrors: h.consecutiveGateway,
    }));
  }

  #isOut(h: HostState, now: number): boolean {
    if (h.ejectedUntil === undefined) return false;
    if (now < h.ejectedUntil) return true;
    h.ejectedUntil = undefined;
    return false;
  }

  #panic(now: number): boolean {
    const min = this.settings.minHealthPercent;
    const total = this.#hosts.size;
    if (min <= 0 || total === 0) return false;
    let healthy = 0;
    for (const h of this.#hosts.values()) if (!this.#isOut(h, now)) healthy++;
    return (100 * healthy) / total < min;
  }

  #eject(h: HostState, now: number): void {
    const max = this.settings.maxEjectionPercent;
    const total = this.#hosts.size;
    let active = 0;
    for (const o of this.#hosts.values()) if (this.#isOut(o, now)) active++;
    const allowed = max > 0 && (active === 0 || (100 * (active + 1)) / total <= max);
    if (!allowed) {
      this.ejectionsOverflow++;
      return;
    }
    h.multiplier++;
    h.ejectedUntil = now + Math.min(this.#baseMs * h.multiplier, this.#maxEjectionMs);
    h.lastEjectionEnd = h.ejectedUntil;
    // The next ejection needs a fresh run of errors.
    h.consecutive5xx = 0;
    h.consecutiveGateway = 0;
    this.ejectionsTotal++;
  }

  /** Runs the sweeps that fell due since the last call; returns the time now. */
  #tick(): number {
    const now = this.clock.now();
    while (now >= this.#nextSweep) {
      const sweepAt = this.#nextSweep;
      for (const h of this.#hosts.values()) {
        const healthyAllInterval = !this.#isOut(h, sweepAt) && (h.lastEjectionEnd === undefined || h.lastEjectionEnd <= sweepAt - this.#intervalMs);
        if (healthyAllInterval && h.multiplier > 0) h.multiplier--;
      }
      // After a long quiet spell, catch up without looping once per missed interval.
      const missed = Math.floor((now - sweepAt) / this.#intervalMs);
      if (missed > 64) {
        for (const h of this.#hosts.values()) if (!this.#isOut(h, now)) h.multiplier = Math.max(0, h.multiplier - missed);
        this.#nextSweep = sweepAt + (missed + 1) * this.#intervalMs;
      } else {
        this.#nextSweep = sweepAt + this.#intervalMs;
      }
    }
    return now;
  }
}
