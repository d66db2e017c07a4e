import http from 'node:http';
import net from 'node:net';
import t from 'tap';
import { directLauncher } from './launcher.js';
import { execProbe, httpProbe, plainDial, runProbe, tcpProbe, type ProbeTarget } from './probers.js';

const target = (ports: ProbeTarget['ports'] = []): ProbeTarget => ({ podIP: '127.0.0.1', netns: 'unused', ports, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', PROBE_VAR: 'x' } });

async function listen(server: net.Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as net.AddressInfo).port;
}

/** A port nothing listens on: bind, note it, close. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  const p = await listen(s);
  await new Promise((r) => s.close(r));
  return p;
}

t.test('httpGet', async (t) => {
  const seen: http.IncomingHttpHeaders[] = [];
  const server = http.createServer((req, res) => {
    seen.push(req.headers);
    if (req.url === '/slow') return void setTimeout(() => res.end('late'), 600);
    const code = Number(req.url?.slice(1)) || 200;
    res.writeHead(code, code === 302 ? { Location: 'http://elsewhere/' } : {});
    res.end('body');
  });
  server.keepAliveTimeout = 10;
  const port = await listen(server);
  t.teardown(() => {
    server.closeAllConnections();
    server.close();
  });
  const table: Array<[string, 'success' | 'failure', RegExp]> = [
    ['/200', 'success', /statuscode: 200/],
    ['/204', 'success', /204/],
    ['/302', 'success', /302/],
    ['/399', 'success', /399/],
    ['/404', 'failure', /HTTP probe failed with statuscode: 404/],
    ['/500', 'failure', /HTTP probe failed with statuscode: 500/],
  ];
  for (const [p, want, msg] of table) {
    const o = await httpProbe({ path: p, port }, target(), 1000, plainDial);
    t.equal(o.result, want, p);
    t.match(o.message, msg);
  }
  const slow = await httpProbe({ path: '/slow', port }, target(), 150, plainDial);
  t.equal(slow.result, 'failure');
  t.match(slow.message, /context deadline exceeded/);

  const named = await httpProbe({ path: '/200', port: 'web', httpHeaders: [{ name: 'X-Probe', value: 'yes' }, { name: 'host', value: 'svc.local' }] }, target([{ name: 'web', containerPort: port }]), 1000, plainDial);
  t.equal(named.result, 'success');
  const h = seen[seen.length - 1];
  t.equal(h?.['x-probe'], 'yes');
  t.equal(h?.host, 'svc.local');
  t.match(h?.['user-agent'], /^kube-probe\//);
  const plain = await httpProbe({ port }, target(), 1000, plainDial);
  t.equal(plain.result, 'success');
  t.equal(seen[seen.length - 1]?.host, `127.0.0.1:${port}`);

  const missing = await httpProbe({ port: 'nope' }, target(), 1000, plainDial);
  t.match(missing, { result: 'failure', message: /named port "nope"/ });
  const refused = await httpProbe({ path: '/x', port: await closedPort() }, target(), 1000, plainDial);
  t.match(refused, { result: 'failure', message: /^Get "http:\/\/127\.0\.0\.1:\d+\/x": dial tcp 127\.0\.0\.1:\d+: connect: connection refused$/ });
});

t.test('httpGet gives up on a dial that never answers', async (t) => {
  const hang = (): Promise<net.Socket> => new Promise(() => undefined);
  const began = Date.now();
  const o = await httpProbe({ port: 80 }, target(), 100, hang);
  t.equal(o.result, 'failure');
  t.match(o.message, /i\/o timeout/);
  t.ok(Date.now() - began < 1000);
});

t.test('tcpSocket', async (t) => {
  const server = net.createServer((s) => s.destroy());
  const port = await listen(server);
  t.teardown(() => server.close());
  t.equal((await tcpProbe({ port }, target(), 1000, plainDial)).result, 'success');
  t.equal((await tcpProbe({ port: 'p' }, target([{ name: 'p', containerPort: port }]), 1000, plainDial)).result, 'success');
  const closed = await tcpProbe({ port: await closedPort() }, target(), 1000, plainDial);
  t.match(closed, { result: 'failure', message: /dial tcp 127\.0\.0\.1:\d+: connect: connection refused/ });
});

t.test('exec', async (t) => {
  const l = directLauncher();
  t.match(await execProbe(['sh', '-c', 'echo fine; exit 0'], target(), 2000, l), { result: 'success', message: 'fine' });
  t.match(await execProbe(['sh', '-c', 'echo "not ready" >&2; exit 1'], target(), 2000, l), { result: 'failure', message: 'not ready' });
  t.match(await execProbe(['sh', '-c', 'exit 3'], target(), 2000, l), { result: 'failure', message: /exited with 3/ });
  t.match(await execProbe(['sh', '-c', 'test "$PROBE_VAR" = x'], target(), 2000, l), { result: 'success' }, 'runs with the container env');
  const began = Date.now();
  t.match(await execProbe(['sleep', '30'], target(), 150, l), { result: 'failure', message: /timed out/ });
  t.ok(Date.now() - began < 2000);
  t.match(await execProbe(['/no/such/binary'], target(), 1000, l), { result: 'failure', message: /ENOENT/ });
  t.match(await runProbe({ exec: { command: ['true'] } }, target(), 1000, { dial: plainDial, launcher: l }), { result: 'success' });
});
