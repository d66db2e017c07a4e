import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatCycle, scan } from './layers.js';

// dist/scripts/check-layers.js → the repository root is two levels up.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { violations, cycles } = scan(root);
for (const v of violations) console.error(`${v.file}: ${v.specifier ? `import '${v.specifier}': ` : ''}${v.rule}`);
for (const c of cycles) console.error(`import cycle: ${formatCycle(c)}; break it with a narrow interface or by merging the modules`);
if (violations.length > 0 || cycles.length > 0) {
  console.error(`layering check: ${violations.length} violation(s), ${cycles.length} import cycle(s)`);
  process.exit(1);
}
console.log('layering check: ok');
