// Finds and loads the compiled addon. Loading is lazy so that code which imports lib/native but
// never opens a socket (unit tests, the CLI's help) works where the addon was not built.
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SockAddr } from './types.js';

/** The raw addon; errors it throws carry a positive `errno` and a `syscall`, but no `code`. */
export interface Addon {
  /** netns null = this thread's namespace; mark -1 = none; backlog -1 = do not listen. */
  socketInNetns(
    netns: string | number | null,
    family: 4 | 6,
    bindAddress: string | null,
    port: number,
    mark: number,
    transparent: boolean,
    reusePort: boolean,
    backlog: number,
  ): number;
  getOriginalDst(fd: number): SockAddr;
  setMark(fd: number, mark: number): void;
  setTransparent(fd: number): void;
  openNetns(path: string): number;
  closeFd(fd: number): void;
}

const FILE = path.join('build', 'Release', 'ambit_native.node');

/** Where the addon may be: beside this file (running from source) or in the source tree (from dist/). */
export function addonCandidates(here: string, env: NodeJS.ProcessEnv = process.env): string[] {
  const fromEnv = env['AMBIT_NATIVE_ADDON'];
  return [
    ...(fromEnv ? [fromEnv] : []),
    path.join(here, FILE),
    path.resolve(here, '..', '..', '..', 'lib', 'native', FILE),
  ];
}

let cached: Addon | undefined;

export function addon(): Addon {
  if (cached) return cached;
  const here = path.dirname(fileURLToPath(import.meta.url));
  const candidates = addonCandidates(here);
  const found = candidates.find((p) => existsSync(p));
  if (!found) {
    throw new Error(
      `ambit native addon not found (looked in ${candidates.join(', ')}): run \`npm run build:native\` ` +
        '(needs make, a C compiler and the Node.js headers), or set AMBIT_NATIVE_ADDON to its path',
    );
  }
  cached = createRequire(import.meta.url)(found) as Addon;
  return cached;
}
