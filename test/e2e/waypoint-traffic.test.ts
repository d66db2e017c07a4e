// End-to-end: the waypoint's traffic management on the local cluster, each scenario applied as
// the user's Istio / Gateway API YAML with `ambit apply`, and driven from the client pod with
// `ambit echo` (one `echo client` run per load, so 1,000 requests are one exec). One cluster and
// one waypoint for all scenarios; each scenario has its own Service (test/fixtures/waypoint-traffic.yaml)
// so their routes and policies never overlap.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Pod } from '../../lib/k8s/types.js';
import type { KubeObject } from '../../lib/store/types.js';
import { ROOT, TestCluster, eventually, metricSum, podMetrics } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'waypoint-traffic.yaml');
const NS = 'wpt';

interface List<T> {
  items: T[];
}

interface Load {
  requests: number;
  ok: number;
  errors: Record<string, number>;
  versions: Record<string, number>;
  latencyMs: { p50: number; p99: number; min: number; max: number };
}

const statusText = (o: KubeObject): string => JSON.stringify(o.status ?? {});

t.test('waypoint traffic management, as the user applies it', async (t) => {
  const c = new TestCluster('wp-traffic');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const prefix = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string }).prefix;
  const pods = async (...selector: string[]) => (await c.json<List<Pod>>('get', 'pods', '-n', NS, ...selector)).items;
  await eventually('all pods ready', async () => {
    const ps = await pods();
    return ps.length === 6 && ps.every((p) => p.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True');
  }, 120_000);
  const clientRef = `${NS}/${(await pods('-l', 'app=client'))[0]!.metadata.name}`;
  const serverRef = `${NS}/${(await pods('-l', 'app=server'))[0]!.metadata.name}`;

  /** One request from a pod: its status (0: no answer) and body. */
  const request = async (from: string, url: string, ...args: string[]): Promise<{ status: number; body: string }> => {
    const r = await c.try('exec', from, '--', 'ambit', 'echo', 'request', url, '-i', '--timeout', '5s', ...args);
    const m = /^Status: (\d+)/.exec(r.stdout);
    return { status: m ? Number(m[1]) : 0, body: r.stdout };
  };
  /** A load run from the client pod (closed loop unless --qps). */
  const load = async (url: string, ...args: string[]): Promise<Load> => {
    const r = await c.try('exec', clientRef, '--', 'ambit', 'echo', 'client', url, '--json', ...args);
    try {
      return JSON.parse(r.stdout) as Load;
    } catch {
      throw new Error(`echo client ${url} gave no report (exit ${r.code}): ${r.stdout}\n${r.stderr}`);
    }
  };

  const applied = await c.try('waypoint', 'apply', '-n', NS, '--enroll-namespace', '--wait', '--waypoint-timeout', '120s');
  t.equal(applied.code, 0, `waypoint apply --enroll-namespace --wait: ${applied.stderr}`);
  const wpPod = (await pods('-l', 'gateway.networking.k8s.io/gateway-name=waypoint'))[0]!;
  const metrics = (): Promise<string> => podMetrics(prefix, wpPod);
  const counted = async (labels: Record<string, string>): Promise<number> => metricSum(await metrics(), 'istio_requests_total', { reporter: 'waypoint', ...labels });
  // The binding reaches the ztunnels through xDS shortly after the status says so.
  await eventually('requests pass the waypoint', async () => (await request(clientRef, 'http://server/')).status === 200 && (await counted({ destination_service_name: 'server' })) > 0, 60_000);

  /** Applies YAML and waits until the waypoint serves it (`ready` says so). */
  const applyAndWait = async (what: string, yaml: string, ready: () => Promise<boolean>): Promise<void> => {
    await c.applyYaml(yaml);
    await eventually(what, async () => (await ready()) || undefined, 30_000, 500);
  };

  await t.test('canary: an HTTPRoute 90/10 over 1,000 requests; a header match sends a tester to v2', async (t) => {
    await applyAndWait(
      'the canary route in force',
      `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: server-canary, namespace: ${NS} }
spec:
  parentRefs:
    - { group: "", kind: Service, name: server, port: 80 }
  rules:
    - matches:
        - headers: [{ name: x-tester, value: "yes" }]
      backendRefs: [{ name: server-v2, port: 80 }]
    - backendRefs:
        - { name: server-v1, port: 80, weight: 90 }
        - { name: server-v2, port: 80, weight: 10 }
`,
      async () => (await load('http://server/', '-n', '20', '-H', 'x-tester:yes')).versions.v2 === 20,
    );
    const split = await load('http://server/', '-n', '1000', '-c', '4');
    t.equal(split.ok, 1000, `every request answered: ${JSON.stringify(split.errors)}`);
    const v1 = split.versions.v1 ?? 0;
    t.ok(v1 >= 860 && v1 <= 940, `90% ±4% to v1 (v1 ${v1}, v2 ${split.versions.v2 ?? 0})`);
    const tester = await load('http://server/', '-n', '100', '-c', '2', '-H', 'x-tester:yes');
    t.same(tester.versions, { v2: 100 }, 'the tester only ever reaches v2');
    const route = await c.json<KubeObject>('get', 'httproute', 'server-canary', '-n', NS);
    t.match(statusText(route), /"Accepted"[^}]*"status":"True"|"status":"True"[^}]*"Accepted"/, `the route's status says Accepted: ${statusText(route)}`);
  });

  await t.test('VirtualService faults: abort 503 at 50%, a 200 ms delay, a timeout cutting a slow backend', async (t) => {
    const host = `faults.${NS}.svc.cluster.local`;
    const route = `route: [{ destination: { host: ${host} } }]`;
    await applyAndWait(
      'the VirtualService in force',
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: faults, namespace: ${NS} }
spec:
  hosts: [${host}]
  http:
    - match: [{ uri: { prefix: /abort } }]
      fault: { abort: { httpStatus: 503, percentage: { value: 50 } } }
      ${route}
    - match: [{ uri: { prefix: /delay } }]
      fault: { delay: { fixedDelay: 200ms, percentage: { value: 100 } } }
      ${route}
    - match: [{ uri: { prefix: /slow } }]
      timeout: 300ms
      ${route}
    - ${route}
`,
      async () => (await request(clientRef, 'http://faults/slow?delay=1s')).status === 504,
    );
    const aborts = await load('http://faults/abort', '-n', '1000', '-c', '4');
    const aborted = aborts.errors['status:503'] ?? 0;
    t.ok(aborted >= 450 && aborted <= 550, `50% ±5% aborted with 503 (got ${aborted}; ok ${aborts.ok})`);
    t.equal(aborted + aborts.ok, 1000, 'the rest answered');
    t.ok((await counted({ destination_service_name: 'faults', response_code: '503', response_flags: 'FI' })) >= aborted, 'the waypoint counts the aborts with flag FI');

    const plain = await load('http://faults/', '-n', '20');
    const delayed = await load('http://faults/delay', '-n', '10');
    t.equal(delayed.ok, 10);
    t.ok(delayed.latencyMs.min >= 195, `every delayed request took 200 ms or more (min ${delayed.latencyMs.min.toFixed(1)} ms)`);
    t.ok(plain.latencyMs.p50 < 100, `undelayed requests stay fast (p50 ${plain.latencyMs.p50.toFixed(1)} ms)`);

    const slow = await load('http://faults/slow?delay=2s', '-n', '3');
    t.same(slow.errors, { 'status:504': 3 }, 'a backend slower than the route timeout is cut with 504');
    t.ok(slow.latencyMs.max < 1000, `cut after about 300 ms (max ${slow.latencyMs.max.toFixed(0)} ms)`);
    t.ok((await counted({ destination_service_name: 'faults', response_code: '504', response_flags: 'UT' })) >= 3, 'counted with flag UT');
  });

  await t.test('DestinationRule connectionPool: over maxConnections and http1MaxPendingRequests, 503 with flag UO', async (t) => {
    const host = `capped.${NS}.svc.cluster.local`;
    await applyAndWait(
      'the DestinationRule in force',
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: capped, namespace: ${NS} }
spec:
  host: ${host}
  trafficPolicy:
    connectionPool:
      tcp: { maxConnections: 1 }
      http: { http1MaxPendingRequests: 1 }
`,
      async () => ((await load('http://capped/?delay=200ms', '-n', '12', '-c', '6')).errors['status:503'] ?? 0) > 0,
    );
    const before = await counted({ destination_service_name: 'capped', response_code: '503', response_flags: 'UO' });
    // Six callers in a closed loop for 3 s against a 100 ms backend: one request in flight and one
    // waiting at a time are served; the others are refused at once (and the caller tries again).
    const r = await load('http://capped/?delay=100ms', '-d', '3s', '-c', '6');
    const overflow = r.errors['status:503'] ?? 0;
    t.ok(r.ok >= 10 && r.ok <= 31, `served one at a time over the one connection: ${r.ok} in 3 s`);
    t.ok(overflow >= 10, `the others overflow with 503 (${overflow} of ${r.requests})`);
    t.equal(r.ok + overflow, r.requests, `nothing else went wrong: ${JSON.stringify(r.errors)}`);
    t.equal((await counted({ destination_service_name: 'capped', response_code: '503', response_flags: 'UO' })) - before, overflow, 'each overflow counted with flag UO');
    const serial = await load('http://capped/?delay=50ms', '-n', '10', '-c', '1');
    t.equal(serial.ok, 10, 'one at a time is always served');
  });

  await t.test('L7 AuthorizationPolicy: GET /public allowed, POST /admin denied with 403, by the caller identity', async (t) => {
    await applyAndWait(
      'the policy in force',
      `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: admin-l7, namespace: ${NS} }
spec:
  targetRefs: [{ group: "", kind: Service, name: admin }]
  action: ALLOW
  rules:
    - from: [{ source: { principals: [cluster.local/ns/${NS}/sa/client] } }]
      to: [{ operation: { methods: [GET], paths: [/public*] } }]
`,
      async () => (await request(clientRef, 'http://admin/admin', '-X', 'POST', '--data', 'x')).status === 403,
    );
    t.equal((await request(clientRef, 'http://admin/public/page')).status, 200, 'client: GET /public allowed');
    const denied = await request(clientRef, 'http://admin/admin', '-X', 'POST', '--data', 'x');
    t.equal(denied.status, 403, 'client: POST /admin denied');
    t.match(denied.body, /RBAC: access denied/);
    t.equal((await request(clientRef, 'http://admin/public/page', '-X', 'POST', '--data', 'x')).status, 403, 'client: POST /public denied (method)');
    t.equal((await request(serverRef, 'http://admin/public/page')).status, 403, 'another identity (sa/server): GET /public denied');
    t.equal((await request(serverRef, 'http://spare/public/page')).status, 200, 'the policy targets only its Service');
  });

  await t.test('a local rate limit (RateLimitPolicy): over 10 tokens, 429 with the x-ratelimit headers', async (t) => {
    await applyAndWait(
      'the rate limit in force',
      `apiVersion: ratelimit.ambit.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: limited, namespace: ${NS} }
spec:
  targetRefs: [{ group: "", kind: Service, name: limited }]
  local: { tokens: 10, tokensPerFill: 10, fillInterval: 1s }
`,
      async () => ((await load('http://limited/', '-n', '30', '-c', '2')).errors['status:429'] ?? 0) > 0,
    );
    await new Promise((r) => setTimeout(r, 1100));
    const burst = await load('http://limited/', '-n', '100', '-c', '4');
    const limited = burst.errors['status:429'] ?? 0;
    // The bucket holds 10 and gets 10 more each second: a burst that crosses one refill gets 20.
    t.ok(burst.ok >= 10 && burst.ok <= 20, `10 tokens (one refill at most) served: ${burst.ok}`);
    t.equal(burst.ok + limited, 100, `the rest refused with 429: ${JSON.stringify(burst.errors)}`);
    // One process in the client pod sends requests one after the other until one is refused and
    // prints that answer (separate `ambit exec` runs are slower than the bucket's refill).
    const script = `const h=require('http');let n=0;const go=()=>h.get('http://limited/',r=>{r.resume();r.on('end',()=>{if(r.statusCode===429)console.log(JSON.stringify(r.headers));else if(++n<40)go();else console.log('{}')})});go()`;
    const refused = JSON.parse(await c.ambit('exec', clientRef, '--', 'node', '-e', script)) as Record<string, string>;
    t.equal(refused['x-ratelimit-limit'], '10', 'x-ratelimit-limit');
    t.equal(refused['x-ratelimit-remaining'], '0', 'x-ratelimit-remaining');
    t.match(refused['x-ratelimit-reset'], /^\d+$/, 'x-ratelimit-reset');
    t.ok((await counted({ destination_service_name: 'limited', response_code: '429' })) >= limited, 'the waypoint counts the 429s');
  });

  await t.test('VirtualService retries (attempts 3, retryOn 5xx) hide a backend failing 1 request in 3', async (t) => {
    const host = `flaky.${NS}.svc.cluster.local`;
    // Istio's default retry policy retries no status code, so without the VirtualService the
    // failures reach the caller.
    const bare = await load('http://flaky/', '-n', '300', '-c', '2');
    const failed = bare.errors['status:500'] ?? 0;
    t.ok(failed >= 90 && failed <= 110, `without retries a third fail with 500 (${failed} of 300; ok ${bare.ok})`);
    t.equal(failed + bare.ok, 300, `nothing else went wrong: ${JSON.stringify(bare.errors)}`);
    t.ok((await counted({ destination_service_name: 'flaky', response_code: '500' })) >= failed, 'the waypoint counts the 500s');
    await applyAndWait(
      'the retry route in force',
      `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: flaky, namespace: ${NS} }
spec:
  hosts: [${host}]
  http:
    - retries: { attempts: 3, retryOn: 5xx }
      route: [{ destination: { host: ${host} } }]
`,
      async () => (await load('http://flaky/', '-n', '30')).ok === 30,
    );
    const ok200 = await counted({ destination_service_name: 'flaky', response_code: '200' });
    const err500 = await counted({ destination_service_name: 'flaky', response_code: '500' });
    const healed = await load('http://flaky/', '-n', '300', '-c', '2');
    t.ok(healed.ok >= 297, `with retries ≥ 99% succeed (${healed.ok} of 300: ${JSON.stringify(healed.errors)})`);
    t.equal((await counted({ destination_service_name: 'flaky', response_code: '200' })) - ok200, healed.ok, 'the waypoint answered each with 200');
    t.equal((await counted({ destination_service_name: 'flaky', response_code: '500' })) - err500, healed.requests - healed.ok, 'and let no 500 through');
  });

  await t.test('DestinationRule outlierDetection ejects the failing pod of outlier, and it comes back after the ejection time', async (t) => {
    const host = `outlier.${NS}.svc.cluster.local`;
    const bad = { destination_service_name: 'outlier', destination_workload: 'outlier-bad' };
    const before = await load('http://outlier/', '-n', '60');
    t.ok((before.errors['status:500'] ?? 0) >= 10, `without outlier detection the bad pod gets its share: ${JSON.stringify(before.errors)} (ok ${before.ok})`);
    t.equal(before.versions.good ?? 0, before.ok, 'every success is the good pod');
    t.ok((await counted({ ...bad, response_code: '500' })) >= (before.errors['status:500'] ?? 0), 'the waypoint counts the bad pod\'s 500s by its workload');
    // Long enough that the checks below fit inside the ejection even on a loaded machine: the
    // ejection began before the wait saw it, so "ejectedAt" is late by up to one wait round.
    const baseEjectionMs = 30_000;
    await applyAndWait(
      'the bad pod ejected',
      `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: { name: outlier, namespace: ${NS} }
spec:
  host: ${host}
  trafficPolicy:
    outlierDetection: { consecutive5xxErrors: 3, interval: 1s, baseEjectionTime: ${baseEjectionMs / 1000}s, maxEjectionPercent: 50 }
`,
      async () => (await load('http://outlier/', '-n', '20')).ok === 20,
    );
    const ejectedAt = Date.now();
    const badBefore = await counted(bad);
    const during = await load('http://outlier/', '-n', '50', '-c', '2');
    t.equal(during.ok, 50, `while ejected every request succeeds: ${JSON.stringify(during.errors)}`);
    t.equal(during.versions.good, 50, 'all on the healthy sibling');
    t.equal(await counted(bad), badBefore, 'the waypoint sent the bad pod nothing');
    // Once its ejection is over the pod is an endpoint again: it gets traffic (and, still
    // failing, is ejected again after 3 more 500s).
    await eventually('the bad pod gets traffic again', async () => ((await load('http://outlier/', '-n', '10')).errors['status:500'] ?? 0) > 0 || undefined, baseEjectionMs + 30_000, 250);
    const back = Date.now() - ejectedAt;
    t.ok(back < baseEjectionMs + 15_000, `back within the ejection time (${back} ms after the ejection was seen; base ${baseEjectionMs} ms)`);
    t.ok((await counted({ ...bad, response_code: '500' })) > badBefore, 'the waypoint counts it receiving requests again');
    const reEjected = await load('http://outlier/', '-n', '50');
    t.ok((reEjected.errors['status:500'] ?? 0) <= 3, `ejected again after at most 3 more failures: ${JSON.stringify(reEjected.errors)}`);
  });

  await t.test('bad L7 config is reported in its status with the field, and the rest keeps serving', async (t) => {
    await c.applyYaml(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: to-missing, namespace: ${NS} }
spec:
  parentRefs: [{ group: "", kind: Service, name: spare, port: 80 }]
  rules:
    - backendRefs: [{ name: no-such-service, port: 80 }]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: { name: bad-regex, namespace: ${NS} }
spec:
  hosts: [limited.${NS}.svc.cluster.local]
  http:
    - match: [{ uri: { regex: "/(?=ahead)" } }]
      route: [{ destination: { host: limited.${NS}.svc.cluster.local } }]
---
apiVersion: ratelimit.ambit.dev/v1alpha1
kind: RateLimitPolicy
metadata: { name: negative, namespace: ${NS} }
spec:
  targetRefs: [{ group: "", kind: Service, name: limited }]
  local: { tokens: -5, tokensPerFill: 1, fillInterval: 1s }
`);
    const route = await eventually('the HTTPRoute status', async () => {
      const o = await c.json<KubeObject>('get', 'httproute', 'to-missing', '-n', NS);
      return /BackendNotFound/.test(statusText(o)) ? o : undefined;
    });
    t.match(statusText(route), /spec\.rules\[0\]\.backendRefs\[0\]\.name/, `names the field: ${statusText(route)}`);
    const vs = await eventually('the VirtualService status', async () => {
      const o = await c.json<KubeObject>('get', 'virtualservice', 'bad-regex', '-n', NS);
      return /look-ahead/.test(statusText(o)) ? o : undefined;
    });
    t.match(statusText(vs), /regex/, `names the field: ${statusText(vs)}`);
    const rl = await eventually('the RateLimitPolicy status', async () => {
      const o = await c.json<KubeObject>('get', 'ratelimitpolicy', 'negative', '-n', NS);
      return /"status":"False"/.test(statusText(o)) ? o : undefined;
    });
    t.match(statusText(rl), /spec\.local\.tokens/, `names the field: ${statusText(rl)}`);

    const still = await load('http://server/', '-n', '20', '-H', 'x-tester:yes');
    t.same(still.versions, { v2: 20 }, 'the canary route still applies');
    t.not((await request(clientRef, 'http://limited/')).status, 0, 'the Service with the bad VirtualService and rate limit is still served');
    t.equal((await request(clientRef, 'http://admin/admin', '-X', 'POST', '--data', 'x')).status, 403, 'the authorization policy still applies');
  });
});
