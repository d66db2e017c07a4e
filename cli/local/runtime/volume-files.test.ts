import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import { prepareHostPath } from './volume-files.js';

t.test('hostPath types', async (t) => {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-hostpath-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(path.join(dir, 'd'));
  writeFileSync(path.join(dir, 'f'), 'content');
  const vol = (p: string, type: string) => ({ name: 'v', kind: 'hostPath' as const, dir: path.join(dir, p), type });
  prepareHostPath(vol('made/dir', 'DirectoryOrCreate'), 'ns/p');
  t.ok(statSync(path.join(dir, 'made/dir')).isDirectory(), 'DirectoryOrCreate makes the directory');
  prepareHostPath(vol('made2/x.lock', 'FileOrCreate'), 'ns/p');
  t.ok(statSync(path.join(dir, 'made2/x.lock')).isFile(), 'FileOrCreate makes an empty file and its parents');
  prepareHostPath(vol('f', 'FileOrCreate'), 'ns/p');
  t.equal(readFileSync(path.join(dir, 'f'), 'utf8'), 'content', 'an existing file is left as it is');
  prepareHostPath(vol('d', 'Directory'), 'ns/p');
  prepareHostPath(vol('f', 'File'), 'ns/p');
  const bad: Array<[string, string, RegExp]> = [
    ['absent', 'Directory', /pod ns\/p: volume "v": hostPath type check failed: \S+\/absent does not exist/],
    ['f', 'Directory', /\S+\/f is not a directory/],
    ['d', 'File', /\S+\/d is not a file/],
    ['d', 'FileOrCreate', /\S+\/d is not a file/],
    ['f', 'Socket', /\S+\/f is not a socket/],
  ];
  for (const [p, type, want] of bad) t.throws(() => prepareHostPath(vol(p, type), 'ns/p'), want, `${type} on ${p}`);
});
