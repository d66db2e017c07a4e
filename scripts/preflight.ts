import { preflight } from '../lib/sys/preflight.js';

try {
  await preflight((m) => console.log(`preflight: ${m}`));
} catch (e) {
  console.error(`preflight: ${(e as Error).message}`);
  process.exit(1);
}
