import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { nodeHostPath, recordMountPoints, removeMountPoints } from './host-paths.js';

t.test('each node keeps its own host paths; machine-wide ones stay shared', async (t) => {
  const root = '/state/nodes/node-1/root';
  const cases: Array<[string, string]> = [
    ['/etc/cni/net.d', `${root}/etc/cni/net.d`],
    ['/opt/cni/bin/', `${root}/opt/cni/bin`],
    ['/var/run/ambit', `${root}/var/run/ambit`],
    ['/var/run/netns', '/var/run/netns'],
    ['/run/netns/x', '/run/netns/x'],
    ['/run/xtables.lock', '/run/xtables.lock'],
    ['/proc', '/proc'],
    ['/procfs', `${root}/procfs`],
  ];
  for (const [p, want] of cases) t.equal(nodeHostPath(root, p), want, p);
  t.throws(() => nodeHostPath(root, 'etc'), /host path "etc" must be absolute/);
});

t.test('recorded mount points are removed when empty, deepest first', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-hostpaths-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'record');
  const p = (s: string) => path.join(dir, s);
  recordMountPoints(file, [p('a'), p('a/b'), p('a/b/c')]);
  recordMountPoints(file, [p('a/b'), p('f'), p('kept'), p('full')]);
  mkdirSync(p('a/b/c'), { recursive: true });
  writeFileSync(p('f'), '');
  mkdirSync(p('kept'));
  writeFileSync(p('kept/data'), 'x');
  writeFileSync(p('full'), 'not a mount point');
  const removed = removeMountPoints(file);
  t.same(removed.sort(), [p('a'), p('a/b'), p('a/b/c'), p('f')].sort());
  t.ok(existsSync(p('kept/data')), 'a directory with content stays');
  t.ok(existsSync(p('full')), 'a file with content stays');
  t.notOk(existsSync(file), 'the record goes');
  t.same(removeMountPoints(file), [], 'no record: nothing to do');
});
