// The service proxy of one node namespace: renders (svcrules.ts), applies atomically with
// `iptables-restore --noflush`, and clears UDP conntrack entries that would keep sending
// datagrams to endpoints that are gone.
import { inNetns } from '../../../lib/sys/netns.js';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import {
  CHAIN_PREFIX, endpointsOf, isHeadless, renderResolved, resolveServices, validateEndpoint, validateService,
  type EndpointSpec, type EndpointsByService, type ExistingRules, type ResolvedPort, type ServiceSpec,
} from './service-rules.js';

export * from './service-rules.js';

const BUILTIN = new Set(['PREROUTING', 'INPUT', 'FORWARD', 'OUTPUT', 'POSTROUTING']);

export interface SavedRule {
  table: string;
  chain: string;
  /** The rule as iptables-save prints it, after `-A <chain> `. */
  spec: string;
}

/** Reads `iptables-save` output: chains per table and every rule. */
export function parseIptablesSave(text: string): { chains: Record<string, string[]>; rules: SavedRule[] } {
  const chains: Record<string, string[]> = {};
  const rules: SavedRule[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('*')) table = line.slice(1).trim();
    else if (line.startsWith(':')) (chains[table] ??= []).push(line.slice(1).split(' ')[0]!);
    else if (line.startsWith('-A ')) {
      const m = /^-A (\S+) (.*)$/.exec(line);
      if (m) rules.push({ table, chain: m[1]!, spec: m[2]! });
    }
  }
  return { chains, rules };
}

function jumpTarget(spec: string): string | undefined {
  return / ?-j (\S+)/.exec(spec)?.[1];
}

export function existingRules(saved: ReturnType<typeof parseIptablesSave>): ExistingRules {
  const chains: Record<string, string[]> = {};
  for (const [t, cs] of Object.entries(saved.chains)) chains[t] = cs.filter((c) => c.startsWith(CHAIN_PREFIX));
  const jumps = saved.rules
    .filter((r) => BUILTIN.has(r.chain) && jumpTarget(r.spec)?.startsWith(CHAIN_PREFIX))
    .map((r) => `${r.table}/${r.chain}/${jumpTarget(r.spec)}`);
  return { chains, jumps };
}

/** iptables-restore input that removes our jumps and chains, and nothing else. */
export function renderRemoval(saved: ReturnType<typeof parseIptablesSave>): string {
  const out: string[] = [];
  for (const table of Object.keys(saved.chains)) {
    const ours = (saved.chains[table] ?? []).filter((c) => c.startsWith(CHAIN_PREFIX));
    const jumps = saved.rules.filter((r) => r.table === table && BUILTIN.has(r.chain) && jumpTarget(r.spec)?.startsWith(CHAIN_PREFIX));
    if (ours.length === 0 && jumps.length === 0) continue;
    out.push(`*${table}`, ...ours.map((c) => `:${c} - [0:0]`), ...jumps.map((r) => `-D ${r.chain} ${r.spec}`), ...ours.map((c) => `-X ${c}`), 'COMMIT');
  }
  return out.length ? out.join('\n') + '\n' : '';
}

export interface ConntrackFlow {
  vip: string;
  port: number;
  /** Only flows DNATed to this endpoint; absent: every flow to the VIP port. */
  endpoint?: string;
}

/**
 * UDP flows to delete after a change: those DNATed to an endpoint that left (else the client keeps
 * sending into the void while the entry lives), and all flows to a VIP port that just gained its
 * first endpoint (entries made while it had none would bypass the new DNAT).
 */
export function staleUdpFlows(prev: readonly ResolvedPort[], next: readonly ResolvedPort[]): ConntrackFlow[] {
  const key = (p: ResolvedPort) => `${p.vip}:${p.port}`;
  const udp = (ps: readonly ResolvedPort[]) => new Map(ps.filter((p) => p.protocol === 'UDP').map((p) => [key(p), p]));
  const before = udp(prev);
  const after = udp(next);
  const flows = new Map<string, ConntrackFlow>();
  for (const [k, p] of before) {
    const still = new Set((after.get(k)?.endpoints ?? []).map((e) => e.ip));
    for (const e of p.endpoints) if (!still.has(e.ip)) flows.set(`${k}>${e.ip}`, { vip: p.vip, port: p.port, endpoint: e.ip });
  }
  for (const [k, p] of after) {
    if (p.endpoints.length > 0 && (before.get(k)?.endpoints.length ?? 0) === 0) flows.set(k, { vip: p.vip, port: p.port });
  }
  return [...flows.values()];
}

export interface ServiceProxyOptions {
  /** The node namespace the rules live in. */
  netns: string;
  clusterCIDR?: string;
  log?: Logger;
  iptablesSave?: string;
  iptablesRestore?: string;
}

export interface SyncResult {
  /** Services and endpoints left out, each message naming the object and field. */
  rejected: string[];
  vipPorts: number;
  endpoints: number;
  conntrackDeleted: number;
  ms: number;
}

/** Keeps one node namespace's Service rules equal to the last `sync()`; calls are serialized. */
export class ServiceProxy {
  private prev: ResolvedPort[] = [];
  private queue: Promise<unknown> = Promise.resolve();
  private readonly log: Logger;

  constructor(private readonly opts: ServiceProxyOptions) {
    this.log = opts.log ?? silentLogger();
  }

  sync(services: readonly ServiceSpec[], endpoints: EndpointsByService): Promise<SyncResult> {
    const run = this.queue.then(() => this.doSync(services, endpoints));
    this.queue = run.catch(() => undefined);
    return run;
  }

  /** Removes every rule and chain this proxy owns in the namespace. */
  remove(): Promise<void> {
    const run = this.queue.then(async () => {
      const text = renderRemoval(parseIptablesSave(await this.save()));
      if (text) await this.restore(text);
      this.prev = [];
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async save(): Promise<string> {
    const r = await inNetns(this.opts.netns, this.opts.iptablesSave ?? 'iptables-save', []);
    return r.stdout;
  }

  private async restore(text: string): Promise<void> {
    await inNetns(this.opts.netns, this.opts.iptablesRestore ?? 'iptables-restore', ['--noflush', '-w', '5'], { input: text });
  }

  private async doSync(services: readonly ServiceSpec[], endpoints: EndpointsByService): Promise<SyncResult> {
    const t0 = performance.now();
    const { good, cleanEndpoints, rejected } = filterValid(services, endpoints);
    for (const r of rejected) this.log.warn({ netns: this.opts.netns }, r);
    const ports = resolveServices(good, cleanEndpoints);
    const existing = existingRules(parseIptablesSave(await this.save()));
    await this.restore(renderResolved(ports, { existing, ...(this.opts.clusterCIDR ? { clusterCIDR: this.opts.clusterCIDR } : {}) }));
    let conntrackDeleted = 0;
    for (const f of staleUdpFlows(this.prev, ports)) conntrackDeleted += await this.deleteFlows(f);
    this.prev = ports;
    const ms = performance.now() - t0;
    const result = { rejected, vipPorts: ports.length, endpoints: ports.reduce((n, p) => n + p.endpoints.length, 0), conntrackDeleted, ms };
    this.log.debug({ netns: this.opts.netns, ...result, rejected: rejected.length }, 'service rules synced');
    return result;
  }

  private async deleteFlows(f: ConntrackFlow): Promise<number> {
    const args = ['-D', '-p', 'udp', '--orig-dst', f.vip, '--orig-port-dst', String(f.port), ...(f.endpoint ? ['--dst-nat', f.endpoint] : [])];
    // conntrack exits 1 when nothing matched; that is the common case, not an error.
    const r = await inNetns(this.opts.netns, 'conntrack', args, { allowFail: true });
    const m = /(\d+) flow entries have been deleted/.exec(r.stderr);
    if (!m && r.code !== 0) this.log.warn({ netns: this.opts.netns, args, stderr: r.stderr.trim() }, 'conntrack -D failed');
    return m ? Number(m[1]) : 0;
  }
}

/** Drops what cannot be rendered (so one bad Service does not block the others) and says why. */
export function filterValid(services: readonly ServiceSpec[], endpoints: EndpointsByService): { good: ServiceSpec[]; cleanEndpoints: Map<string, EndpointSpec[]>; rejected: string[] } {
  const rejected: string[] = [];
  const good: ServiceSpec[] = [];
  const cleanEndpoints = new Map<string, EndpointSpec[]>();
  for (const s of services) {
    const errs = validateService(s);
    if (errs.length > 0) {
      rejected.push(...errs);
      continue;
    }
    good.push(s);
    if (isHeadless(s)) continue;
    const key = `${s.namespace}/${s.name}`;
    const ok: EndpointSpec[] = [];
    endpointsOf(endpoints, key).forEach((e, i) => {
      const bad = validateEndpoint(key, e, i);
      if (bad.length > 0) rejected.push(...bad);
      else ok.push(e);
    });
    cleanEndpoints.set(key, ok);
  }
  return { good, cleanEndpoints, rejected };
}
