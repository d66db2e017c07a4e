import t from 'tap';
import { compareMatches, type OrderKey } from './route-order.js';
import type { RouteMatchModel } from './types.js';

const key = (rule: number, o: Partial<OrderKey> = {}): OrderKey => ({ created: '2026-01-01T00:00:00Z', id: 'ns/r', rule, match: 0, ...o });
const header = { headers: [{ name: 'x-tester', exact: 'yes' }] };

t.test('Gateway API precedence: which of two matches goes first', async (t) => {
  const rows: Array<[string, RouteMatchModel | undefined, RouteMatchModel | undefined, OrderKey, OrderKey]> = [
    ['an exact path before a prefix', { path: { exact: '/a' } }, { path: { prefix: '/a/b/c' } }, key(1), key(0)],
    ['a regex before a prefix', { path: { regex: '/a.*' } }, { path: { prefix: '/abc' } }, key(1), key(0)],
    ['the longer prefix first', { path: { prefix: '/api/v1' } }, { path: { prefix: '/api' } }, key(1), key(0)],
    ['a method match before none', { path: { prefix: '/' }, method: 'GET' }, { path: { prefix: '/' } }, key(1), key(0)],
    ['a header match without a path (default prefix "/") before a catch-all rule', header, { path: { prefix: '/' } }, key(0), key(1)],
    ['… also when the header rule comes later', header, { path: { prefix: '/' } }, key(1), key(0)],
    ['… and before a rule with no match at all', header, undefined, key(1), key(0)],
    ['a longer prefix before a header match without a path', { path: { prefix: '/api' } }, header, key(1), key(0)],
    ['more headers first', { headers: [{ name: 'a', exact: '1' }, { name: 'b', exact: '2' }] }, header, key(1), key(0)],
    ['more query parameters first', { queryParams: [{ name: 'q', exact: '1' }] }, {}, key(1), key(0)],
    ['a tie goes to the older route', {}, {}, key(0, { created: '2025-01-01T00:00:00Z', id: 'ns/z' }), key(0, { id: 'ns/a' })],
    ['then to the alphabetical name', {}, {}, key(0, { id: 'ns/a' }), key(0, { id: 'ns/b' })],
    ['then to rule order', {}, {}, key(0), key(1)],
  ];
  for (const [name, a, b, ka, kb] of rows) {
    t.ok(compareMatches(a, b, ka, kb) < 0, name);
    t.ok(compareMatches(b, a, kb, ka) > 0, `${name} (swapped)`);
  }
});
