// Chaining ambit-cni into the node's CNI configuration (/etc/cni/net.d), as Istio's install-cni
// does: the runtime uses the lexically first configuration file, so ambit-cni is appended to that
// file's plugin list (a single-plugin .conf becomes a .conflist holding it). Done again at every
// start, it is a no-op when the entry is already there and up to date.
import { readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { PLUGIN_BINARY } from '../../lib/cni-plugin/install.js';

export type PluginConf = { type: string; [k: string]: unknown };
export interface Conflist {
  cniVersion?: string;
  name?: string;
  plugins: PluginConf[];
  [k: string]: unknown;
}

const EXTENSIONS = ['.conflist', '.conf', '.json'];

/** The file the runtime reads: the lexically first configuration file. Pure. */
export function primaryConfig(files: readonly string[]): string | undefined {
  return files.filter((f) => EXTENSIONS.includes(path.extname(f)) && !f.startsWith('.')).sort()[0];
}

/**
 * `parsed` (a conflist or a single plugin's conf) with `entry` last in its plugins, replacing an
 * earlier ambit-cni entry; `changed` is false when it was already so. Pure.
 */
export function chainInto(parsed: unknown, entry: PluginConf, file: string): { conflist: Conflist; changed: boolean } {
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error(`${file}: not a CNI configuration (a JSON object)`);
  const o = parsed as Record<string, unknown>;
  let conflist: Conflist;
  if (Array.isArray(o.plugins)) {
    conflist = { ...o, plugins: o.plugins as PluginConf[] };
  } else if (typeof o.type === 'string') {
    // A single plugin's conf: the plugin list of a conflist named like it.
    const { cniVersion, name, ...plugin } = o;
    conflist = { ...(cniVersion !== undefined ? { cniVersion: String(cniVersion) } : {}), ...(name !== undefined ? { name: String(name) } : {}), plugins: [plugin as PluginConf] };
  } else {
    throw new Error(`${file}: has neither "plugins" nor "type"; is it a CNI configuration?`);
  }
  const others = conflist.plugins.filter((p) => p?.type !== entry.type);
  const next = { ...conflist, plugins: [...others, entry] };
  const changed = !Array.isArray(o.plugins) || JSON.stringify(next.plugins) !== JSON.stringify(conflist.plugins);
  return { conflist: next, changed };
}

/** `parsed` without the ambit-cni entry. Pure. */
export function unchainFrom(parsed: Conflist, type = PLUGIN_BINARY): { conflist: Conflist; changed: boolean } {
  const plugins = parsed.plugins.filter((p) => p?.type !== type);
  return { conflist: { ...parsed, plugins }, changed: plugins.length !== parsed.plugins.length };
}

async function writeAtomic(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o644 });
  await rename(tmp, file);
}

/**
 * Chains `entry` into the primary configuration of `netDir`; returns the file written, or
 * undefined when it already held the entry. Fails when the directory has no configuration yet:
 * the node's main CNI plugin must install its own first.
 */
export async function chainCniConfig(netDir: string, entry: PluginConf): Promise<{ file: string; changed: boolean }> {
  const files = await readdir(netDir).catch((e: Error) => {
    throw new Error(`cannot read the CNI configuration directory ${netDir}: ${e.message}; mount the host's /etc/cni/net.d and pass it with --cni-conf-dir`);
  });
  const primary = primaryConfig(files);
  if (!primary) throw new Error(`${netDir} holds no CNI configuration yet; ambit-cni is chained after the node's network plugin, which must install its configuration first`);
  const file = path.join(netDir, primary);
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message}); fix or remove it`);
  }
  const { conflist, changed } = chainInto(parsed, entry, file);
  if (!changed) return { file, changed: false };
  // A .conf becomes a .conflist of the same name (the runtime reads either; only a conflist chains).
  const out = path.extname(file) === '.conflist' ? file : `${file.slice(0, -path.extname(file).length)}.conflist`;
  await writeAtomic(out, `${JSON.stringify(conflist, null, 2)}\n`);
  if (out !== file) await rm(file, { force: true });
  return { file: out, changed: true };
}
