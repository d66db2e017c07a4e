import t from 'tap';
import type { KubeObject } from '../../lib/store/types.js';
import { accountOf, callerOf, POD_NAME_EXTRA, POD_UID_EXTRA } from './kube-authn.js';
import { CaError } from './errors.js';

const sa = (ns: string, name: string, pod?: [string, string]) => ({
  authenticated: true,
  username: `system:serviceaccount:${ns}:${name}`,
  audiences: ['ambit-control'],
  ...(pod ? { extra: { [POD_NAME_EXTRA]: [pod[0]], [POD_UID_EXTRA]: [pod[1]] } } : {}),
});
const pod = (uid: string, nodeName?: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'z', namespace: 'istio-system', uid }, spec: nodeName ? { nodeName } : {} });
const NODE = ['istio-system/ztunnel'];

t.test('a review becomes a service account and its bound pod', async (t) => {
  t.same(accountOf(sa('shop', 'cart', ['cart-1', 'u1']), 'ambit-control'), { namespace: 'shop', serviceAccount: 'cart', pod: { name: 'cart-1', uid: 'u1' } });
  t.throws(() => accountOf({ authenticated: false, error: '[invalid bearer token, token audiences ["other"] is invalid]' }, 'ambit-control'), { code: 'CREDENTIAL_INVALID', message: /refused the token for audience "ambit-control": \[invalid bearer token/ });
  t.throws(() => accountOf({ ...sa('a', 'b'), audiences: ['x'] }, 'ambit-control'), { message: /valid for \["x"\], not for audience "ambit-control"/ });
  t.throws(() => accountOf({ authenticated: true, username: 'alice' }, 'ambit-control'), { message: /belongs to "alice", not to a service account/ });
});

t.test('node agents are nodes on their pod\'s node; everyone else is a workload', async (t) => {
  t.same(callerOf(accountOf(sa('shop', 'cart'), 'ambit-control'), 'cluster.local', NODE, undefined), { kind: 'workload', identity: 'spiffe://cluster.local/ns/shop/sa/cart' });
  const z = accountOf(sa('istio-system', 'ztunnel', ['z', 'u1']), 'ambit-control');
  t.same(callerOf(z, 'cluster.local', NODE, pod('u1', 'node-a')), { kind: 'node', nodeName: 'node-a' });
  const refusals: Array<[string, () => unknown, RegExp]> = [
    ['unbound', () => callerOf(accountOf(sa('istio-system', 'ztunnel'), 'ambit-control'), 'cluster.local', NODE, undefined), /bound to no pod/],
    ['pod gone', () => callerOf(z, 'cluster.local', NODE, undefined), /pod istio-system\/z, which does not exist/],
    ['pod replaced', () => callerOf(z, 'cluster.local', NODE, pod('u2', 'node-a')), /uid u1, but that pod is now uid u2/],
    ['unscheduled', () => callerOf(z, 'cluster.local', NODE, pod('u1')), /not scheduled/],
  ];
  for (const [what, fn, msg] of refusals) {
    const e = t.throws(fn, what) as CaError;
    t.match(e, { code: 'CREDENTIAL_INVALID', message: msg }, what);
  }
});
