// The import rules of DESIGN.md §5, as a pure function over (importer, specifier) pairs, and a
// scanner that applies it to the source tree. Run by `npm test` (dist/scripts/check-layers.js).
import { readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';

export const COMPONENTS = ['control', 'ztunnel', 'waypoint', 'cni', 'cli'] as const;

/** Folders on a data path: they read state through an interface, never from xds/ or admin/. */
const DATA_PATH: Record<string, string[]> = {
  ztunnel: ['proxy'],
  waypoint: ['listener', 'route', 'filters', 'upstream'],
};

export interface Violation {
  file: string;
  specifier: string;
  rule: string;
}

function topOf(rel: string): string {
  return rel.split('/')[0] ?? '';
}

/**
 * Checks one import. `file` and `target` are paths relative to the repository root, `target`
 * undefined when the specifier is a package or `node:*`.
 */
export function checkImport(file: string, specifier: string, target: string | undefined): Violation | undefined {
  const v = (rule: string): Violation => ({ file, specifier, rule });
  const isTest = /\.test\.ts$/.test(file) || topOf(file) === 'test';
  if (target === undefined) return undefined;
  const from = topOf(file);
  const to = topOf(target);
  if (isTest || from === 'scripts') return undefined;
  if (from === 'lib') {
    if (to !== 'lib') return v('lib/ imports only node:*, packages and lib/');
    return undefined;
  }
  if ((COMPONENTS as readonly string[]).includes(from)) {
    if (to === 'test') return v('product code never imports test/');
    if (to !== 'lib' && to !== from) {
      // The command line starts every component through its main.ts, and nothing else.
      const isMain = from === 'cli' && /^[a-z]+\/main\.ts$/.test(target);
      if (!isMain) return v(`a component imports lib/ and itself, never another component (${to}/)`);
    }
    const second = file.split('/')[1] ?? '';
    if (DATA_PATH[from]?.includes(second)) {
      const targetSecond = target.split('/')[1] ?? '';
      if ((to === from && (targetSecond === 'xds' || targetSecond === 'admin')) || target.startsWith('lib/xds/')) {
        return v('the data path reads state through an interface, never xds/ or admin/');
      }
    }
  }
  return undefined;
}

const IMPORT_RE = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\s*\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g;

export function importsOf(source: string): string[] {
  const out: string[] = [];
  for (const m of source.matchAll(IMPORT_RE)) out.push((m[1] ?? m[2] ?? m[3])!);
  return out;
}

function walk(dir: string, acc: string[]): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name === 'build' || name.startsWith('.')) continue;
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) walk(p, acc);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) acc.push(p);
  }
  return acc;
}

export function scan(root: string): Violation[] {
  const violations: Violation[] = [];
  for (const top of ['lib', ...COMPONENTS]) {
    let files: string[] = [];
    try {
      files = walk(path.join(root, top), []);
    } catch {
      continue;
    }
    for (const abs of files) {
      const file = path.relative(root, abs);
      for (const spec of importsOf(readFileSync(abs, 'utf8'))) {
        const target = spec.startsWith('.')
          ? path.relative(root, path.resolve(path.dirname(abs), spec)).replace(/\.js$/, '.ts')
          : undefined;
        const violation = checkImport(file, spec, target);
        if (violation) violations.push(violation);
      }
    }
  }
  return violations;
}
