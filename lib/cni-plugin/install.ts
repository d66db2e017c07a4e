// Putting the plugin where a runtime looks for it (a CNI bin dir such as /opt/cni/bin) under the
// name `ambit-cni`. Two ways:
// - symlink to dist/cni/plugin/main.js: Node resolves the link, so its relative imports work;
//   needs `node` on the runtime's PATH (the shebang is `#!/usr/bin/env node`);
// - a two-line shell wrapper naming the node binary and main.js by absolute path: works with the
//   bare PATH runtimes give plugins, and with a node binary copied next to the dist tree (what an
//   install container does on a host without Node).
import { lstat, mkdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const PLUGIN_BINARY = 'ambit-cni';

/**
 * dist/cni/plugin/main.js of this installation. The plugin is the cni component's program, but
 * installing it is a file operation the command line needs too (`ambit up` chains it on every
 * node), so this lives in lib/ and names the program by its place in the tree, never by an import.
 */
export function pluginMain(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cni', 'plugin', 'main.js');
}

function shellQuote(s: string): string {
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

export function renderWrapper(nodeBin: string, mainJs: string): string {
  return `#!/bin/sh\n# ambit-cni: the Ambit CNI plugin (chained after the node's main CNI plugin)\nexec ${shellQuote(nodeBin)} ${shellQuote(mainJs)} "$@"\n`;
}

export interface InstallOptions {
  mode?: 'wrapper' | 'symlink';
  nodeBin?: string;
  mainJs?: string;
  name?: string;
}

/** Installs (or replaces, atomically) the plugin in `binDir`; returns its path. */
export async function installPlugin(binDir: string, o: InstallOptions = {}): Promise<string> {
  const main = path.resolve(o.mainJs ?? pluginMain());
  const dest = path.join(binDir, o.name ?? PLUGIN_BINARY);
  const tmp = `${dest}.${process.pid}.tmp`;
  await mkdir(binDir, { recursive: true });
  await rm(tmp, { force: true });
  if ((o.mode ?? 'wrapper') === 'symlink') await symlink(main, tmp);
  else await writeFile(tmp, renderWrapper(o.nodeBin ?? process.execPath, main), { mode: 0o755 });
  await rename(tmp, dest);
  return dest;
}

/** Removes the plugin from `binDir` if it is there. */
export async function uninstallPlugin(binDir: string, name = PLUGIN_BINARY): Promise<void> {
  const dest = path.join(binDir, name);
  if (await lstat(dest).then(() => true, () => false)) await rm(dest);
}
