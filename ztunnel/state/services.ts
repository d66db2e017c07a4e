/**
 * Services by key (`<ns>/<hostname>`), by (network, VIP), by CIDR VIP and by hostname, and the
 * endpoint index built from Workload.services (a workload may name a service that has not
 * arrived yet: its endpoint is kept and shows up when the service does).
 */
import { inCidr, netKey } from './ip.js';
import type { ServiceView, WorkloadView } from './types.js';

function visible(s: ServiceView, clientNs: string | undefined): boolean {
  return clientNs === undefined || s.visibility !== 'NAMESPACE' || s.namespace === clientNs;
}

/** Several services may share a VIP or hostname: the client's namespace wins, then `canonical`, then the first. */
export function bestMatch(candidates: readonly ServiceView[], clientNs: string | undefined): ServiceView | undefined {
  let canonical: ServiceView | undefined;
  let first: ServiceView | undefined;
  for (const s of candidates) {
    if (!visible(s, clientNs)) continue;
    if (clientNs !== undefined && s.namespace === clientNs) return s;
    if (s.canonical && !canonical) canonical = s;
    first ??= s;
  }
  return canonical ?? first;
}

export class ServiceStore {
  readonly #byKey = new Map<string, ServiceView>();
  readonly #byVip = new Map<string, ServiceView[]>();
  readonly #byHost = new Map<string, ServiceView[]>();
  #cidr: ServiceView[] = [];

  get size(): number {
    return this.#byKey.size;
  }

  get vipKeys(): number {
    return this.#byVip.size;
  }

  get(key: string): ServiceView | undefined {
    return this.#byKey.get(key);
  }

  values(): IterableIterator<ServiceView> {
    return this.#byKey.values();
  }

  put(s: ServiceView): ServiceView | undefined {
    const prev = this.remove(s.key);
    this.#byKey.set(s.key, s);
    for (const v of s.vips) this.#add(this.#byVip, netKey(v.network, v.ip), s);
    this.#add(this.#byHost, s.hostname, s);
    if (s.cidrVips.length > 0) this.#cidr.push(s);
    return prev;
  }

  remove(key: string): ServiceView | undefined {
    const prev = this.#byKey.get(key);
    if (!prev) return undefined;
    this.#byKey.delete(key);
    for (const v of prev.vips) this.#drop(this.#byVip, netKey(v.network, v.ip), key);
    this.#drop(this.#byHost, prev.hostname, key);
    if (prev.cidrVips.length > 0) this.#cidr = this.#cidr.filter((s) => s.key !== key);
    return prev;
  }

  /** The service a client in `clientNs` reaches at this VIP: exact VIPs first, then CIDR ranges. */
  byVip(network: string, ip: string, clientNs: string | undefined): ServiceView | undefined {
    const exact = this.#byVip.get(netKey(network, ip));
    const hit = exact && bestMatch(exact, clientNs);
    return hit ?? this.#byCidr(network, ip, clientNs);
  }

  /** Every service with this exact VIP (admin and tests). */
  allByVip(network: string, ip: string): readonly ServiceView[] {
    return this.#byVip.get(netKey(network, ip)) ?? [];
  }

  byHostname(hostname: string, clientNs: string | undefined): ServiceView | undefined {
    return bestMatch(this.#byHost.get(hostname) ?? [], clientNs);
  }

  // Ranked by (client's namespace, longest prefix, canonical): a broad range in the client's
  // namespace beats a narrow one elsewhere.
  #byCidr(network: string, ip: string, clientNs: string | undefined): ServiceView | undefined {
    let best: { s: ServiceView; rank: number[] } | undefined;
    for (const s of this.#cidr) {
      if (!visible(s, clientNs)) continue;
      for (const c of s.cidrVips) {
        if (c.network !== network || !inCidr(ip, c.ip, c.length)) continue;
        const rank = [clientNs !== undefined && s.namespace === clientNs ? 1 : 0, c.length, s.canonical ? 1 : 0];
        if (!best || compareRank(rank, best.rank) > 0) best = { s, rank };
      }
    }
    return best?.s;
  }

  #add(m: Map<string, ServiceView[]>, k: string, s: ServiceView): void {
    const list = m.get(k);
    if (list) list.push(s);
    else m.set(k, [s]);
  }

  #drop(m: Map<string, ServiceView[]>, k: string, key: string): void {
    const rest = (m.get(k) ?? []).filter((s) => s.key !== key);
    if (rest.length === 0) m.delete(k);
    else m.set(k, rest);
  }
}

function compareRank(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** service key → uid of each workload naming it in Workload.services. */
export class EndpointIndex {
  readonly #bySvc = new Map<string, Set<string>>();

  add(w: WorkloadView): void {
    for (const key of w.services.keys()) {
      const set = this.#bySvc.get(key);
      if (set) set.add(w.uid);
      else this.#bySvc.set(key, new Set([w.uid]));
    }
  }

  remove(w: WorkloadView): void {
    for (const key of w.services.keys()) {
      const set = this.#bySvc.get(key);
      set?.delete(w.uid);
      if (set?.size === 0) this.#bySvc.delete(key);
    }
  }

  uids(serviceKey: string): ReadonlySet<string> {
    return this.#bySvc.get(serviceKey) ?? new Set();
  }
}
