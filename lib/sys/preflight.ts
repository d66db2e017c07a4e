import { accessSync, constants, existsSync } from 'node:fs';
import { exec } from './exec.js';

/** A system tool the local cluster needs, and the Debian package that provides it. */
export interface Requirement {
  path: string[];
  pkg: string;
  why: string;
}

export const REQUIREMENTS: Requirement[] = [
  { path: ['/usr/sbin/ip', '/sbin/ip', '/usr/bin/ip'], pkg: 'iproute2', why: 'network namespaces, links and routes' },
  { path: ['/usr/sbin/iptables-restore', '/sbin/iptables-restore'], pkg: 'iptables', why: 'Service DNAT and in-pod redirection' },
  { path: ['/usr/sbin/nft', '/sbin/nft'], pkg: 'nftables', why: 'the nftables redirection back end' },
  { path: ['/usr/sbin/ipset', '/sbin/ipset'], pkg: 'ipset', why: "the node's probe SNAT set for enrolled pods" },
  { path: ['/usr/lib/cni/bridge'], pkg: 'containernetworking-plugins', why: 'pod networking (bridge + host-local CNI plugins)' },
  { path: ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'], pkg: 'tcpdump', why: 'packet captures in the end-to-end tests' },
  { path: ['/usr/sbin/conntrack'], pkg: 'conntrack', why: 'clearing stale NAT entries when endpoints change' },
];

function present(r: Requirement): boolean {
  return r.path.some((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export function missing(reqs: Requirement[] = REQUIREMENTS): Requirement[] {
  return reqs.filter((r) => !present(r));
}

/**
 * Makes sure the system packages are there: installs the missing ones with apt-get when running
 * as root on Debian, and otherwise fails with a message that names them.
 */
export async function preflight(log: (msg: string) => void = () => undefined): Promise<void> {
  if (process.platform !== 'linux') throw new Error('ambit needs Linux (network namespaces, iptables)');
  if (process.getuid?.() !== 0) {
    throw new Error('ambit needs root: it creates network namespaces, links and iptables rules (run it with sudo)');
  }
  const need = missing();
  if (need.length === 0) return;
  const pkgs = [...new Set(need.map((r) => r.pkg))];
  const list = need.map((r) => `${r.pkg} (${r.why})`).join(', ');
  if (!existsSync('/usr/bin/apt-get')) {
    throw new Error(`missing system packages: ${list}; install them with your package manager`);
  }
  log(`installing missing system packages: ${pkgs.join(' ')}`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  try {
    await exec('apt-get', ['install', '-y', '-qq', ...pkgs], { env });
  } catch {
    await exec('apt-get', ['update', '-qq'], { env });
    await exec('apt-get', ['install', '-y', '-qq', ...pkgs], { env });
  }
  const still = missing();
  if (still.length > 0) throw new Error(`still missing after apt-get: ${still.map((r) => r.pkg).join(', ')}`);
}
