import { once } from 'node:events';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import t, { type Test } from 'tap';
import { listenUnixSocket } from './unix-socket.js';

async function serve(t: Test, file: string, mode?: number): Promise<{ server: net.Server; remove: () => Promise<void> }> {
  const server = net.createServer((c) => c.end('hi'));
  const f = await listenUnixSocket(server, file, mode);
  t.teardown(() => new Promise<void>((r) => server.close(() => r())));
  return { server, remove: f.remove };
}

async function greet(file: string): Promise<string> {
  const c = net.connect(file);
  let got = '';
  c.setEncoding('utf8').on('data', (d: string) => (got += d));
  await once(c, 'end');
  return got;
}

t.test('a Unix socket bound under a staging name, chmod-ed and renamed into place', async (t) => {
  const umask = process.umask(0);
  t.teardown(() => void process.umask(umask));
  const dir = await mkdtemp(path.join(os.tmpdir(), `ambit-sock-${process.pid}-`));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'sub', 'agent.sock');

  const first = await serve(t, file);
  t.equal((await stat(file)).mode & 0o777, 0o600, '0600 by default, whatever the umask');
  t.equal(await greet(file), 'hi', 'reachable at its final path');
  t.same(await readdir(path.dirname(file)), ['agent.sock'], 'no staging name left');

  // A successor (or a restart after a crash) replaces the socket; the old owner's remove() leaves it.
  const second = await serve(t, file, 0o660);
  t.equal((await stat(file)).mode & 0o777, 0o660, 'the mode asked for');
  await new Promise<void>((r) => first.server.close(() => r()));
  await first.remove();
  t.equal(await greet(file), 'hi', "the successor's socket is still in place");
  await new Promise<void>((r) => second.server.close(() => r()));
  await second.remove();
  await t.rejects(stat(file), { code: 'ENOENT' }, 'its owner removes it');

  const plain = path.join(dir, 'not-a-socket');
  await writeFile(plain, 'data');
  await t.rejects(listenUnixSocket(net.createServer(), plain), { message: `${plain} exists and is not a socket; remove it or choose another path` });
  t.equal(await readFile(plain, 'utf8'), 'data', 'the file is left alone');
});
