// Applies the node-side probe SNAT (hostprobe.ts) in the node's namespace (this one, or a named
// one for the local cluster and tests) and keeps its set of enrolled pod IPs.
import net from 'node:net';
import { exec, type ExecOptions, type ExecResult } from '../../../lib/sys/exec.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { detectBackend, resolveNetns, runIn, which, type BackendPreference, type IptablesBackend } from './backend.js';
import type { Family } from './constants.js';
import {
  DEFAULT_PROBE_NAMES, ipsetCreateArgs, ipsetName, parseIpsetSave, parseNftSet, probeIptablesRules, renderProbeNftAdd,
  renderProbeNftDelete, renderProbeNftSetup, renderProbeNftTeardown, snatAddress, type ProbeNames,
} from './host-probe.js';
import { compareIptables, parseIptablesSave, planApply, type Saved } from './iptables.js';

export type ProbeBackendPreference = 'auto' | 'ipset' | 'nft';

export interface ProbeSnatOptions {
  /** `auto`: ipset + iptables when both are installed (Istio's layout), else an nftables set. */
  backend?: ProbeBackendPreference;
  /** Which iptables binaries the ipset variant uses (default: whatever `iptables` is). */
  iptables?: BackendPreference;
  /** The node's namespace, by name or path; undefined: the caller's own. */
  netns?: string;
  ipv6?: boolean;
  snatV4?: string;
  snatV6?: string;
  names?: Partial<ProbeNames>;
  log?: Logger;
}

function familyOf(ip: string): Family {
  const v = net.isIP(ip);
  if (v !== 4 && v !== 6) throw new Error(`probe SNAT: ${JSON.stringify(ip)} is not a pod IP address`);
  return v;
}

export class ProbeSnat {
  readonly kind: 'ipset' | 'nft';
  private readonly names: ProbeNames;
  private readonly families: Family[];
  private readonly ipt?: IptablesBackend;
  private readonly ipset?: string;
  private readonly nftBin?: string;
  private readonly log: Logger;

  constructor(private readonly opts: ProbeSnatOptions = {}) {
    this.names = { ...DEFAULT_PROBE_NAMES, ...opts.names };
    this.families = opts.ipv6 ? [4, 6] : [4];
    this.log = opts.log ?? silentLogger();
    const pref = opts.backend ?? 'auto';
    const ipset = pref === 'nft' ? undefined : which('ipset');
    const ipt = ipset ? tryBackend(opts.iptables ?? 'iptables') : undefined;
    if (ipset && ipt) {
      this.kind = 'ipset';
      this.ipset = ipset;
      this.ipt = ipt;
    } else if (pref === 'ipset') {
      throw new Error('probe SNAT backend ipset needs the ipset and iptables commands (install the ipset and iptables packages)');
    } else {
      this.nftBin = which('nft');
      if (!this.nftBin) throw new Error('probe SNAT needs ipset + iptables or nft (install the ipset or nftables package)');
      this.kind = 'nft';
    }
  }

  private run(file: string, args: readonly string[], o: ExecOptions = {}): Promise<ExecResult> {
    return this.opts.netns === undefined ? exec(file, args, o) : runIn(resolveNetns(this.opts.netns), file, args, o);
  }

  private snat(f: Family): string {
    return snatAddress(f, this.opts.snatV4, this.opts.snatV6);
  }

  private nft(script: string): Promise<ExecResult> {
    return this.run(this.nftBin!, ['-f', '-'], { input: script });
  }

  private async saved(f: Family): Promise<Saved> {
    return parseIptablesSave((await this.run(this.ipt!.save[f], ['-t', 'nat'])).stdout);
  }

  private async restore(f: Family, text: string): Promise<void> {
    if (text !== '') await this.run(this.ipt!.restore[f], ['--noflush', '-w', '5'], { input: text });
  }

  /** Creates the set(s) and the SNAT rule; idempotent, and keeps the IPs already in the set. */
  async setup(): Promise<void> {
    for (const f of this.families) {
      if (this.kind === 'nft') {
        await this.nft(renderProbeNftSetup(this.names, f, this.snat(f)));
        continue;
      }
      await this.run(this.ipset!, ipsetCreateArgs(this.names, f));
      await this.restore(f, planApply(await this.saved(f), probeIptablesRules(this.names, f, this.snat(f)), [this.names.chain]));
    }
    this.log.debug({ backend: this.kind, families: this.families }, 'probe SNAT set up');
  }

  /** Whether the SNAT rule is in place exactly once (the agent's readiness and reconcile). */
  async ready(): Promise<boolean> {
    for (const f of this.families) {
      if (this.kind === 'nft') {
        const r = await this.run(this.nftBin!, ['list', 'chain', f === 4 ? 'ip' : 'ip6', this.names.nftTable, 'postrouting'], { allowFail: true });
        if (r.code !== 0 || !r.stdout.includes('snat to')) return false;
      } else {
        const cmp = compareIptables(await this.saved(f), probeIptablesRules(this.names, f, this.snat(f)), `IPv${f}`, [this.names.chain]);
        if (cmp.missing.length > 0 || cmp.extra.length > 0) return false;
      }
    }
    return true;
  }

  /** Adds (or re-labels) a pod IP; `uid` (the pod UID) is kept as the entry's comment. */
  async addPod(ip: string, uid: string): Promise<void> {
    const f = this.checkFamily(ip);
    if (this.kind === 'nft') await this.nft(renderProbeNftAdd(this.names, f, ip, uid));
    else await this.run(this.ipset!, ['add', ipsetName(this.names, f), ip, 'comment', uid, '-exist']);
  }

  /** Removes a pod IP; a missing one is fine. */
  async removePod(ip: string): Promise<void> {
    const f = this.checkFamily(ip);
    if (this.kind === 'nft') await this.nft(renderProbeNftDelete(this.names, f, ip));
    else await this.run(this.ipset!, ['del', ipsetName(this.names, f), ip, '-exist']);
  }

  /** Pod IP → UID of every entry. */
  async list(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const f of this.families) {
      const entries = this.kind === 'nft'
        ? parseNftSet((await this.run(this.nftBin!, ['-j', 'list', 'set', f === 4 ? 'ip' : 'ip6', this.names.nftTable, 'pods'])).stdout)
        : parseIpsetSave((await this.run(this.ipset!, ['list', ipsetName(this.names, f), '-o', 'save'])).stdout);
      for (const [ip, uid] of entries) out.set(ip, uid);
    }
    return out;
  }

  /** Makes the set equal `desired` (IP → UID): the agent's prune on startup. */
  async sync(desired: ReadonlyMap<string, string>): Promise<{ added: string[]; removed: string[] }> {
    const have = await this.list();
    const added: string[] = [];
    const removed: string[] = [];
    for (const ip of have.keys()) {
      if (!desired.has(ip)) {
        await this.removePod(ip);
        removed.push(ip);
      }
    }
    for (const [ip, uid] of desired) {
      if (have.get(ip) !== uid) {
        await this.addPod(ip, uid);
        added.push(ip);
      }
    }
    return { added, removed };
  }

  /** Removes the rule and the sets; idempotent. */
  async teardown(): Promise<void> {
    for (const f of [4, 6] as Family[]) {
      if (this.kind === 'nft') {
        await this.nft(renderProbeNftTeardown(this.names, f));
        continue;
      }
      const saved = await this.saved(f).catch(() => undefined);
      if (saved) await this.restore(f, planApply(saved, {}, [this.names.chain]));
      await this.run(this.ipset!, ['destroy', ipsetName(this.names, f)], { allowFail: true });
    }
  }

  private checkFamily(ip: string): Family {
    const f = familyOf(ip);
    if (!this.families.includes(f)) throw new Error(`probe SNAT: ${ip} is IPv6 but probe SNAT was set up without ipv6`);
    return f;
  }
}

function tryBackend(pref: BackendPreference): IptablesBackend | undefined {
  try {
    const b = detectBackend(pref);
    return b.kind === 'iptables' ? b : undefined;
  } catch {
    return undefined;
  }
}
