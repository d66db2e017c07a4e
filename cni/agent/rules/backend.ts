// Which tool writes the rules. Istio detects legacy vs nft iptables once on the host and reuses
// that choice in every pod; we do the same: whatever `iptables` is on the node (legacy or
// nf_tables-backed), else native `nft`. Tests force one with `preference`.
import { accessSync, constants, existsSync } from 'node:fs';
import path from 'node:path';
import { exec, type ExecOptions, type ExecResult } from '../../../lib/sys/exec.js';
import { netnsPath } from '../../../lib/sys/netns.js';

export type BackendPreference = 'auto' | 'iptables' | 'iptables-legacy' | 'iptables-nft' | 'nft';

export interface IptablesBackend {
  kind: 'iptables';
  /** The binaries for IPv4 and IPv6, e.g. `iptables-legacy-save`. */
  save: Record<4 | 6, string>;
  restore: Record<4 | 6, string>;
}

export interface NftBackend {
  kind: 'nft';
  nft: string;
}

export type Backend = IptablesBackend | NftBackend;

/** CNI plugins and agents often run with a PATH lacking sbin; look there too. */
const EXTRA_DIRS = ['/usr/sbin', '/sbin', '/usr/bin', '/bin'];

export function which(name: string, searchPath = process.env.PATH ?? ''): string | undefined {
  const dirs = [...searchPath.split(':').filter(Boolean), ...EXTRA_DIRS];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      // next directory
    }
  }
  return undefined;
}

function iptables(variant: '' | '-legacy' | '-nft', searchPath?: string): IptablesBackend | undefined {
  const bins = {
    s4: which(`iptables${variant}-save`, searchPath),
    r4: which(`iptables${variant}-restore`, searchPath),
    s6: which(`ip6tables${variant}-save`, searchPath),
    r6: which(`ip6tables${variant}-restore`, searchPath),
  };
  if (!bins.s4 || !bins.r4) return undefined;
  // ip6tables may be missing on an IPv4-only node; using it then fails with a message naming it.
  return {
    kind: 'iptables',
    save: { 4: bins.s4, 6: bins.s6 ?? `ip6tables${variant}-save` },
    restore: { 4: bins.r4, 6: bins.r6 ?? `ip6tables${variant}-restore` },
  };
}

/** Picks the tool; throws saying what to install when there is none. */
export function detectBackend(preference: BackendPreference = 'auto', searchPath?: string): Backend {
  const nft = (): NftBackend | undefined => {
    const p = which('nft', searchPath);
    return p ? { kind: 'nft', nft: p } : undefined;
  };
  let b: Backend | undefined;
  switch (preference) {
    case 'auto':
      b = iptables('', searchPath) ?? nft();
      break;
    case 'iptables':
      b = iptables('', searchPath);
      break;
    case 'iptables-legacy':
      b = iptables('-legacy', searchPath);
      break;
    case 'iptables-nft':
      b = iptables('-nft', searchPath);
      break;
    case 'nft':
      b = nft();
      break;
    default:
      throw new Error(`redirect backend ${JSON.stringify(preference)} is not one of auto, iptables, iptables-legacy, iptables-nft, nft`);
  }
  if (!b) {
    const what = preference === 'auto' ? 'iptables or nft' : preference;
    throw new Error(`cannot redirect pod traffic: no ${what} found in PATH or /usr/sbin (install the iptables or nftables package)`);
  }
  return b;
}

export function describeBackend(b: Backend): string {
  return b.kind === 'nft' ? `nft (${b.nft})` : `iptables (${b.restore[4]})`;
}

/** A named namespace (as `ip netns` knows it) or a path such as /proc/<pid>/ns/net. */
export function resolveNetns(ref: string): string {
  if (typeof ref !== 'string' || ref === '' || ref.includes('\0')) throw new Error(`netns must be a namespace name or path, got ${JSON.stringify(ref)}`);
  const p = ref.includes('/') ? ref : netnsPath(ref);
  if (!existsSync(p)) throw new Error(`network namespace ${ref} does not exist (${p}); is the pod still running?`);
  return p;
}

/** Runs a tool inside the namespace at `nsPath` (nsenter: works for names and /proc paths alike). */
export function runIn(nsPath: string, file: string, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  return exec('nsenter', [`--net=${nsPath}`, '--', file, ...args], { timeoutMs: 30_000, ...opts });
}
