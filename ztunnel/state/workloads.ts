// Workloads by uid, by (network, IP) and by namespace/name, kept consistent on every replace.
import { netKey } from './ip.js';
import type { WorkloadView } from './types.js';

/** When several workloads claim one IP: prefer Pods (not spoofable), then those in the mesh. */
function rank(w: WorkloadView): number {
  return (w.uid.includes('//Pod/') ? 2 : 0) + (w.tunnelProtocol === 'HBONE' ? 1 : 0);
}

function addTo<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function removeFrom<K, V>(m: Map<K, V[]>, k: K, pred: (v: V) => boolean): void {
  const list = m.get(k);
  if (!list) return;
  const rest = list.filter((v) => !pred(v));
  if (rest.length === 0) m.delete(k);
  else m.set(k, rest);
}

export class WorkloadStore {
  readonly #byUid = new Map<string, WorkloadView>();
  readonly #byAddr = new Map<string, WorkloadView[]>();
  readonly #byName = new Map<string, WorkloadView[]>();

  get size(): number {
    return this.#byUid.size;
  }

  get(uid: string): WorkloadView | undefined {
    return this.#byUid.get(uid);
  }

  values(): IterableIterator<WorkloadView> {
    return this.#byUid.values();
  }

  /** Inserts or replaces (indexes of the previous version are dropped first). Returns the previous. */
  put(w: WorkloadView): WorkloadView | undefined {
    const prev = this.remove(w.uid);
    this.#byUid.set(w.uid, w);
    // Host-network workloads share the node's IP: looking them up by IP would be wrong.
    if (w.networkMode !== 'HOST_NETWORK') for (const ip of w.addresses) addTo(this.#byAddr, netKey(w.network, ip), w);
    addTo(this.#byName, `${w.namespace}/${w.name}`, w);
    return prev;
  }

  remove(uid: string): WorkloadView | undefined {
    const prev = this.#byUid.get(uid);
    if (!prev) return undefined;
    this.#byUid.delete(uid);
    for (const ip of prev.addresses) removeFrom(this.#byAddr, netKey(prev.network, ip), (w) => w.uid === uid);
    removeFrom(this.#byName, `${prev.namespace}/${prev.name}`, (w) => w.uid === uid);
    return prev;
  }

  byAddr(network: string, ip: string): WorkloadView | undefined {
    const list = this.#byAddr.get(netKey(network, ip));
    if (!list) return undefined;
    let best = list[0];
    for (const w of list) if (best && rank(w) > rank(best)) best = w;
    return best;
  }

  byName(namespace: string, name: string): readonly WorkloadView[] {
    return this.#byName.get(`${namespace}/${name}`) ?? [];
  }

  /** Number of (network, IP) keys: what tests check after IP moves and removals. */
  get addrKeys(): number {
    return this.#byAddr.size;
  }
}
