// End-to-end: a waypoint with two replicas behaves as one. Its Gateway scales it through the
// parametersRef ConfigMap (as Istio's does); a global RateLimitPolicy keeps its counters in a real
// `redis-server` running as a pod, so 10 requests a second hold across both replicas; with Redis
// gone each policy's failure mode holds; with the control plane out of reach the waypoints keep
// their last routes, and take new ones when it is back; a replica killed under load costs only
// the requests it had in flight. Everything is applied as the user's YAML (test/fixtures/waypoint-replicas.yaml).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { Deployment, Pod } from '../../lib/k8s/types.js';
import { ROOT, TestCluster, eventually, metricSum, podMetrics } from './testkit.js';

const FIXTURE = path.join(ROOT, 'test', 'fixtures', 'waypoint-replicas.yaml');
const NS = 'wpr';

interface List<T> {
  items: T[];
}

/** What the in-pod burst script reports. */
interface Burst {
  codes: Record<string, number>;
  startMs: number;
  endMs: number;
}

/**
 * N requests at once from one process in a pod, over `conns` keep-alive connections (so ztunnel
 * spreads them over the waypoint's replicas), started just after a wall-clock second begins (the
 * global limit counts per second).
 */
const burstScript = (url: string, n: number, conns: number): string => `
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: ${conns} });
const codes = {};
const one = () => new Promise((res) => {
  const req = http.get('${url}', { agent, timeout: 5000 }, (r) => { r.resume(); r.on('end', () => { codes[r.statusCode] = (codes[r.statusCode] || 0) + 1; res(); }); });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => { codes[e.code || e.message] = (codes[e.code || e.message] || 0) + 1; res(); });
});
setTimeout(async () => {
  const startMs = Date.now();
  await Promise.all(Array.from({ length: ${n} }, one));
  console.log(JSON.stringify({ codes, startMs, endMs: Date.now() }));
  agent.destroy();
}, 1020 - (Date.now() % 1000));
`;

t.test('a waypoint with two replicas behaves as one', async (t) => {
  const c = new TestCluster('wp-replicas');
  t.teardown(async () => {
    await c.down();
  });
  await c.up(2, [FIXTURE]);
  const prefix = (JSON.parse(readFileSync(path.join(c.stateDir, 'cluster.json'), 'utf8')) as { prefix: string }).prefix;
  const pods = async (ns: string, ...selector: string[]) => (await c.json<List<Pod>>('get', 'pods', '-n', ns, ...selector)).items;
  const ready = (p: Pod) => p.status?.conditions?.find((x) => x.type === 'Ready')?.status === 'True';
  const waypoints = await eventually('two waypoint replicas ready', async () => {
    const ps = await pods(NS, '-l', 'gateway.networking.k8s.io/gateway-name=waypoint');
    return ps.length === 2 && ps.every(ready) ? ps : undefined;
  }, 120_000);
  await eventually('app and redis pods ready', async () => (await pods(NS)).every(ready) && (await pods('wpr-redis')).every(ready), 120_000);
  const dep = await c.json<Deployment>('get', 'deployment', 'waypoint', '-n', NS);
  t.equal(dep.spec.replicas, 2, 'the ConfigMap set the waypoint Deployment to two replicas');
  const clientRef = `${NS}/${(await pods(NS, '-l', 'app=client'))[0]!.metadata.name}`;

  const servedBy = async (service: string): Promise<number[]> =>
    Promise.all(waypoints.map(async (p) => metricSum(await podMetrics(prefix, p), 'istio_requests_total', { reporter: 'waypoint', destination_service_name: service })));
  const burst = async (service: string, n = 100, conns = 20): Promise<Burst> =>
    JSON.parse(await c.ambit('exec', clientRef, '--', 'node', '-e', burstScript(`http://${service}/`, n, conns))) as Burst;
  const request = async (url: string): Promise<{ status: number; body: string }> => {
    const r = await c.try('exec', clientRef, '--', 'ambit', 'echo', 'request', url, '-i', '--timeout', '5s');
    const m = /^Status: (\d+)/.exec(r.stdout);
    return { status: m ? Number(m[1]) : 0, body: r.stdout };
  };
  await eventually('requests pass the waypoint', async () => (await request('http://server/')).status === 200 && (await servedBy('server')).some((n) => n > 0), 60_000);

  await t.test('gRPC unary and streaming calls are routed by the waypoint and counted by gRPC status', async (t) => {
    const before = (await Promise.all(waypoints.map(async (p) => podMetrics(prefix, p)))).map((m) => metricSum(m, 'istio_requests_total', { reporter: 'waypoint', destination_service_name: 'server-grpc' }));
    const unary = JSON.parse(await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'client', 'grpc://server-grpc:7070', '--json', '-n', '40', '-c', '2')) as { ok: number; requests: number };
    t.equal(unary.ok, 40, `unary: every call answered (${unary.ok} of ${unary.requests})`);
    const streamed = await c.ambit('exec', clientRef, '--', 'ambit', 'echo', 'request', 'grpc://server-grpc:7070', '--stream', '5', '--data', 'msg');
    t.equal(streamed.split('\n').filter((l) => /^Echo=msg #\d$/.test(l)).length, 5, 'a bidirectional stream of 5 messages got its 5 answers through the waypoint');
    const failed = await c.try('exec', clientRef, '--', 'ambit', 'echo', 'request', 'grpc://server-grpc:7070', '--stream', '2', '-H', 'x-echo-status:503', '-i');
    t.match(failed.stdout, /^Status: 503 \(grpc 14\)/m, 'a stream ending UNAVAILABLE reaches the caller as such');
    const count = async (labels: Record<string, string>): Promise<number> =>
      (await Promise.all(waypoints.map(async (p) => metricSum(await podMetrics(prefix, p), 'istio_requests_total', { reporter: 'waypoint', destination_service_name: 'server-grpc', ...labels })))).reduce((a, b) => a + b, 0);
    await eventually('the calls counted by gRPC status', async () => (await count({ grpc_response_status: '0', request_protocol: 'grpc' })) >= before.reduce((a, b) => a + b, 0) + 41 && (await count({ grpc_response_status: '14' })) >= 1, 20_000, 1000);
    t.pass('istio_requests_total counts the OK calls (unary and stream) and the UNAVAILABLE stream by grpc_response_status');
  });

  await t.test('a global limit of 10 requests a second is shared by both replicas through Redis', async (t) => {
    await eventually('the limit in force', async () => ((await burst('limited-closed', 40, 4)).codes['429'] ?? 0) > 0, 30_000, 1000);
    const before = await servedBy('limited-closed');
    // A burst that stays inside one second gets exactly that second's 10 (±1 at the window's edge).
    let b: Burst | undefined;
    for (let i = 0; i < 4 && (!b || Math.floor(b.startMs / 1000) !== Math.floor(b.endMs / 1000)); i++) b = await burst('limited-closed');
    const ok = b!.codes['200'] ?? 0;
    const seconds = Math.floor(b!.endMs / 1000) - Math.floor(b!.startMs / 1000) + 1;
    t.comment(`burst of 100 in ${b!.endMs - b!.startMs} ms over ${seconds} second window(s): ${JSON.stringify(b!.codes)}`);
    t.ok(ok >= 9 && ok <= 10 * seconds + 1, `10 ±1 per second served (${ok} in ${seconds} window(s))`);
    t.equal(ok + (b!.codes['429'] ?? 0), 100, `the rest refused with 429: ${JSON.stringify(b!.codes)}`);
    const after = await servedBy('limited-closed');
    const share = after.map((n, i) => n - before[i]!);
    t.ok(share.every((n) => n > 0), `both replicas served part of the bursts (${share.join(' / ')})`);
  });

  await t.test('with Redis gone, Closed refuses and Open lets requests through', async (t) => {
    await c.ambit('delete', 'deployment', 'redis', '-n', 'wpr-redis');
    await eventually('redis gone', async () => (await pods('wpr-redis')).length === 0, 60_000);
    const closed = await eventually('fail closed', async () => {
      const b = await burst('limited-closed', 30, 6);
      return (b.codes['429'] ?? 0) === 30 ? b : undefined;
    }, 30_000, 500);
    t.same(closed.codes, { 429: 30 }, 'Closed: every request refused');
    const open = await burst('limited-open', 30, 6);
    t.same(open.codes, { 200: 30 }, 'Open: every request served, no limit without Redis');
  });

  await t.test('with the control plane out of reach the waypoints keep their last routes', async (t) => {
    const route = (value: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: server-tag, namespace: ${NS} }
spec:
  parentRefs: [{ group: "", kind: Service, name: server, port: 80 }]
  rules:
    - filters:
        - type: RequestHeaderModifier
          requestHeaderModifier: { set: [{ name: x-route, value: ${value} }] }
      backendRefs: [{ name: server, port: 80 }]
`;
    // Eight requests on new connections (so both replicas answer) from one process in the client
    // pod; the echo server prints the request headers it got.
    const script = `const http=require('http');const seen=new Set();
const one=()=>new Promise((res)=>{const q=http.get('http://server/',{agent:false,timeout:5000},(r)=>{let b='';r.on('data',(d)=>b+=d);r.on('end',()=>{const m=/^RequestHeader=X-Route:(\\S+)$/im.exec(b);seen.add(r.statusCode+':'+(m?m[1]:'none'));res();});});q.on('timeout',()=>q.destroy(new Error('timeout')));q.on('error',(e)=>{seen.add(e.message);res();});});
(async()=>{for(let i=0;i<8;i++)await one();console.log(JSON.stringify([...seen]));})();`;
    const tagged = async (): Promise<Set<string>> => new Set(JSON.parse(await c.ambit('exec', clientRef, '--', 'node', '-e', script)) as string[]);
    await c.applyYaml(route('before'));
    await eventually('both replicas route with the first version', async () => {
      const s = await tagged();
      return s.size === 1 && s.has('200:before');
    }, 30_000, 500);
    const controlNs = `${prefix}-control`;
    const rule = ['-p', 'tcp', '--dport', '15012', '-j', 'REJECT', '--reject-with', 'tcp-reset'];
    execFileSync('ip', ['netns', 'exec', controlNs, 'iptables', '-I', 'INPUT', ...rule]);
    let blocked = true;
    const unblock = () => {
      if (blocked) execFileSync('ip', ['netns', 'exec', controlNs, 'iptables', '-D', 'INPUT', ...rule]);
      blocked = false;
    };
    t.teardown(unblock);
    // Killing the control plane ends every xDS stream; its restart cannot be reached.
    const pid = Number(readFileSync(path.join(c.stateDir, 'components', 'control.pid'), 'utf8').trim().split(' ')[0]);
    process.kill(pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 5000));
    const during = await tagged();
    t.same([...during], ['200:before'], 'the last routes still apply on every replica while the control plane is away');
    unblock();
    await c.applyYaml(route('after'));
    await eventually('new routes once it is back', async () => {
      const s = await tagged();
      return s.size === 1 && s.has('200:after');
    }, 60_000, 1000);
    t.pass('the waypoints took the new route once the control plane was back');
  });

  await t.test('killing one replica under load costs only the requests in flight', async (t) => {
    const before = await servedBy('server');
    // 600 requests at 100/s over 4 keep-alive connections.
    const load = c.try('exec', clientRef, '--', 'ambit', 'echo', 'client', 'http://server/', '--json', '-n', '600', '--qps', '100', '-c', '4', '--timeout', '5s');
    // The victim is a replica that is serving this load right now (`ambit exec` takes a moment to start it).
    const growth = await eventually('the load passing the waypoints', async () => {
      const g = (await servedBy('server')).map((n, i) => n - before[i]!);
      return Math.max(...g) > 20 ? g : undefined;
    }, 30_000, 250);
    const victim = waypoints[growth[0]! >= growth[1]! ? 0 : 1]!;
    t.comment(`requests per replica before the kill: ${growth.join(' / ')}`);
    const pidsFile = path.join(c.stateDir, 'pods', `${NS}_${victim.metadata.name}`, 'pids.json');
    const pids = JSON.parse(readFileSync(pidsFile, 'utf8')) as { containers: Record<string, { pid: number }> };
    process.kill(pids.containers.waypoint!.pid, 'SIGKILL');
    const r = await load;
    const report = JSON.parse(r.stdout) as { requests: number; ok: number; errors: Record<string, number> };
    const failed = report.requests - report.ok;
    t.comment(`killed one of two replicas under 100 req/s: ${failed} of ${report.requests} failed ${JSON.stringify(report.errors)}`);
    t.ok(report.ok > 0, 'the load went on');
    t.ok(failed <= 8, `only the requests in flight on the killed replica failed (${failed})`);
    await eventually('the killed replica back and ready', async () => {
      const ps = await pods(NS, '-l', 'gateway.networking.k8s.io/gateway-name=waypoint');
      return ps.length === 2 && ps.every(ready);
    }, 60_000);
    const again = JSON.parse((await c.try('exec', clientRef, '--', 'ambit', 'echo', 'client', 'http://server/', '--json', '-n', '100', '-c', '4')).stdout) as { ok: number };
    t.equal(again.ok, 100, 'every request started after it is back succeeds');
  });
});
