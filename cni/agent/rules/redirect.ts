// Applies, removes and checks the in-pod redirection inside a pod's network namespace. Each
// family's iptables rules go in one `iptables-restore --noflush` transaction (nft: both families
// in one `nft -f`), computed from what is there now, so that applying is idempotent and removing
// leaves everyone else's rules as they were. Routing goes in before the rules and out after them.
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { detectBackend, resolveNetns, runIn, type Backend, type BackendPreference, type IptablesBackend } from './backend.js';
import { NFT_TABLE, type Family } from './constants.js';
import { compareIptables, iptablesRules, parseIptablesSave, planApply, type Saved } from './iptables.js';
import { compareNft, nftChains, nftFamily, parseNftRuleCounts, renderNft, renderNftRemoval } from './nft.js';
import { redirectConfig, type RedirectConfig, type RedirectOptions } from './options.js';
import { parseRouteState, routeAddPlan, routeRemovePlan, type RouteState } from './routes.js';

const FAMILIES: Family[] = [4, 6];

export type RedirectState = 'present' | 'absent' | 'partial';

export interface CheckResult {
  state: RedirectState;
  /** What the options want and is missing or wrong (empty when present). */
  missing: string[];
  /** What of ours is there that the options do not want. */
  extra: string[];
}

export interface RedirectorOptions {
  backend?: BackendPreference;
  log?: Logger;
}

export class PodRedirector {
  readonly backend: Backend;
  private readonly log: Logger;

  constructor(opts: RedirectorOptions = {}) {
    this.backend = detectBackend(opts.backend ?? 'auto');
    this.log = opts.log ?? silentLogger();
  }

  /** Installs (or rebuilds to match `options`) the redirection in `netns`, a name or a path. */
  async apply(netns: string, options: RedirectOptions = {}): Promise<void> {
    const c = redirectConfig(options);
    const ns = resolveNetns(netns);
    const t0 = performance.now();
    const routes = new Map<Family, RouteState>();
    for (const f of FAMILIES) routes.set(f, await this.routes(ns, f, c.families.includes(f)));
    for (const f of c.families) for (const cmd of routeAddPlan(f, routes.get(f)!)) await runIn(ns, 'ip', cmd);
    if (this.backend.kind === 'nft') {
      const script = FAMILIES.map((f) => (c.families.includes(f) ? renderNft(c, f) : renderNftRemoval(f))).join('');
      await this.nft(ns, script);
    } else {
      for (const f of FAMILIES) {
        const want = c.families.includes(f);
        const saved = await this.save(this.backend, ns, f, want);
        await this.restore(this.backend, ns, f, planApply(saved, want ? iptablesRules(c, f) : {}));
      }
    }
    for (const f of FAMILIES) {
      if (!c.families.includes(f)) for (const cmd of routeRemovePlan(f, routes.get(f)!)) await runIn(ns, 'ip', cmd);
    }
    this.log.debug({ netns, backend: this.backend.kind, ms: Math.round(performance.now() - t0) }, 'in-pod redirection applied');
  }

  /** Removes every rule, chain and route of ours from `netns`, and nothing else. Idempotent. */
  async remove(netns: string): Promise<void> {
    const ns = resolveNetns(netns);
    if (this.backend.kind === 'nft') {
      await this.nft(ns, FAMILIES.map(renderNftRemoval).join(''));
    } else {
      for (const f of FAMILIES) {
        await this.restore(this.backend, ns, f, planApply(await this.save(this.backend, ns, f, false), {}));
      }
    }
    for (const f of FAMILIES) {
      for (const cmd of routeRemovePlan(f, await this.routes(ns, f, false))) await runIn(ns, 'ip', cmd);
    }
    this.log.debug({ netns }, 'in-pod redirection removed');
  }

  /** Whether `netns` has exactly the redirection `options` describe, none of it, or part of it. */
  async check(netns: string, options: RedirectOptions = {}): Promise<CheckResult> {
    const c = redirectConfig(options);
    const ns = resolveNetns(netns);
    const missing: string[] = [];
    const extra: string[] = [];
    let anyPresent = false;
    for (const f of FAMILIES) {
      const want = c.families.includes(f);
      const label = `IPv${f}`;
      if (this.backend.kind === 'nft') {
        const counts = await this.nftCounts(ns, f);
        if (counts) anyPresent = true;
        if (want) missing.push(...compareNft(counts, nftChains(c, f), label));
        else if (counts) extra.push(`${label}: table ${nftFamily(f)} ${NFT_TABLE}`);
      } else {
        const cmp = compareIptables(await this.save(this.backend, ns, f, want), want ? iptablesRules(c, f) : {}, label);
        anyPresent ||= cmp.anyPresent;
        missing.push(...cmp.missing);
        extra.push(...cmp.extra);
      }
      const r = await this.routes(ns, f, want);
      if (r.rules > 0 || r.route) anyPresent = true;
      if (want && r.rules === 0) missing.push(`${label}: ip rule fwmark 0x111/0xfff lookup 100`);
      if (want && !r.route) missing.push(`${label}: local default route in table 100`);
      if (!want && (r.rules > 0 || r.route)) extra.push(`${label}: policy routing for table 100`);
    }
    const state: RedirectState = missing.length === 0 && extra.length === 0 ? 'present' : anyPresent ? 'partial' : 'absent';
    return { state, missing, extra };
  }

  private async routes(ns: string, f: Family, required: boolean): Promise<RouteState> {
    const fam = f === 4 ? '-4' : '-6';
    const rules = await runIn(ns, 'ip', ['-j', fam, 'rule', 'show'], { allowFail: !required });
    if (rules.code !== 0) return { rules: 0, route: false };
    // A table that was never used does not exist: `show` fails, which means no route.
    const routes = await runIn(ns, 'ip', ['-j', fam, 'route', 'show', 'table', '100'], { allowFail: true });
    return parseRouteState(rules.stdout, routes.code === 0 ? routes.stdout : '[]');
  }

  /** What iptables-save shows; an IPv6 stack that cannot be read counts as empty unless we need it. */
  private async save(b: IptablesBackend, ns: string, f: Family, required: boolean): Promise<Saved> {
    if (!required) {
      const r = await runIn(ns, b.save[f], [], { allowFail: true }).catch(() => undefined);
      return r && r.code === 0 ? parseIptablesSave(r.stdout) : new Map();
    }
    return parseIptablesSave((await runIn(ns, b.save[f], [])).stdout);
  }

  private async restore(b: IptablesBackend, ns: string, f: Family, text: string): Promise<void> {
    if (text === '') return;
    await runIn(ns, b.restore[f], ['--noflush', '-w', '5'], { input: text });
  }

  private async nft(ns: string, script: string): Promise<void> {
    if (this.backend.kind !== 'nft') throw new Error('nft backend expected');
    await runIn(ns, this.backend.nft, ['-f', '-'], { input: script });
  }

  private async nftCounts(ns: string, f: Family): Promise<Map<string, number> | undefined> {
    if (this.backend.kind !== 'nft') return undefined;
    const r = await runIn(ns, this.backend.nft, ['-j', 'list', 'table', nftFamily(f), NFT_TABLE], { allowFail: true });
    return r.code === 0 ? parseNftRuleCounts(r.stdout) : undefined;
  }
}

/** The options for logs: which families and variants a pod got. */
export function describeConfig(c: RedirectConfig): string {
  const parts = [c.families.map((f) => `IPv${f}`).join('+'), c.dnsCapture ? 'DNS' : 'no DNS'];
  if (c.bypassInboundCapture) parts.push('inbound bypassed');
  if (c.virtualInterfaces.length > 0) parts.push(`virtual ${c.virtualInterfaces.join(',')}`);
  return parts.join(', ');
}
