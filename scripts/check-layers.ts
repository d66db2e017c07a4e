import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { scan } from './layers.js';

// dist/scripts/check-layers.js → the repository root is two levels up.
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const violations = scan(root);
for (const v of violations) console.error(`${v.file}: import '${v.specifier}': ${v.rule}`);
if (violations.length > 0) {
  console.error(`layering check: ${violations.length} violation(s) of DESIGN.md §5`);
  process.exit(1);
}
console.log('layering check: ok');
