/**
 * A ring hash (Envoy's ring_hash): every endpoint owns points `hash("<id>_<i>")` on a 32-bit
 * ring in proportion to its weight; a key belongs to the first point at or after its own hash. Adding or removing an endpoint only moves the keys next to its points,
 * and an endpoint's points depend on its id alone, so a key maps to the same endpoint on every
 * waypoint replica.
 */

/** Envoy's bound on ring size: larger rings cost memory without spreading keys better. */
export const MAX_RING_SIZE = 8_388_608;

/** FNV-1a over the UTF-16 code units, then murmur3's finaliser so that near keys spread. */
export function hash32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

export interface RingMember {
  id: string;
  weight: number;
}

export class HashRing {
  /** Sorted point hashes and, at the same index, the member index owning each. */
  readonly #points: Uint32Array;
  readonly #owners: Uint32Array;

  constructor(members: readonly RingMember[], minimumRingSize: number) {
    const total = members.reduce((s, m) => s + m.weight, 0);
    if (members.length === 0 || !(total > 0)) {
      this.#points = new Uint32Array(0);
      this.#owners = new Uint32Array(0);
      return;
    }
    // Each member owns k × its weight points, k the smallest power of two that fills the ring
    // to minimumRingSize. k depends on the member count only through that rounding, and a
    // member's points for a smaller k are a prefix of those for a larger one, so when an endpoint
    // leaves or joins the others usually keep exactly their points.
    const minSize = Math.min(Math.max(1, Math.floor(minimumRingSize)), MAX_RING_SIZE);
    let k = 1;
    while (k * total < minSize) k *= 2;
    const shrink = k * total > MAX_RING_SIZE ? MAX_RING_SIZE / (k * total) : 1;
    const entries: Array<[number, number]> = [];
    for (const [idx, m] of members.entries()) {
      const count = Math.max(1, Math.floor(k * m.weight * shrink));
      for (let i = 0; i < count; i++) entries.push([hash32(`${m.id}_${i}`), idx]);
    }
    // Equal hashes (rare) are ordered by id so every replica builds the same ring.
    entries.sort((a, b) => a[0] - b[0] || ((members[a[1]]?.id ?? '') < (members[b[1]]?.id ?? '') ? -1 : 1));
    this.#points = Uint32Array.from(entries, (e) => e[0]);
    this.#owners = Uint32Array.from(entries, (e) => e[1]);
  }

  get size(): number {
    return this.#points.length;
  }

  /** Index (into the members given to the constructor) owning `keyHash`; undefined when empty. */
  lookup(keyHash: number): number | undefined {
    const pts = this.#points;
    if (pts.length === 0) return undefined;
    let lo = 0;
    let hi = pts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((pts[mid] ?? 0) < keyHash) lo = mid + 1;
      else hi = mid;
    }
    return this.#owners[lo === pts.length ? 0 : lo];
  }
}
