import t from 'tap';
import { CircuitBreaker, type Release } from './circuit-breaker.js';
import { connectionPool } from './testkit.js';

type Taker = 'tryRequest' | 'tryPending' | 'tryConnection' | 'tryRetry';

/** How many slots `take` hands out before refusing (stops at 1000: unlimited). */
function capacity(cb: CircuitBreaker, take: Taker): { n: number; releases: Release[] } {
  const releases: Release[] = [];
  for (let i = 0; i < 1000; i++) {
    const r = cb[take]();
    if (!r) break;
    releases.push(r);
  }
  return { n: releases.length, releases };
}

t.test('each limit, and unset or 0 as unlimited', async (t) => {
  const rows: Array<[string, Parameters<typeof connectionPool>[0] | undefined, Taker, number]> = [
    ['maxConnections', { maxConnections: 3 }, 'tryConnection', 3],
    ['http1MaxPendingRequests', { http1MaxPendingRequests: 2 }, 'tryPending', 2],
    ['http2MaxRequests', { http2MaxRequests: 5 }, 'tryRequest', 5],
    ['maxRetries', { maxRetries: 1 }, 'tryRetry', 1],
    ['no connection pool: connections unlimited', undefined, 'tryConnection', 1000],
    ['no connection pool: requests unlimited', undefined, 'tryRequest', 1000],
    ['no connection pool: retries unlimited (Istio, not Envoy’s 3)', undefined, 'tryRetry', 1000],
    ['an unset field is unlimited', { maxConnections: 3 }, 'tryRequest', 1000],
    ['0 is unlimited', { http2MaxRequests: 0 }, 'tryRequest', 1000],
    ['limits are independent', { http2MaxRequests: 1 }, 'tryPending', 1000],
  ];
  for (const [name, pool, take, want] of rows) {
    const cb = new CircuitBreaker(pool && connectionPool(pool));
    t.equal(capacity(cb, take).n, want, name);
  }
});

t.test('release frees a slot, once', async (t) => {
  const cb = new CircuitBreaker(connectionPool({ http2MaxRequests: 2 }));
  const a = cb.tryRequest();
  const b = cb.tryRequest();
  t.ok(a && b, 'two taken');
  t.equal(cb.tryRequest(), undefined, 'third refused');
  a?.();
  a?.();
  a?.();
  t.equal(cb.stats().requests.active, 1, 'a release called three times frees one slot');
  const c = cb.tryRequest();
  t.ok(c, 'the freed slot is taken again');
  t.equal(cb.tryRequest(), undefined, 'and no more than that');
  t.same(cb.stats().requests, { limit: 2, active: 2, overflow: 2 }, 'refusals counted');
});

t.test('retry budget', async (t) => {
  const cb = new CircuitBreaker(connectionPool({ maxRetries: 2 }));
  t.equal(cb.retryBudget(), 2);
  const r = cb.tryRetry();
  t.equal(cb.retryBudget(), 1);
  cb.tryRetry();
  t.equal(cb.retryBudget(), 0);
  t.equal(cb.tryRetry(), undefined);
  r?.();
  t.equal(cb.retryBudget(), 1);
  t.equal(new CircuitBreaker(undefined).retryBudget(), Infinity, 'unlimited');
});

t.test('maxRequestsPerConnection', async (t) => {
  t.equal(new CircuitBreaker(connectionPool({ maxRequestsPerConnection: 1 })).maxRequestsPerConnection, 1, '1 disables keep-alive');
  t.equal(new CircuitBreaker(connectionPool({ maxRequestsPerConnection: 0 })).maxRequestsPerConnection, undefined, '0 unlimited');
  t.equal(new CircuitBreaker(undefined).maxRequestsPerConnection, undefined, 'unset unlimited');
});

t.test('new limits keep what is in progress', async (t) => {
  const cb = new CircuitBreaker(connectionPool({ maxConnections: 10 }));
  const held = capacity(cb, 'tryConnection').releases;
  t.equal(held.length, 10);
  cb.setLimits(connectionPool({ maxConnections: 5 }));
  t.equal(cb.tryConnection(), undefined, 'lowered below the open count: refused');
  for (const r of held.slice(0, 6)) r();
  t.ok(cb.tryConnection(), 'once below the new limit, accepted');
  cb.setLimits(undefined);
  t.equal(capacity(cb, 'tryConnection').n, 1000, 'limits removed: unlimited');
});

t.test('connections the pool opened are counted whatever the limit; waits count as overflow', async (t) => {
  const cb = new CircuitBreaker(connectionPool({ maxConnections: 1 }));
  t.equal(cb.connectionLimit, 1);
  const a = cb.countConnection();
  const b = cb.countConnection();
  t.equal(cb.stats().connections.active, 2, 'an endpoint without a connection may open one at the limit');
  t.equal(cb.tryConnection(), undefined, 'tryConnection still refuses over the limit');
  cb.noteConnectionOverflow();
  t.equal(cb.stats().connections.overflow, 2);
  a();
  a();
  b();
  t.equal(cb.stats().connections.active, 0, 'released once each');
  t.equal(new CircuitBreaker(undefined).connectionLimit, undefined, 'unlimited');
});
