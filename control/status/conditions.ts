// Which status patch (if any) brings an object's conditions to what the model computed. Pure:
// conditions of other types (another controller's) are kept, an unchanged condition keeps its
// lastTransitionTime, and nothing is written when nothing changed.
import type { StatusCondition } from '../../lib/k8s/types.js';
import type { Condition } from '../model/types.js';

export type StoredCondition = StatusCondition & { [key: string]: unknown };

function isCondition(v: unknown): v is StoredCondition {
  return typeof v === 'object' && v !== null && typeof (v as StoredCondition).type === 'string' && typeof (v as StoredCondition).status === 'string';
}

/** Conditions found in an object's `status` (malformed entries are dropped). */
export function currentConditions(status: unknown): StoredCondition[] {
  const list = (status as { conditions?: unknown } | undefined)?.conditions;
  return Array.isArray(list) ? list.filter(isCondition) : [];
}

/**
 * The new `status.conditions`, or undefined when the object already says this. `owned` are the
 * condition types this writer manages: those missing from `desired` are removed.
 */
export function reconcileConditions(
  current: readonly StoredCondition[],
  desired: readonly Condition[],
  owned: readonly string[],
  now: string,
  generation?: number,
): StoredCondition[] | undefined {
  const want = new Map(desired.map((c) => [c.type, c]));
  let changed = false;
  const out: StoredCondition[] = [];
  for (const c of current) {
    if (!owned.includes(c.type) && !want.has(c.type)) {
      out.push(c);
      continue;
    }
    const d = want.get(c.type);
    if (!d) {
      changed = true;
      continue;
    }
    want.delete(c.type);
    const same = c.status === d.status && c.reason === d.reason && c.message === d.message && (generation === undefined || c.observedGeneration === generation);
    if (same) {
      out.push(c);
      continue;
    }
    changed = true;
    out.push(build(d, c.status === d.status && c.lastTransitionTime ? c.lastTransitionTime : now, generation));
  }
  for (const d of want.values()) {
    changed = true;
    out.push(build(d, now, generation));
  }
  return changed ? out : undefined;
}

function build(d: Condition, lastTransitionTime: string, generation: number | undefined): StoredCondition {
  return { type: d.type, status: d.status, reason: d.reason, message: d.message, lastTransitionTime, ...(generation !== undefined ? { observedGeneration: generation } : {}) };
}
