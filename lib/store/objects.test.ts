import t from 'tap';
import { contentChanged, matchesSelector, mergePatch, parseLabelSelector, specChanged } from './objects.js';
import type { KubeObject } from './types.js';

t.test('merge patch follows RFC 7386', async (t) => {
  // The examples of RFC 7386 appendix A, plus nested cases.
  const table: Array<[unknown, unknown, unknown]> = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
    [{ status: { phase: 'Pending', podIP: '10.0.0.1' } }, { status: { phase: 'Running' } }, { status: { phase: 'Running', podIP: '10.0.0.1' } }],
  ];
  for (const [target, patch, want] of table) t.same(mergePatch(target, patch), want, `${JSON.stringify(target)} + ${JSON.stringify(patch)}`);
  const target = { a: { b: 1 } };
  mergePatch(target, { a: { b: 2 } });
  t.same(target, { a: { b: 1 } }, 'target untouched');
});

t.test('label selectors', async (t) => {
  const table: Array<[Record<string, string> | undefined, Record<string, string> | undefined, boolean]> = [
    [{ app: 'a' }, undefined, true],
    [undefined, {}, true],
    [{ app: 'a' }, { app: 'a' }, true],
    [{ app: 'a', tier: 'web' }, { app: 'a' }, true],
    [{ app: 'a' }, { app: 'b' }, false],
    [{ app: 'a' }, { app: 'a', tier: 'web' }, false],
    [undefined, { app: 'a' }, false],
    [{ a: '' }, { a: '' }, true],
  ];
  for (const [labels, sel, want] of table) t.equal(matchesSelector(labels, sel), want, `${JSON.stringify(labels)} ~ ${JSON.stringify(sel)}`);
  t.same(parseLabelSelector('app=echo, tier==web'), { app: 'echo', tier: 'web' });
  t.same(parseLabelSelector(''), {});
  t.same(parseLabelSelector('istio.io/dataplane-mode=ambient'), { 'istio.io/dataplane-mode': 'ambient' });
  t.throws(() => parseLabelSelector('app!=echo'), /"app!=echo" is not key=value/);
  t.throws(() => parseLabelSelector('app in (a,b)'), { code: 'Invalid' });
});

t.test('spec and content changes', async (t) => {
  const base: KubeObject = { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'p', resourceVersion: '1', labels: { a: 'b' } }, spec: { x: 1 }, status: { phase: 'Running' } };
  const w = (o: Partial<KubeObject>): KubeObject => ({ ...base, ...o });
  t.equal(specChanged(base, w({ spec: { x: 2 } })), true);
  t.equal(specChanged(base, w({ status: { phase: 'Failed' } })), false);
  t.equal(specChanged(base, w({ metadata: { name: 'p', labels: {} } })), false);
  t.equal(specChanged(base, w({ subsets: [] })), true, 'top-level fields other than metadata/status count as spec');
  t.equal(contentChanged(base, w({ metadata: { ...base.metadata, resourceVersion: '9' } })), false);
  t.equal(contentChanged(base, w({ apiVersion: 'v2' })), false);
  t.equal(contentChanged(base, w({ metadata: { ...base.metadata, labels: { a: 'c' } } })), true);
  t.equal(contentChanged(base, w({ status: { phase: 'Failed' } })), true);
});
