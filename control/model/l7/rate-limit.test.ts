import t from 'tap';
import { compile, condition, rateLimitPolicy } from './testkit.js';

const toWeb = { targetRefs: [{ group: '', kind: 'Service', name: 'web' }] };

t.test('RateLimitPolicy', async (t) => {
  const m = compile({
    rateLimitPolicies: [
      rateLimitPolicy('app', 'local', { ...toWeb, local: { tokens: 4, fillInterval: '1m' } }),
      rateLimitPolicy('app', 'global', {
        targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'waypoint' }],
        global: {
          redis: { address: 'redis.ambit-system:6379' },
          failureMode: 'Closed',
          timeout: '50ms',
          limits: [
            { requests: 100, unit: 'Minute', descriptors: [{ header: { name: 'X-User' } }] },
            { requests: 1, unit: 'Second', descriptors: [{ path: { value: '/login' } }, { sourceIdentity: {} }] },
          ],
        },
      }),
      rateLimitPolicy('app', 'both', { ...toWeb, local: { tokens: 10, tokensPerFill: 2, fillInterval: '500ms' }, global: { limits: [{ requests: 5, unit: 'Hour' }] } }),
    ],
  }, { rateLimitRedis: 'redis.default:6379' });
  t.same(m.rateLimits.get('app/local'), { name: 'local', namespace: 'app', targets: [{ waypoint: 'app/waypoint', hostnames: ['web.app.svc.cluster.local'] }], local: { maxTokens: 4, tokensPerFill: 4, fillIntervalMs: 60_000 } });
  t.same(m.rateLimits.get('app/global')?.global, {
    redisAddress: 'redis.ambit-system:6379',
    failureMode: 'CLOSED',
    timeoutMs: 50,
    limits: [
      { descriptors: [{ header: 'x-user' }], requestsPerUnit: 100, unit: 'MINUTE' },
      { descriptors: [{ path: true, value: '/login' }, { sourceIdentity: true }], requestsPerUnit: 1, unit: 'SECOND' },
    ],
  });
  t.same(m.rateLimits.get('app/global')?.targets, [{ waypoint: 'app/waypoint', hostnames: [] }]);
  t.match(m.rateLimits.get('app/both'), { local: { maxTokens: 10, tokensPerFill: 2, fillIntervalMs: 500 }, global: { redisAddress: 'redis.default:6379', failureMode: 'OPEN', timeoutMs: 100 } }, 'defaults: the control plane\'s Redis, fail open, 100ms');
  t.match(condition(m, 'RateLimitPolicy/app/local', 'Accepted'), { status: 'True', message: 'enforced by waypoint app/waypoint' });
});

t.test('RateLimitPolicy errors', async (t) => {
  const cases: Array<{ what: string; spec: Record<string, unknown>; field: string; reason: string; message: RegExp }> = [
    { what: 'negative rate', spec: { ...toWeb, global: { redis: { address: 'r:6379' }, limits: [{ requests: -1, unit: 'Second' }] } }, field: 'spec.global.limits[0].requests', reason: 'Invalid', message: /must not be negative/ },
    { what: 'negative tokens', spec: { ...toWeb, local: { tokens: -3, fillInterval: '1s' } }, field: 'spec.local.tokens', reason: 'Invalid', message: /at least 1/ },
    { what: 'no fill interval', spec: { ...toWeb, local: { tokens: 3 } }, field: 'spec.local.fillInterval', reason: 'Invalid', message: /required/ },
    { what: 'bare-number fill interval', spec: { ...toWeb, local: { tokens: 3, fillInterval: 1 } }, field: 'spec.local.fillInterval', reason: 'Invalid', message: /duration/ },
    { what: 'unknown unit', spec: { ...toWeb, global: { redis: { address: 'r:6379' }, limits: [{ requests: 1, unit: 'Week' }] } }, field: 'spec.global.limits[0].unit', reason: 'Invalid', message: /Second, Minute, Hour, Day/ },
    { what: 'no Redis', spec: { ...toWeb, global: { limits: [{ requests: 1, unit: 'Second' }] } }, field: 'spec.global.redis.address', reason: 'Invalid', message: /host:port/ },
    { what: 'bad Redis address', spec: { ...toWeb, global: { redis: { address: 'redis' }, limits: [{ requests: 1, unit: 'Second' }] } }, field: 'spec.global.redis.address', reason: 'Invalid', message: /must be host:port/ },
    { what: 'no limits', spec: { ...toWeb, global: { redis: { address: 'r:6379' } } }, field: 'spec.global.limits', reason: 'Invalid', message: /at least one limit/ },
    { what: 'ambiguous descriptor', spec: { ...toWeb, global: { redis: { address: 'r:6379' }, limits: [{ requests: 1, unit: 'Second', descriptors: [{ header: { name: 'a' }, path: {} }] }] } }, field: 'spec.global.limits[0].descriptors[0]', reason: 'Invalid', message: /exactly one/ },
    { what: 'bad failure mode', spec: { ...toWeb, global: { redis: { address: 'r:6379' }, failureMode: 'open', limits: [{ requests: 1, unit: 'Second' }] } }, field: 'spec.global.failureMode', reason: 'Invalid', message: /Open, Closed/ },
    { what: 'neither local nor global', spec: { ...toWeb }, field: 'spec', reason: 'Invalid', message: /local, global or both/ },
    { what: 'no targets', spec: { local: { tokens: 1, fillInterval: '1s' } }, field: 'spec.targetRefs', reason: 'Invalid', message: /at least one target/ },
    { what: 'missing target', spec: { targetRefs: [{ kind: 'Service', name: 'nope' }], local: { tokens: 1, fillInterval: '1s' } }, field: 'spec.targetRefs[0].name', reason: 'TargetNotFound', message: /does not exist/ },
  ];
  for (const c of cases) {
    const m = compile({ rateLimitPolicies: [rateLimitPolicy('app', 'bad', c.spec)] });
    t.equal(m.rateLimits.size, 0, `${c.what}: not applied`);
    t.match(condition(m, 'RateLimitPolicy/app/bad', 'Accepted'), { status: 'False', reason: c.reason, message: c.field }, c.what);
    t.match(m.problems, [{ kind: 'RateLimitPolicy', field: c.field, message: c.message }], c.what);
  }
});
