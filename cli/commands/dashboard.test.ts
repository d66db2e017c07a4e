import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ClusterInfo } from '../local/layout.js';
import { dashboardCommand, dashboardUrl } from './dashboard.js';

const info = (forwards: Record<string, string>): ClusterInfo => ({ prefix: 'a1', stateDir: '/s', nodes: ['node-1'], forwards, createdAt: '' });

t.test('dashboardUrl: the forward of a running local cluster, or why not', async (t) => {
  t.equal(dashboardUrl('/s', info({ dashboard: '127.0.0.1:20001' }), true, false), 'http://127.0.0.1:20001/');
  const cases: Array<[ClusterInfo | undefined, boolean, boolean, RegExp]> = [
    [undefined, false, false, /^no running cluster in \/s: start one with `ambit up --state-dir \/s`/],
    [info({ dashboard: '127.0.0.1:1' }), false, false, /^no running cluster/],
    [info({ dashboard: '127.0.0.1:1' }), true, true, /does not forward to a Kubernetes-mode control plane yet; .*kubectl -n istio-system port-forward/],
    [info({}), true, false, /has no dashboard port-forward/],
  ];
  for (const [i, running, kube, want] of cases) t.throws(() => dashboardUrl('/s', i, running, kube), { message: want });
});

t.test('ambit dashboard prints the URL, warns when it does not answer, opens with --open', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-dash-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const server = createServer((req, res) => res.end(req.url === '/api/graph' ? '{}' : 'no'));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.teardown(() => server.close());
  const port = (server.address() as AddressInfo).port;
  const write = (forwards: Record<string, string>): void => writeFileSync(path.join(dir, 'cluster.json'), JSON.stringify({ ...info(forwards), stateDir: dir, runnerPid: process.pid }));
  const run = async (...args: string[]) => {
    const io = { out: [] as string[], err: [] as string[], opened: [] as string[] };
    await dashboardCommand({ out: (s) => io.out.push(s), err: (s) => io.err.push(s), open: (u) => io.opened.push(u) }).parseAsync(['--state-dir', dir, ...args], { from: 'user' });
    return io;
  };
  write({ dashboard: `127.0.0.1:${port}` });
  t.same(await run(), { out: [`http://127.0.0.1:${port}/`], err: [], opened: [] });
  t.same((await run('--open')).opened, [`http://127.0.0.1:${port}/`]);
  write({ dashboard: '127.0.0.1:1' });
  const down = await run();
  t.same(down.out, ['http://127.0.0.1:1/'], 'still printed');
  t.match(down.err, [/^warning: the dashboard at http:\/\/127\.0\.0\.1:1\/ does not answer yet/]);
});
