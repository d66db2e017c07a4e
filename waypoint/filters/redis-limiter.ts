/**
 * Global rate limits shared by every replica of a waypoint: fixed-window counters in Redis, each
 * request counted by one Lua script that INCRs every counter it falls under and gives a new
 * counter its time to live (PEXPIRE), atomically, so no counter outlives its window and replicas
 * never race between the two commands.
 *
 * A dead or slow Redis must cost a request milliseconds: commands are never queued while the
 * connection is down (they fail at once and the policy's failure mode decides: OPEN lets the
 * request through, CLOSED answers 429), each call waits at most the policy's timeout, and ioredis
 * keeps reconnecting in the background with a capped back-off, so counting resumes by itself when
 * Redis is back. Only before the first connection ever succeeded does a call wait (up to its
 * timeout) for the connection, so a freshly started waypoint does not fail its first requests.
 */
import { Redis } from 'ioredis';
import { GlobalRateLimit_FailureMode, type GlobalRateLimit } from '../../lib/proto/gen/ambit/l7/v1/ratelimit_pb.js';
import { parseHostPort } from '../../lib/net/host-port.js';
import { durationMs } from '@bufbuild/protobuf/wkt';
import type { L7Request } from './l7-request.js';
import { windowCounters, type WindowCounter } from './rate-limit-keys.js';
import { combine, type RateLimitDecision } from './rate-limit-decision.js';

/** INCR every key; a key without a TTL (new) gets its window as TTL. Returns the counts. */
export const COUNT_SCRIPT = `
local out = {}
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or redis.call('PTTL', key) < 0 then
    redis.call('PEXPIRE', key, ARGV[i])
  end
  out[i] = n
end
return out
`;

/** The compiler's default when a policy gives none. */
const DEFAULT_TIMEOUT_MS = 100;
const MAX_RECONNECT_DELAY_MS = 1_000;

export interface RedisCounterOptions {
  /** How long one TCP connect may take (default 500ms). */
  connectTimeoutMs?: number;
}

type CountingRedis = Redis & { ambitCount(numKeys: number, ...args: Array<string | number>): Promise<number[]> };

class TimeoutError extends Error {}

/** One Redis server's counters; one connection, shared by every policy naming that address. */
export class RedisCounters {
  readonly #redis: CountingRedis;
  #everReady = false;
  #closed = false;
  readonly #firstReady: Promise<void>;
  /** The last connection problem, for logs and /config_dump. */
  lastError: string | undefined;

  constructor(
    readonly address: string,
    opts: RedisCounterOptions = {},
  ) {
    const { host, port } = parseHostPort(address);
    const redis = new Redis({
      host: host || '127.0.0.1',
      port,
      connectTimeout: opts.connectTimeoutMs ?? 500,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      enableReadyCheck: true,
      retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 10), MAX_RECONNECT_DELAY_MS),
      reconnectOnError: () => false,
    });
    redis.defineCommand('ambitCount', { lua: COUNT_SCRIPT });
    this.#firstReady = new Promise<void>((resolve) => redis.once('ready', () => resolve()));
    redis.on('ready', () => {
      this.#everReady = true;
      this.lastError = undefined;
    });
    // Without a listener ioredis reports every failed reconnect on stderr.
    redis.on('error', (err: Error) => {
      this.lastError = err.message;
    });
    this.#redis = redis as CountingRedis;
  }

  get ready(): boolean {
    return this.#redis.status === 'ready';
  }

  /** Counts one hit on every counter; rejects when Redis cannot answer within `timeoutMs`. */
  async count(counters: readonly WindowCounter[], timeoutMs: number): Promise<number[]> {
    if (counters.length === 0) return [];
    const deadline = Date.now() + timeoutMs;
    if (!this.ready) await this.#awaitFirstConnection(timeoutMs);
    const args = [...counters.map((c) => c.key), ...counters.map((c) => String(c.windowMs))];
    return withTimeout(this.#redis.ambitCount(counters.length, ...args), Math.max(1, deadline - Date.now()), () => `Redis ${this.address} did not answer within ${timeoutMs}ms`);
  }

  async #awaitFirstConnection(timeoutMs: number): Promise<void> {
    if (this.#closed) throw new Error(`Redis ${this.address}: limiter closed`);
    // Once it has been up, down means down: fail now rather than make every request wait.
    if (this.#everReady || this.#redis.status === 'reconnecting' || this.#redis.status === 'end') {
      throw new Error(`Redis ${this.address} is unreachable${this.lastError ? ` (${this.lastError})` : ''}`);
    }
    await withTimeout(this.#firstReady, timeoutMs, () => `Redis ${this.address}: no connection within ${timeoutMs}ms`);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#redis.disconnect();
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(message())), ms);
  });
  // A late answer after the timeout must not surface as an unhandled rejection.
  p.catch(() => undefined);
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export interface GlobalLimitClock {
  now(): number;
}

/** Applies one policy's global limits to a request through `counters`. */
export async function checkGlobal(
  policyKey: string,
  global: GlobalRateLimit,
  req: L7Request,
  counters: RedisCounters,
  clock: GlobalLimitClock = Date,
): Promise<RateLimitDecision> {
  const now = clock.now();
  const windows = windowCounters(policyKey, global, req, now);
  if (windows.length === 0) return { allowed: true, limit: 0, remaining: 0, resetSeconds: 0 };
  const timeoutMs = global.timeout ? durationMs(global.timeout) || DEFAULT_TIMEOUT_MS : DEFAULT_TIMEOUT_MS;
  const resetOf = (w: WindowCounter): number => Math.max(0, Math.ceil((w.windowEnd - now) / 1000));
  let counts: number[];
  try {
    counts = await counters.count(windows, timeoutMs);
  } catch (err) {
    const open = global.failureMode !== GlobalRateLimit_FailureMode.CLOSED;
    const tightest = windows.reduce((a, b) => (b.limit < a.limit ? b : a));
    const why = err instanceof Error ? err.message : String(err);
    return {
      allowed: open,
      limit: tightest.limit,
      remaining: open ? tightest.limit : 0,
      resetSeconds: resetOf(tightest),
      policy: policyKey,
      failure: open ? 'open' : 'closed',
      reason: `global rate limit ${policyKey}: ${why}; failure mode ${open ? 'OPEN lets the request through' : 'CLOSED refuses it'}`,
    };
  }
  return combine(
    windows.map((w, i) => {
      const n = counts[i] ?? 0;
      const allowed = n <= w.limit;
      return {
        allowed,
        limit: w.limit,
        remaining: Math.max(0, w.limit - n),
        resetSeconds: resetOf(w),
        policy: policyKey,
        ...(allowed ? {} : { reason: `global rate limit ${policyKey} limit[${w.index}]: ${n} requests in the window, ${w.limit} allowed` }),
      };
    }),
  );
}
