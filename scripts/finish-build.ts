// Makes the compiled command lines executable (tsc does not keep modes).
import { chmodSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
for (const bin of ['dist/cli/main.js', 'dist/cni/plugin/main.js']) {
  const p = path.join(root, bin);
  if (existsSync(p)) chmodSync(p, 0o755);
}
