// Compiled Authorization policies by resource name, with GLOBAL and NAMESPACE ones indexed so
// that the set applying to a workload is cheap to build on every connection.
import type { Policy } from '../rbac/policy.js';
import type { WorkloadView } from './types.js';

export class PolicyStore {
  readonly #byKey = new Map<string, Policy>();
  readonly #global = new Set<string>();
  readonly #byNs = new Map<string, Set<string>>();

  get size(): number {
    return this.#byKey.size;
  }

  get(key: string): Policy | undefined {
    return this.#byKey.get(key);
  }

  values(): IterableIterator<Policy> {
    return this.#byKey.values();
  }

  put(p: Policy): Policy | undefined {
    const prev = this.remove(p.key);
    this.#byKey.set(p.key, p);
    if (p.scope === 'GLOBAL') this.#global.add(p.key);
    else if (p.scope === 'NAMESPACE') {
      const set = this.#byNs.get(p.namespace);
      if (set) set.add(p.key);
      else this.#byNs.set(p.namespace, new Set([p.key]));
    }
    return prev;
  }

  remove(key: string): Policy | undefined {
    const prev = this.#byKey.get(key);
    if (!prev) return undefined;
    this.#byKey.delete(key);
    this.#global.delete(key);
    const set = this.#byNs.get(prev.namespace);
    set?.delete(key);
    if (set?.size === 0) this.#byNs.delete(prev.namespace);
    return prev;
  }

  /**
   * Policies applying to `w`: every GLOBAL one, NAMESPACE ones of its namespace, and those it
   * lists by name (selector policies, converted PeerAuthentications). Names not (yet) received
   * are returned in `missing`, as ztunnel skips them.
   */
  forWorkload(w: WorkloadView): { policies: Policy[]; missing: string[] } {
    const keys = new Set<string>(this.#global);
    for (const k of this.#byNs.get(w.namespace) ?? []) keys.add(k);
    const missing: string[] = [];
    for (const k of w.authorizationPolicies) {
      if (this.#byKey.has(k)) keys.add(k);
      else missing.push(k);
    }
    const policies: Policy[] = [];
    for (const k of keys) {
      const p = this.#byKey.get(k);
      if (p) policies.push(p);
    }
    return { policies, missing };
  }
}
