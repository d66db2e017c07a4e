// Builds the N-API addon in lib/native with node-gyp, against the headers of the Node.js that runs
// this script, so that nothing is downloaded (node-gyp would otherwise fetch a header tarball).
import { existsSync, statSync, readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = path.join(root, 'lib', 'native');
const out = path.join(dir, 'build', 'Release', 'ambit_native.node');

if (!existsSync(path.join(dir, 'binding.gyp'))) process.exit(0);

function newestSource() {
  let newest = 0;
  for (const f of ['binding.gyp', ...readdirSync(path.join(dir, 'src')).map((n) => path.join('src', n))]) {
    newest = Math.max(newest, statSync(path.join(dir, f)).mtimeMs);
  }
  return newest;
}

if (existsSync(out) && statSync(out).mtimeMs >= newestSource() && !process.argv.includes('--force')) {
  process.exit(0);
}

const candidates = [
  path.resolve(path.dirname(process.execPath), '..'),
  '/usr',
  '/usr/local',
];
const nodedir = candidates.find((d) => existsSync(path.join(d, 'include', 'node', 'node_api.h')));
if (!nodedir) {
  console.error(
    `ambit: cannot build the native addon: Node.js headers (include/node/node_api.h) not found under ${candidates.join(', ')}.\n` +
      'Install them (Debian: apt-get install libnode-dev, or use an official Node.js build that ships include/node).',
  );
  process.exit(1);
}
const require = createRequire(import.meta.url);
const gyp = require.resolve('node-gyp/bin/node-gyp.js');
const r = spawnSync(process.execPath, [gyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: dir,
  stdio: 'inherit',
});
if (r.status !== 0) {
  console.error('ambit: building the native addon failed; g++ and make are needed (apt-get install g++ make python3).');
  process.exit(r.status ?? 1);
}
