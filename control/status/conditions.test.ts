import t from 'tap';
import type { Condition } from '../model/types.js';
import { currentConditions, reconcileConditions, type StoredCondition } from './conditions.js';

const NOW = '2026-01-02T00:00:00Z';
const OLD = '2025-01-01T00:00:00Z';
const accepted: Condition = { type: 'ZtunnelAccepted', status: 'True', reason: 'Accepted', message: 'enforced by ztunnel' };
const stored = (c: Condition, at = OLD, gen?: number): StoredCondition => ({ ...c, lastTransitionTime: at, ...(gen !== undefined ? { observedGeneration: gen } : {}) });
const owned = ['ZtunnelAccepted'];

t.test('reconcileConditions', async (t) => {
  const other: StoredCondition = { type: 'WaypointAccepted', status: 'True', reason: 'x', message: 'y', lastTransitionTime: OLD };
  const cases: Array<[string, StoredCondition[], Condition[], number | undefined, StoredCondition[] | undefined]> = [
    ['new condition', [], [accepted], 2, [stored(accepted, NOW, 2)]],
    ['unchanged: no write', [stored(accepted, OLD, 2)], [accepted], 2, undefined],
    ['new generation: rewritten, transition time kept', [stored(accepted, OLD, 1)], [accepted], 2, [stored(accepted, OLD, 2)]],
    ['status flips: new transition time', [stored(accepted, OLD)], [{ ...accepted, status: 'False', reason: 'UnsupportedValue' }], undefined, [stored({ ...accepted, status: 'False', reason: 'UnsupportedValue' }, NOW)]],
    ['message only: transition time kept', [stored(accepted, OLD)], [{ ...accepted, message: 'new' }], undefined, [stored({ ...accepted, message: 'new' }, OLD)]],
    ['owned but no longer wanted: removed', [other, stored(accepted)], [], undefined, [other]],
    ["another controller's condition is kept", [other], [accepted], undefined, [other, stored(accepted, NOW)]],
    ['nothing either way', [other], [], undefined, undefined],
  ];
  for (const [what, current, desired, gen, want] of cases) t.same(reconcileConditions(current, desired, owned, NOW, gen), want, what);
});

t.test('currentConditions drops malformed entries', async (t) => {
  t.same(currentConditions({ conditions: [{ type: 'A', status: 'True' }, 'junk', { type: 1 }] }), [{ type: 'A', status: 'True' }]);
  t.same(currentConditions(undefined), []);
  t.same(currentConditions({ conditions: 'no' }), []);
});
