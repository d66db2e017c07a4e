// Runs tap and ends with the plain summary line that any CI reads: "N passed, N failed".
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const tapBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'tap', 'dist', 'esm', 'run.mjs');
const child = spawn(process.execPath, [tapBin, ...process.argv.slice(2)], { stdio: ['inherit', 'pipe', 'inherit'] });
let tail = '';
child.stdout.on('data', (d) => {
  process.stdout.write(d);
  tail = (tail + d.toString()).slice(-4096);
});
child.on('close', (code) => {
  // tap's last words: "# { total: 3426, pass: 3426 }" (with fail/skip/todo when there are any).
  const m = /# \{ total: (\d+)(?:, pass: (\d+))?(?:, fail: (\d+))?(?:, skip: (\d+))?/.exec(tail);
  if (m) {
    const [, , pass = '0', fail = '0', skip] = m;
    console.log(`\n${pass} passed, ${fail} failed${skip ? `, ${skip} skipped` : ''}`);
  }
  process.exit(code ?? 1);
});
