import { existsSync, readdirSync } from 'node:fs';
import { exec, type ExecOptions, type ExecResult } from './exec.js';

/** Where `ip netns` keeps its named namespaces. */
export const NETNS_DIR = '/var/run/netns';

export function netnsPath(name: string): string {
  return `${NETNS_DIR}/${name}`;
}

export function listNetns(prefix = ''): string[] {
  if (!existsSync(NETNS_DIR)) return [];
  return readdirSync(NETNS_DIR).filter((n) => n.startsWith(prefix));
}

export async function addNetns(name: string): Promise<void> {
  await exec('ip', ['netns', 'add', name]);
  await inNetns(name, 'ip', ['link', 'set', 'lo', 'up']);
}

/** Deletes a namespace; a missing one is not an error. */
export async function delNetns(name: string): Promise<void> {
  if (!existsSync(netnsPath(name))) return;
  await exec('ip', ['netns', 'del', name], { allowFail: true });
}

/** Runs a program inside a named network namespace. */
export function inNetns(name: string, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return exec('ip', ['netns', 'exec', name, file, ...args], opts);
}

/** Applies a batch of `ip` commands (one per line, no leading `ip`) in a namespace, or in the current one. */
export function ipBatch(lines: readonly string[], netns?: string): Promise<ExecResult> {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-'];
  return exec('ip', args, { input: lines.join('\n') + '\n' });
}
