// The mount-namespace wrapper: its argv (pure), then real processes through PodRuntime that each
// see their own volume at the same path, read-only, without the host seeing either mount.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { spawnSync } from 'node:child_process';
import { directLauncher } from './launcher.js';
import { hostMountPoints, mountNamespaceArgv, mountOrder, mountScript } from './mount-ns.js';
import { plainDial } from './probers.js';
import { PodRuntime } from './runtime.js';
import type { PodStatus } from './types.js';
import { planPodVolumes } from './volumes.js';

t.test('argv', async (t) => {
  t.same(mountNamespaceArgv([], ['/bin/true']), ['/bin/true'], 'no volumes: no namespace');
  const argv = mountNamespaceArgv([{ source: "/s/it's", target: '/t', readOnly: true }], ['/bin/echo', 'a b']);
  t.same(argv.slice(0, 9), ['unshare', '--mount', '--propagation', 'slave', '--', 'bash', '--noprofile', '--norc', '-c']);
  t.same(argv.slice(10), ['ambit-mounts', '/bin/echo', 'a b'], 'the program follows, unquoted');
  t.match(argv[9], /exec 10<'\/s\/it'\\''s'/, 'the source is opened, quoted');
  t.match(argv[9], /mount -c --rbind \/proc\/self\/fd\/10 '\/t' && mount -c -o remount,bind,ro '\/t' && mount -c --make-rprivate '\/t'/, 'bound through its descriptor, read-only, private');
  t.match(argv[9], /exec "\$@"$/);
});

t.test('every source is opened before the first mount; parents are mounted first', async (t) => {
  const script = mountScript([
    { source: '/state/vol/nested', target: '/tmp/nested', readOnly: false },
    { source: '/state/vol/tmp', target: '/tmp', readOnly: false },
    { source: '/var/run/netns', target: '/var/run/netns', readOnly: true, propagation: 'HostToContainer' },
  ]);
  const lines = script.split('\n');
  const lastOpen = Math.max(...lines.map((l, i) => (/^exec \d+<'/.test(l) ? i : -1)));
  const firstMount = lines.findIndex((l) => l.includes('--rbind'));
  t.ok(lastOpen < firstMount, 'all opened before anything is mounted');
  const order = lines.filter((l) => l.includes('--rbind')).map((l) => /--rbind \S+ '([^']+)'/.exec(l)?.[1]);
  t.same(order, ['/tmp', '/tmp/nested', '/var/run/netns'], 'by depth: /tmp before what is inside it');
  t.notMatch(lines.find((l) => l.includes("'/var/run/netns' &&")) ?? '', /make-rprivate/, 'HostToContainer stays a slave of the host');
  t.same(lines.filter((l) => /^exec \d+<&-$/.test(l)).length, 3, 'every descriptor is closed before the program runs');
  t.same(mountOrder([{ target: '/a/b/c' }, { target: '/a' }, { target: '/a/b' }]).map((m) => m.target), ['/a', '/a/b', '/a/b/c']);
});

t.test('the mount points made on the host', async (t) => {
  const host = new Set(['/', '/var', '/var/run', '/tmp', '/etc']);
  const exists = (p: string) => host.has(p);
  const m = (target: string) => ({ source: '/s', target, readOnly: false });
  const cases: Array<[string, string[], string[]]> = [
    ['missing ancestors and the target', ['/var/run/secrets/tokens'], ['/var/run/secrets', '/var/run/secrets/tokens']],
    ['an existing target makes none', ['/tmp', '/etc'], []],
    ['inside another mount: made in that volume', ['/tmp', '/tmp/a/b'], []],
    ['a new target and one inside it', ['/host/opt', '/host/opt/cni/bin'], ['/host', '/host/opt']],
    ['shared ancestors once, shallow first', ['/var/run/secrets/tokens', '/var/run/secrets/istio'], ['/var/run/secrets', '/var/run/secrets/istio', '/var/run/secrets/tokens']],
  ];
  for (const [name, targets, want] of cases) t.same(hostMountPoints(targets.map(m), exists), want, name);
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

/** Runs one container through PodRuntime with these mounts; resolves with its phase and log. */
async function runOnce(t: { teardown(fn: () => unknown): void }, state: string, spec: Parameters<PodRuntime['start']>[0], mounts: ReturnType<typeof planPodVolumes>, env?: Record<string, string>, during?: () => void): Promise<{ phase: string; log: string }> {
  if (!mounts.ok) throw new Error(mounts.message);
  const rt = new PodRuntime({ dial: plainDial, launcher: directLauncher(), ...(env ? { baseEnv: env } : {}) });
  t.teardown(() => rt.stop(0));
  const status = await new Promise<PodStatus>((resolve) => {
    rt.start(spec, { netns: 'unused', podName: 'p', namespace: 'ns', podIP: '127.0.0.1', logDir: path.join(state, 'logs'), mounts: mounts.plan.mounts }, (s) => {
      if (s.phase === 'Running') during?.();
      if (s.phase === 'Succeeded' || s.phase === 'Failed') resolve(s);
    });
  });
  const logFile = path.join(state, 'logs', 'c.log');
  let log = '';
  for (const until = Date.now() + 5000; Date.now() < until; await new Promise((r) => setTimeout(r, 20))) {
    log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
    if (log.includes('END')) break;
  }
  return { phase: status.phase, log };
}

t.test('a volume over the directory that holds the other sources and the program hides neither', async (t) => {
  // As a chart's emptyDir at /tmp over a state directory (and `ambit` on the PATH) in /tmp.
  const top = mkdtempSync(path.join(tmpdir(), 'ambit-mntns-'));
  t.teardown(() => rmSync(top, { recursive: true, force: true }));
  const state = path.join(top, 'state');
  mkdirSync(path.join(top, 'bin'), { recursive: true });
  symlinkSync('/bin/cat', path.join(top, 'bin', 'show'));
  const spec = {
    restartPolicy: 'Never' as const,
    volumes: [{ name: 'tmp', emptyDir: {} }, { name: 'tok', emptyDir: {} }],
    containers: [{ name: 'c', command: ['show', `${top}/nested/tok/token`, '/dev/null'], volumeMounts: [{ name: 'tok', mountPath: `${top}/nested/tok` }, { name: 'tmp', mountPath: top }] }],
  };
  const planned = planPodVolumes('ns/p', spec, state);
  if (!planned.ok) throw new Error(planned.message);
  for (const v of planned.plan.volumes) mkdirSync(v.dir, { recursive: true });
  writeFileSync(path.join(state, 'volumes', 'tok', 'token'), 'the-token END\n');
  const r = await runOnce(t, state, spec, planned, { PATH: `${top}/bin:/usr/bin:/bin` });
  t.equal(r.phase, 'Succeeded', `ran: ${r.log}`);
  t.match(r.log, 'the-token', 'the program (a symlink on PATH inside the hidden directory) ran and read the nested volume');
  t.ok(existsSync(path.join(state, 'volumes', 'tmp', 'nested', 'tok')), 'the nested mount point was made inside the outer volume');
  t.notOk(existsSync(path.join(top, 'nested')), 'not on the host');
});

t.test('HostToContainer: a mount made on the host later reaches the container; None does not', async (t) => {
  const top = mkdtempSync(path.join(tmpdir(), 'ambit-mntns-'));
  const src = path.join(top, 'src');
  mkdirSync(path.join(src, 'later'), { recursive: true });
  // The host side of a HostToContainer mount is a shared mount (as /var/run/netns is).
  spawnSync('mount', ['--bind', src, src]);
  spawnSync('mount', ['--make-shared', src]);
  t.teardown(() => {
    spawnSync('umount', ['-R', src]);
    rmSync(top, { recursive: true, force: true });
  });
  const check = (prop: string) => ({
    restartPolicy: 'Never' as const,
    volumes: [{ name: 'h', hostPath: { path: src } }],
    containers: [{ name: 'c', command: ['sh', '-c', `for i in $(seq 50); do [ -e ${top}/seen/later/marker ] && break; sleep 0.1; done; ls ${top}/seen/later; echo END`], volumeMounts: [{ name: 'h', mountPath: `${top}/seen`, mountPropagation: prop }] }],
  });
  let mounted = false;
  const mountLater = () => {
    if (mounted) return;
    mounted = true;
    setTimeout(() => {
      spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(src, 'later')]);
      writeFileSync(path.join(src, 'later', 'marker'), '');
    }, 300);
  };
  const h2c = await runOnce(t, path.join(top, 'state-a'), check('HostToContainer'), planPodVolumes('ns/p', check('HostToContainer'), path.join(top, 'state-a')), undefined, mountLater);
  t.match(h2c.log, 'marker', 'HostToContainer: the later mount is seen');
  spawnSync('umount', [path.join(src, 'later')]);
  mounted = false;
  const none = await runOnce(t, path.join(top, 'state-b'), check('None'), planPodVolumes('ns/p', check('None'), path.join(top, 'state-b')), undefined, mountLater);
  t.notMatch(none.log, 'marker', 'None: it is not');
  spawnSync('umount', [path.join(src, 'later')]);
});
