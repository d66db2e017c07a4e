import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import t from 'tap';
import { silentLogger } from '../../../lib/telemetry/log.js';
import { request } from './client.js';
import { echoCommand, REQUEST_EXIT } from './command.js';
import { startEchoServer } from './server.js';
import type { LoadReport } from './stats.js';
import { closedPort } from './testkit.js';

/** The way the lead mounts it, on a bare program; returns what it printed and the exit code. */
async function run(args: string[]): Promise<{ out: string; err: string; code: number }> {
  let out = '';
  let err = '';
  const program = new Command('ambit');
  program.addCommand(echoCommand({ out: (s) => (out += s), err: (s) => (err += s) }));
  // Throw instead of exiting, and keep commander's own messages out of the test output.
  const quiet = (c: Command): void => {
    c.exitOverride().configureOutput({ writeErr: () => undefined });
    c.commands.forEach(quiet);
  };
  quiet(program);
  process.exitCode = 0;
  await program.parseAsync(['echo', ...args], { from: 'user' });
  const code = Number(process.exitCode ?? 0);
  process.exitCode = 0;
  return { out, err, code };
}

t.test('echo request / echo client on a mounted command', async (t) => {
  const s = await startEchoServer({ host: '127.0.0.1', httpPort: 0, grpcPort: 0, tcpPort: -1, name: 'cmd-pod', logger: silentLogger() });
  t.teardown(() => s.close());
  const ok = await run(['request', `http://127.0.0.1:${s.ports.http}/x`, '-H', 'x-a: b', '-H', 'x-a:c']);
  t.equal(ok.code, REQUEST_EXIT.ok);
  t.match(ok.out, /Hostname=cmd-pod\n/);
  t.match(ok.out, /RequestHeader=X-A:b, c\n|RequestHeader=X-A:b\nRequestHeader=X-A:c\n/);
  const bad = await run(['request', `h2c://127.0.0.1:${s.ports.http}/?status=503`, '-i']);
  t.equal(bad.code, REQUEST_EXIT.httpError, 'status >= 400 exits 1');
  t.match(bad.out, /^Status: 503\n/);
  t.match(bad.out, /StatusCode=503/);
  const g = await run(['request', `grpc://127.0.0.1:${s.ports.grpc}`, '--data', 'hi']);
  t.match(g.out, /Echo=hi/);
  const down = await run(['request', `http://127.0.0.1:${await closedPort()}/`]);
  t.equal(down.code, REQUEST_EXIT.noAnswer, 'no answer exits 2');
  t.match(down.err, /connection to 127\.0\.0\.1:\d+ failed/);

  const load = await run(['client', `http://127.0.0.1:${s.ports.http}/`, '-c', '2', '-n', '20', '--json']);
  const report = JSON.parse(load.out) as LoadReport;
  t.match(report, { requests: 20, ok: 20, connections: 2, hostnames: { 'cmd-pod': 20 } });
  const text = await run(['client', `grpc://127.0.0.1:${s.ports.grpc}`, '--qps', '100', '--duration', '200ms']);
  t.match(text.out, /fixed-rate at 100 qps/);
  t.match(text.out, /latency ms: p50 /);

  await t.rejects(run(['client', 'http://127.0.0.1:1/', '-c', 'many']), /--connections wants a whole number, got 'many'/);
  await t.rejects(run(['client', 'http://127.0.0.1:1/', '--duration', 'forever']), /--duration: "forever" is not a duration/);
  await t.rejects(run(['request', 'http://127.0.0.1:1/', '-H', 'nocolon']), /-H: 'nocolon'/);
});

t.test('echo server drains in-flight requests on SIGTERM and exits 0', async (t) => {
  const commandJs = fileURLToPath(new URL('./command.js', import.meta.url));
  const script = [
    "import { Command } from 'commander';",
    `import { echoCommand } from ${JSON.stringify(commandJs)};`,
    "const p = new Command('ambit'); p.addCommand(echoCommand());",
    "await p.parseAsync(process.argv.slice(1), { from: 'user' });",
  ].join('\n');
  const args = ['echo', 'server', '--http', '0', '--grpc', 'off', '--tcp', 'off', '--bind', '127.0.0.1', '--service-version', 'v7'];
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, ...args], {
    cwd: fileURLToPath(new URL('../../../..', import.meta.url)),
    env: { ...process.env, AMBIT_LOG_LEVEL: 'debug', POD_NAME: 'sig-pod' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const lines: Array<Record<string, unknown>> = [];
  const waiters: Array<() => void> = [];
  createInterface({ input: child.stdout }).on('line', (l) => {
    try {
      lines.push(JSON.parse(l) as Record<string, unknown>);
    } catch {
      return;
    }
    for (const w of waiters.splice(0)) w();
  });
  const waitFor = (msg: string): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`child never logged '${msg}'; stderr: ${stderr}`)), 20_000);
      const check = (): void => {
        const hit = lines.find((l) => l.msg === msg);
        if (hit) {
          clearTimeout(timer);
          resolve(hit);
        } else waiters.push(check);
      };
      check();
    });
  const started = await waitFor('echo server listening');
  const port = (started.ports as { http: number }).http;
  const inflight = request(`http://127.0.0.1:${port}/?delay=500ms`);
  await waitFor('request started');
  child.kill('SIGTERM');
  const r = await inflight;
  t.equal(r.status, 200, 'the in-flight request finished');
  t.match(r.fields, { Hostname: 'sig-pod', ServiceVersion: 'v7' }, 'env fallback and flag both applied');
  t.equal(await exited, 0, 'exit 0');
  t.match(stderr, /SIGTERM: draining/);
  t.ok(lines.some((l) => l.msg === 'request' && l.completed === true), 'access log line written');
});
