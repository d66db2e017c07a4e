import t from 'tap';
import { parseSpiffeId } from '../../lib/identity/spiffe.js';
import type { Caller } from './authn.js';
import { CaError } from './errors.js';
import { decide, NodeAuthorizer, StaticPodIndex, type PodIndex, type PodRef } from './node-auth.js';

const pods = [
  { nodeName: 'ambit-node-1', namespace: 'demo', serviceAccount: 'backend' },
  { nodeName: 'ambit-node-1', namespace: 'demo', serviceAccount: 'frontend' },
  { nodeName: 'ambit-node-2', namespace: 'demo', serviceAccount: 'frontend' },
  { nodeName: 'ambit-node-2', namespace: 'other', serviceAccount: 'backend' },
];
const index = new StaticPodIndex(pods);
const node = (n: string): Caller => ({ kind: 'node', nodeName: n });
const id = (ns: string, sa: string, td = 'cluster.local'): string => `spiffe://${td}/ns/${ns}/sa/${sa}`;

t.test('decision table', async (t) => {
  const cases: Array<[string, Caller, string, string | undefined, RegExp?]> = [
    ['node with the pod', node('ambit-node-1'), id('demo', 'backend'), undefined],
    ['node with another pod of the SA', node('ambit-node-2'), id('demo', 'frontend'), undefined],
    ['node without the pod', node('ambit-node-2'), id('demo', 'backend'), 'NODE_NOT_AUTHORIZED', /^node ambit-node-2 has no pod running as spiffe:\/\/cluster.local\/ns\/demo\/sa\/backend$/],
    ['same SA name, other namespace', node('ambit-node-1'), id('other', 'backend'), 'NODE_NOT_AUTHORIZED', /ns\/other\/sa\/backend/],
    ['unknown node', node('ambit-node-9'), id('demo', 'backend'), 'NODE_NOT_AUTHORIZED', /ambit-node-9 has no pod/],
    ['other trust domain', node('ambit-node-1'), id('demo', 'backend', 'evil.td'), 'NODE_NOT_AUTHORIZED', /only get identities in trust domain "cluster.local"/],
    ['workload itself', { kind: 'workload', identity: id('demo', 'backend') }, id('demo', 'backend'), undefined],
    ['workload asks for another', { kind: 'workload', identity: id('demo', 'backend') }, id('demo', 'frontend'), 'WORKLOAD_NOT_AUTHORIZED', /may only get a certificate for itself, not for .*frontend/],
  ];
  for (const [name, caller, requested, code, re] of cases) {
    const pods = caller.kind === 'node' ? index.podsOn(caller.nodeName) : [];
    const d = decide(caller, parseSpiffeId(requested), 'cluster.local', pods);
    if (code === undefined) t.same(d, { allowed: true }, name);
    else {
      t.equal(d.allowed, false, name);
      if (!d.allowed) {
        t.equal(d.code, code, `${name}: code`);
        if (re) t.match(d.reason, re, `${name}: reason`);
      }
    }
  }
});

t.test('NodeAuthorizer with a live, asynchronous index', async (t) => {
  let current: PodRef[] = [];
  const asyncIndex: PodIndex = { podsOn: async (n) => (n === 'ambit-node-1' ? current : []) };
  const authz = new NodeAuthorizer({ podIndex: asyncIndex, trustDomain: 'cluster.local' });
  const refusal = async (caller: Caller, identity: string): Promise<string> => {
    try {
      await authz.authorize(caller, identity);
      return 'allowed';
    } catch (e) {
      return e instanceof CaError ? `${e.code}/${e.kind}: ${e.message}` : String(e);
    }
  };
  t.match(await refusal(node('ambit-node-1'), id('demo', 'backend')), /^NODE_NOT_AUTHORIZED\/permission-denied: node ambit-node-1 has no pod/);
  current = [{ namespace: 'demo', serviceAccount: 'backend' }];
  t.equal(await refusal(node('ambit-node-1'), id('demo', 'backend')), 'allowed', 'pod scheduled → allowed');
  current = [];
  t.match(await refusal(node('ambit-node-1'), id('demo', 'backend')), /^NODE_NOT_AUTHORIZED/, 'pod gone → refused again');
  t.match(await refusal(node('ambit-node-1'), 'spiffe://cluster.local/ns/Demo/sa/x'), /^IDENTITY_INVALID\/invalid-argument: .*namespace "Demo"/);
  index.replace([]);
  t.same(index.podsOn('ambit-node-1'), [], 'StaticPodIndex.replace');
});
