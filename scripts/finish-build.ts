// After tsc: makes the compiled command lines executable (tsc does not keep modes) and, for the
// product tree, refuses test code in it; copies the static assets (ASSETS) — dist/ is what an image ships; tests build into dist-test/.
// Usage: node dist/scripts/finish-build.js [outDir …]   (default: dist)
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const BINS = ['cli/main.js', 'cni/plugin/main.js'];
/** Files the build copies as they are (the dashboard page's HTML; tsc builds its script). */
const ASSETS = ['web/dashboard/index.html'];

/** Paths under `dir` (relative) that are test code: *.test.js, testkit.js, testkit/ and test/. */
export function testCodeIn(dir: string, rel = ''): string[] {
  const found: string[] = [];
  for (const entry of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${entry.name}` : entry.name;
    if (entry.isDirectory()) {
      if ((rel === '' && entry.name === 'test') || entry.name === 'testkit') found.push(`${p}/`);
      else found.push(...testCodeIn(dir, p));
    } else if (/\.test\.js$/.test(entry.name) || entry.name === 'testkit.js') found.push(p);
  }
  return found;
}

const outDirs = process.argv.slice(2);
for (const out of outDirs.length > 0 ? outDirs : ['dist']) {
  const dir = path.join(root, out);
  for (const asset of ASSETS) {
    mkdirSync(path.dirname(path.join(dir, asset)), { recursive: true });
    copyFileSync(path.join(root, asset), path.join(dir, asset));
  }
  for (const bin of BINS) {
    const p = path.join(dir, bin);
    if (existsSync(p)) chmodSync(p, 0o755);
  }
  if (out === 'dist' && existsSync(dir)) {
    const stray = testCodeIn(dir);
    if (stray.length > 0) {
      console.error(`finish-build: test code in dist/ (product code must not import it; tests build into dist-test/): ${stray.slice(0, 10).join(', ')}`);
      process.exit(1);
    }
  }
}
