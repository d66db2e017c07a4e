// Pure delta-xDS bookkeeping for one type URL on one stream: what the client asked for, what it
// has, and the difference to send. No I/O, so the rules can be tested as tables.
import type { ChangeSet } from './debounce.js';
import type { VersionedResource } from './types.js';

export const WILDCARD = '*';

export interface Subscription {
  /** Subscribed to every resource of the type. */
  wildcard: boolean;
  /** Explicitly subscribed names (besides the wildcard). */
  names: Set<string>;
  /** Version of every resource the client has, or is being sent (in flight counts as sent). */
  sent: Map<string, string>;
}

/**
 * The subscription created by the first request of a type on a stream. An empty subscribe list
 * on that first request means wildcard (the legacy rule ztunnel relies on). Returns the names that
 * must be answered even if unchanged: explicit subscriptions the client does not already hold.
 */
export function openSubscription(
  subscribe: readonly string[],
  unsubscribe: readonly string[],
  initialVersions: Readonly<Record<string, string>>,
): { sub: Subscription; forced: Set<string> } {
  const sub: Subscription = { wildcard: subscribe.length === 0, names: new Set(), sent: new Map(Object.entries(initialVersions)) };
  const requested = changeSubscription(sub, subscribe, unsubscribe);
  const forced = new Set([...requested].filter((n) => !sub.sent.has(n)));
  return { sub, forced };
}

/**
 * Applies subscribe/unsubscribe lists from a later request. Returns newly requested names: the
 * protocol says they must be sent even if the server thinks the client has them.
 */
export function changeSubscription(sub: Subscription, subscribe: readonly string[], unsubscribe: readonly string[]): Set<string> {
  const forced = new Set<string>();
  for (const n of subscribe) {
    if (n === WILDCARD) sub.wildcard = true;
    else {
      sub.names.add(n);
      forced.add(n);
    }
  }
  for (const n of unsubscribe) {
    if (n === WILDCARD) {
      sub.wildcard = false;
      // The client drops what only the wildcard gave it.
      for (const name of [...sub.sent.keys()]) if (!sub.names.has(name)) sub.sent.delete(name);
    } else {
      sub.names.delete(n);
      forced.delete(n);
      if (!sub.wildcard) sub.sent.delete(n);
    }
  }
  return forced;
}

export interface Delta {
  upserts: Array<[string, VersionedResource]>;
  removals: string[];
}

/**
 * The difference between what the client has and what it should have, looking only at
 * `changed` names (or everything for 'all') plus `forced` names. Forced names that do not exist
 * are reported as removals so that an on-demand client waiting for them gets an answer.
 */
export function computeDelta(
  sub: Subscription,
  snapshot: ReadonlyMap<string, VersionedResource>,
  changed: ChangeSet,
  forced: ReadonlySet<string>,
): Delta {
  const candidates = new Set<string>(forced);
  if (changed === 'all') {
    for (const n of sub.wildcard ? snapshot.keys() : sub.names) candidates.add(n);
    for (const n of sub.sent.keys()) candidates.add(n);
  } else {
    for (const n of changed) candidates.add(n);
  }
  const delta: Delta = { upserts: [], removals: [] };
  for (const name of candidates) {
    const r = snapshot.get(name);
    const wanted = r !== undefined && (sub.wildcard || sub.names.has(name));
    if (wanted) {
      if (forced.has(name) || sub.sent.get(name) !== r.version) delta.upserts.push([name, r]);
    } else if (sub.sent.has(name) || forced.has(name)) {
      delta.removals.push(name);
    }
  }
  return delta;
}

/** Records a delta as sent. */
export function commitDelta(sub: Subscription, delta: Delta): void {
  for (const [name, r] of delta.upserts) sub.sent.set(name, r.version);
  for (const name of delta.removals) sub.sent.delete(name);
}
