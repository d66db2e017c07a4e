import t from 'tap';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { request } from './client.js';
import { resolveServerConfig } from './config.js';
import { FailureCounter, NO_FAILURE } from './failure.js';
import { startEchoServer } from './server.js';

t.test('which requests fail', async (t) => {
  const cases: Array<{ every: number; status: number; want: Array<number | undefined> }> = [
    { every: 0, status: 500, want: [undefined, undefined, undefined, undefined] },
    { every: 1, status: 503, want: [503, 503, 503, 503] },
    { every: 3, status: 500, want: [undefined, undefined, 500, undefined, undefined, 500] },
  ];
  for (const c of cases) {
    const f = new FailureCounter({ every: c.every, status: c.status });
    t.same(c.want.map(() => f.next()), c.want, `every ${c.every}`);
  }
});

t.test('flags, then the environment; bad values name their source', async (t) => {
  const base = { http: '8080', grpc: 'off', tcp: 'off' };
  const ok: Array<{ flags: Record<string, string>; env: NodeJS.ProcessEnv; want: unknown }> = [
    { flags: {}, env: {}, want: undefined },
    { flags: { failEvery: '3' }, env: {}, want: { every: 3, status: 500 } },
    { flags: {}, env: { ECHO_FAIL_EVERY: '1', ECHO_FAIL_STATUS: '503' }, want: { every: 1, status: 503 } },
    { flags: { failEvery: '2', failStatus: '502' }, env: { ECHO_FAIL_EVERY: '9', ECHO_FAIL_STATUS: '500' }, want: { every: 2, status: 502 } },
  ];
  for (const c of ok) t.same(resolveServerConfig({ ...base, ...c.flags }, c.env).failure, c.want, JSON.stringify(c));
  const bad: Array<{ flags: Record<string, string>; env: NodeJS.ProcessEnv; err: RegExp }> = [
    { flags: { failEvery: 'x' }, env: {}, err: /--fail-every 'x' is not a whole number/ },
    { flags: {}, env: { ECHO_FAIL_EVERY: '-1' }, err: /environment ECHO_FAIL_EVERY '-1' is not a whole number/ },
    { flags: { failEvery: '3', failStatus: '200' }, env: {}, err: /--fail-status 200 must be an HTTP error status 400\.\.599/ },
    { flags: {}, env: { ECHO_FAIL_EVERY: '3', ECHO_FAIL_STATUS: '700' }, err: /environment ECHO_FAIL_STATUS 700/ },
  ];
  for (const c of bad) t.throws(() => resolveServerConfig({ ...base, ...c.flags }, c.env), c.err, JSON.stringify(c));
  t.equal(NO_FAILURE.every, 0, 'the default never fails');
});

t.test('a server failing 1 in 3 over HTTP/1.1 and h2c; /healthz never counts', async (t) => {
  const s = await startEchoServer({ host: '127.0.0.1', httpPort: 0, grpcPort: -1, tcpPort: -1, name: 'flaky-pod', logger: silentLogger(), failure: { every: 3, status: 503 } });
  t.teardown(() => s.close());
  const statuses: number[] = [];
  for (let i = 0; i < 6; i++) {
    const scheme = i % 2 ? 'h2c' : 'http';
    statuses.push((await request(`${scheme}://127.0.0.1:${s.ports.http}/`)).status);
    t.equal((await request(`http://127.0.0.1:${s.ports.http}/healthz`)).status, 200, 'healthz stays 200');
  }
  t.same(statuses, [200, 200, 503, 200, 200, 503], 'the third and sixth echo requests fail, across protocols');
  const failed = await request(`http://127.0.0.1:${s.ports.http}/?status=201`);
  t.equal(failed.status, 201, 'the 7th is answered normally');
  await request(`http://127.0.0.1:${s.ports.http}/`);
  const ninth = await request(`http://127.0.0.1:${s.ports.http}/`);
  t.equal(ninth.status, 503);
  t.match(ninth.body, /Error=injected failure \(--fail-every 3\)\nHostname=flaky-pod\n/, 'the body says why and which pod');
  t.equal(ninth.headers['x-echo-failure'], 'every 3');
});
