// The mount-namespace wrapper: its argv (pure), then real processes through PodRuntime that each
// see their own volume at the same path, read-only, without the host seeing either mount.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { directLauncher } from './launcher.js';
import { mountNamespaceArgv } from './mount-ns.js';
import { plainDial } from './probers.js';
import { PodRuntime } from './runtime.js';
import type { PodStatus } from './types.js';
import { planPodVolumes } from './volumes.js';

t.test('argv', async (t) => {
  t.same(mountNamespaceArgv([], ['/bin/true']), ['/bin/true'], 'no volumes: no namespace');
  const argv = mountNamespaceArgv([{ source: "/s/it's", target: '/t', readOnly: true }], ['/bin/echo', 'a b']);
  t.same(argv.slice(0, 7), ['unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c']);
  t.same(argv.slice(8), ['ambit-mounts', '/bin/echo', 'a b'], 'the program follows, unquoted');
  t.match(argv[7], /mount --bind '\/s\/it'\\''s' '\/t' && mount -o remount,bind,ro '\/t'/, 'quoted, remounted read-only');
  t.match(argv[7], /exec "\$@"$/);
});

if (process.getuid?.() !== 0) {
  t.fail('the mount test needs root (it creates mount namespaces); run it as root');
  process.exit(1);
}

t.test('two pods see their own volume at the same path', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-mntns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'var/run/secrets/tokens');
  mkdirSync(target, { recursive: true });
  const runs: PodRuntime[] = [];
  t.teardown(() => Promise.all(runs.map((r) => r.stop(0))));
  const results = await Promise.all(
    ['a', 'b'].map(async (name) => {
      const state = path.join(dir, 'pods', name);
      const spec = {
        restartPolicy: 'Never' as const,
        volumes: [{ name: 'tok', emptyDir: {} }],
        containers: [{ name: 'c', command: ['sh', '-c', `cat ${target}/token; if echo x > ${target}/w 2>/dev/null; then echo writable; else echo read-only; fi`], volumeMounts: [{ name: 'tok', mountPath: target, readOnly: true }] }],
      };
      const planned = planPodVolumes(`ns/${name}`, spec, state);
      if (!planned.ok) throw new Error(planned.message);
      const vol = planned.plan.volumes[0]!;
      mkdirSync(vol.dir, { recursive: true });
      writeFileSync(path.join(vol.dir, 'token'), `token-of-${name}\n`);
      const rt = new PodRuntime({ dial: plainDial, launcher: directLauncher() });
      runs.push(rt);
      const done = new Promise<PodStatus>((resolve) => {
        rt.start(spec, { netns: 'unused', podName: name, namespace: 'ns', podIP: '127.0.0.1', logDir: path.join(state, 'logs'), mounts: planned.plan.mounts }, (s) => {
          if (s.phase === 'Succeeded' || s.phase === 'Failed') resolve(s);
        });
      });
      const status = await done;
      // The log writer may flush the last line just after the exit is reported.
      const logFile = path.join(state, 'logs', 'c.log');
      let log = '';
      for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
        log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
        if (log.trim().split('\n').length >= 2) break;
      }
      return { name, status, log };
    }),
  );
  for (const r of results) {
    t.equal(r.status.phase, 'Succeeded', `${r.name} succeeded`);
    t.match(r.log, `token-of-${r.name}`, `${r.name} reads its own token`);
    t.notMatch(r.log, `token-of-${r.name === 'a' ? 'b' : 'a'}`, `${r.name} does not see the other's`);
    t.match(r.log, 'read-only', `${r.name}: the mount is read-only`);
  }
  t.same(readdirSync(target), [], 'the host sees neither mount');
  t.notOk(existsSync(path.join(dir, 'pods/a/volumes/tok/w')), 'nothing written through the read-only mount');
});

t.test('a missing source fails the start and creates no mount point', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-mntns-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const target = path.join(dir, 'mnt', 'token');
  const [file, ...args] = mountNamespaceArgv([{ source: path.join(dir, 'absent'), target, readOnly: true }], ['/bin/true']);
  const r = spawnSync(file!, args, { encoding: 'utf8' });
  t.equal(r.status, 1, 'exits 1');
  t.match(r.stderr, `volume source ${dir}/absent (for ${target}) does not exist`, 'naming the source and target');
  t.notOk(existsSync(target), 'no mount point made');
});
