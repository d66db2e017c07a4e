import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { pino } from 'pino';
import { Registry, Counter } from 'prom-client';
import t from 'tap';
import { dispatch, isLoopbackAddress, json, loopbackOnly, metricsRoute, readinessRoute, text, type Routes } from './routes.js';
import { startAdminServer, type AdminServer } from './server.js';

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(s: AdminServer, method: string, path: string, via?: { host: string; localAddress: string }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: via?.host ?? s.host, port: s.port, method, path, agent: false, ...(via ? { localAddress: via.localAddress } : {}) }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

function routesFor(state: { ready: boolean }): Routes {
  return {
    '/hello': () => text('hello\n'),
    '/dump': () => json({ a: 1 }),
    '/boom': () => {
      throw new Error('exploded');
    },
    '/reject': () => Promise.reject(new Error('went away')),
    '/level': { methods: ['GET', 'POST'], handler: (url) => text(`level=${url.searchParams.get('level') ?? ''}\n`) },
    '/reset': { methods: ['POST'], handler: () => text('reset\n') },
    '/healthz/ready': readinessRoute(() => ({ ready: state.ready, reasons: ['no xDS yet', 'no ZDS yet'] })),
  };
}

t.test('one behaviour for every admin port', async (t) => {
  const lines: string[] = [];
  const log = pino({ level: 'error' }, { write: (l: string) => void lines.push(l) });
  const state = { ready: false };
  const s = await startAdminServer({ name: 'admin', host: '127.0.0.1', port: 0, routes: routesFor(state), log });
  t.teardown(() => s.close());
  t.ok(s.port > 0, 'port 0 picks a port');
  t.equal(s.address, `127.0.0.1:${s.port}`, 'the bound address is returned');

  const cases: Array<{ method: string; path: string; status: number; body?: RegExp | string; allow?: string; type?: RegExp }> = [
    { method: 'GET', path: '/hello', status: 200, body: 'hello\n', type: /^text\/plain/ },
    { method: 'GET', path: '/dump', status: 200, body: '{\n  "a": 1\n}\n', type: /^application\/json/ },
    { method: 'HEAD', path: '/hello', status: 200, body: '' },
    { method: 'GET', path: '/nope', status: 404, body: 'no route /nope; try /boom, /dump, /healthz/ready, /hello, /level, /reject, /reset\n' },
    { method: 'POST', path: '/nope', status: 404, body: /^no route \/nope/ },
    { method: 'POST', path: '/hello', status: 405, allow: 'GET, HEAD', body: 'method POST not allowed on /hello; use GET, HEAD\n' },
    { method: 'DELETE', path: '/level', status: 405, allow: 'GET, POST, HEAD' },
    { method: 'GET', path: '/reset', status: 405, allow: 'POST' },
    { method: 'HEAD', path: '/reset', status: 405, allow: 'POST' },
    { method: 'POST', path: '/reset', status: 200, body: 'reset\n' },
    { method: 'POST', path: '/level?level=debug', status: 200, body: 'level=debug\n' },
    { method: 'GET', path: '/boom', status: 500, body: 'internal error: exploded\n' },
    { method: 'GET', path: '/reject', status: 500, body: 'internal error: went away\n' },
    { method: 'HEAD', path: '/boom', status: 500, body: '' },
    { method: 'GET', path: '/healthz/ready', status: 503, body: 'not ready: no xDS yet; no ZDS yet\n' },
    { method: 'GET', path: '/hello', status: 200, body: 'hello\n' },
  ];
  for (const c of cases) {
    const a = await request(s, c.method, c.path);
    const what = `${c.method} ${c.path}`;
    t.equal(a.status, c.status, `${what}: status`);
    if (c.body !== undefined) t.match(a.body, c.body, `${what}: body`);
    if (typeof c.body === 'string') t.equal(a.body, c.body, `${what}: exact body`);
    t.equal(a.headers.allow, c.allow, `${what}: Allow header`);
    if (c.type) t.match(a.headers['content-type'], c.type, `${what}: content type`);
  }
  const head = await request(s, 'HEAD', '/dump');
  t.equal(head.headers['content-length'], String(Buffer.byteLength('{\n  "a": 1\n}\n')), 'HEAD: the length GET would send');
  t.equal(lines.filter((l) => l.includes('/boom')).length, 2, 'each handler error is logged');
  t.match(JSON.parse(lines[0]!), { server: 'admin', path: '/boom', err: 'exploded' });
  state.ready = true;
  t.equal((await request(s, 'GET', '/healthz/ready')).body, 'ready\n', 'readiness follows its check');
});

t.test('dispatch is the pure table lookup', async (t) => {
  const routes = routesFor({ ready: true });
  t.equal(dispatch(routes, 'GET', '/hello').kind, 'handler');
  t.equal(dispatch(routes, 'HEAD', '/level').kind, 'handler', 'HEAD follows GET');
  t.match(dispatch(routes, 'GET', '/toString'), { kind: 'reply', reply: { status: 404 } }, 'object prototype names are not routes');
  t.match(dispatch(routes, 'PUT', '/reset'), { kind: 'reply', reply: { status: 405, headers: { allow: 'POST' } } });
  const a = () => text('a');
  const b = () => text('b');
  const prefixed: Routes = { '/api/x': a, '/api/x/*': b, '/api/x/y/*': a };
  const picked = (path: string) => {
    const d = dispatch(prefixed, 'GET', path);
    return d.kind === 'handler' ? d.handler : d.reply.status;
  };
  t.equal(picked('/api/x'), a, 'the exact path');
  t.equal(picked('/api/x/123'), b, 'a path below a /* key');
  t.equal(picked('/api/x/y/1'), a, 'the longest prefix wins');
  t.equal(picked('/api/x/'), 404, 'nothing below the prefix');
  t.equal(picked('/api/xy'), 404, 'a prefix is a whole path segment');
});

t.test('/metrics serves a prom-client registry', async (t) => {
  const registry = new Registry();
  new Counter({ name: 'admin_test_total', help: 'test', registers: [registry] }).inc(3);
  const s = await startAdminServer({ name: 'metrics', host: '127.0.0.1', port: 0, routes: { '/metrics': metricsRoute(registry) }, log: pino({ level: 'silent' }) });
  t.teardown(() => s.close());
  const a = await request(s, 'GET', '/metrics');
  t.equal(a.status, 200);
  t.equal(a.headers['content-type'], registry.contentType);
  t.match(a.body, /^admin_test_total 3$/m);
});

t.test('IPv6 addresses are bracketed', async (t) => {
  const s = await startAdminServer({ name: 'admin', host: '::1', port: 0, routes: {}, log: pino({ level: 'silent' }) }).catch(() => undefined);
  if (!s) {
    t.comment('no IPv6 loopback here');
    return;
  }
  t.teardown(() => s.close());
  t.equal(s.address, `[::1]:${s.port}`);
});

t.test('a taken port names the server, the address and the hint', async (t) => {
  const first = await startAdminServer({ name: 'readiness', host: '127.0.0.1', port: 0, routes: {}, log: pino({ level: 'silent' }) });
  t.teardown(() => first.close());
  await t.rejects(
    startAdminServer({ name: 'readiness', host: '127.0.0.1', port: first.port, routes: {}, log: pino({ level: 'silent' }), inUseHint: 'use --readiness-address' }),
    new RegExp(`^readiness: cannot listen on 127\\.0\\.0\\.1:${first.port}: .*EADDRINUSE.* \\(use --readiness-address\\)$`),
  );
});

t.test('close lets an answer in flight finish, then drops idle connections', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const routes: Routes = { '/slow': async () => (await gate, text('done\n')), '/fast': () => text('fast\n') };
  const s = await startAdminServer({ name: 'admin', host: '127.0.0.1', port: 0, routes, log: pino({ level: 'silent' }) });
  // An idle keep-alive connection must not hold close() up.
  const idle = net.connect(s.port, '127.0.0.1');
  await new Promise((r) => idle.once('connect', r));
  idle.write('GET /fast HTTP/1.1\r\nhost: x\r\n\r\n');
  await new Promise((r) => idle.once('data', r));
  const slow = request(s, 'GET', '/slow');
  await new Promise((r) => setTimeout(r, 50));
  let closed = false;
  const closing = s.close().then(() => (closed = true));
  await new Promise((r) => setTimeout(r, 50));
  t.notOk(closed, 'close waits for the answer in flight');
  release();
  t.equal((await slow).body, 'done\n', 'the answer in flight is sent');
  await closing;
  t.ok(closed);
  await t.rejects(request(s, 'GET', '/fast'), 'no new requests after close');
  idle.destroy();
});

t.test('loopback peers: which addresses count', async (t) => {
  const cases: Array<[string | undefined, boolean]> = [
    ['127.0.0.1', true],
    ['127.3.2.1', true],
    ['::1', true],
    ['::ffff:127.0.0.1', true],
    ['::FFFF:127.0.0.9', true],
    ['10.0.0.1', false],
    ['192.0.2.2', false],
    ['::ffff:10.0.0.1', false],
    ['fd00::1', false],
    ['::', false],
    ['0.0.0.0', false],
    ['127.0.0.1.evil', false],
    ['', false],
    [undefined, false],
  ];
  for (const [address, loopback] of cases) t.equal(isLoopbackAddress(address), loopback, `${String(address)}`);
});

t.test('a loopback-only route refuses other peers with 403 and says why', async (t) => {
  const routes: Routes = { '/debug/x': loopbackOnly(() => text('secret\n'), 'use the port-forward'), '/open': () => text('open\n') };
  const s = await startAdminServer({ name: 'monitoring', host: '0.0.0.0', port: 0, routes, log: pino({ level: 'silent' }) });
  t.teardown(() => s.close());
  const local = await request(s, 'GET', '/debug/x', { host: '127.0.0.1', localAddress: '127.0.0.1' });
  t.equal(local.status, 200, 'a loopback peer is served');
  t.equal(local.body, 'secret\n');
  // A peer whose source is one of this host's other addresses is not a loopback peer.
  const other = Object.values(os.networkInterfaces())
    .flat()
    .find((i) => i && i.family === 'IPv4' && !i.internal)?.address;
  if (other) {
    const far = await request(s, 'GET', '/debug/x', { host: other, localAddress: other });
    t.equal(far.status, 403, `a peer at ${other} is refused`);
    t.equal(far.body, `/debug/x answers only loopback peers (127.0.0.1, ::1), not ${other}; use the port-forward\n`);
    t.equal((await request(s, 'GET', '/open', { host: other, localAddress: other })).status, 200, 'other routes stay open');
  } else t.comment('this host has no non-loopback IPv4 address; only the direct handler check below runs');
  // The handler itself, with a peer address no local interface could give.
  const reply = await loopbackOnly(() => text('secret\n'), 'hint')(new URL('http://admin/debug/x'), { socket: { remoteAddress: '10.9.8.7' } } as http.IncomingMessage);
  t.match(reply, { status: 403, body: /not 10\.9\.8\.7; hint/ });
});
