// xDS from the network. ztunnel: Address and Authorization resources, valid ones mutated byte by
// byte, decoded and applied to its state — a bad resource rejects the whole response (NACK) with
// an error naming it, and leaves the state as it was. The control plane: the admission of a
// stream's first request (node id, metadata, credential) never throws and never admits a
// credential for another node or namespace.
import { create, toBinary } from '@bufbuild/protobuf';
import fc from 'fast-check';
import t from 'tap';
import { admitStream, parseNodeId, stringMetadata } from '../../control/xds/admission.js';
import type { Caller } from '../../control/ca/authn.js';
import { ResourceSchema, type Resource } from '../../lib/proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { AuthorizationSchema } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION } from '../../lib/xds/types.js';
import { addressHandler, authorizationHandler } from '../../ztunnel/state/feed.js';
import { ProxyState } from '../../ztunnel/state/state.js';
import { authz, svc, wl } from '../../ztunnel/state/testkit.js';
import { fuzz, mutated } from './harness.js';

const resource = (name: string, typeUrl: string, value: Uint8Array): Resource => create(ResourceSchema, { name, version: '1', resource: { typeUrl, value } });

const validAddresses = [
  wl('a', { ips: ['10.244.1.5', 'fd00::5'], sa: 'web', node: 'n1', services: { 'default/web.default.svc.cluster.local': [[80, 8080]] }, waypoint: { ip: '10.244.9.9' }, policies: ['default/allow'] }),
  wl('b', { ips: ['10.244.2.6'], hbone: false, locality: { region: 'r', zone: 'z' } }),
  svc('web', { vips: ['10.96.0.10'], ports: [[80, 8080]] } as Parameters<typeof svc>[1]),
].map((u) => ({ name: u.name, bytes: toBinary(AddressSchema, u.address) }));
const validPolicies = [authz('default', 'allow', { rules: [[[{ principals: [{ matchType: { case: 'exact', value: 'cluster.local/ns/default/sa/web' } }] }]]] } as Parameters<typeof authz>[2]), authz('default', 'deny', { action: 'DENY' })].map((u) => ({ name: u.name, bytes: toBinary(AuthorizationSchema, u.authorization) }));

/** What a reader of the state sees: enough to tell whether a rejected response changed it. */
function view(s: ProxyState): string {
  return JSON.stringify({ stats: s.stats(), w: [...s.workloads()].map((w) => [w.uid, w.addresses, w.identity]), s: [...s.services()].map((x) => x.key), p: [...s.policies()].map((p) => p.key) });
}

function applyOrNack(s: ProxyState, apply: () => void, names: readonly string[]): void {
  const before = view(s);
  try {
    apply();
  } catch (e) {
    const msg = (e as Error).message;
    if (e instanceof TypeError || e instanceof RangeError || !names.some((n) => msg.includes(n))) throw new Error(`a bad response failed with ${(e as Error).name}: ${msg} (it must name the resource)`, { cause: e });
    if (view(s) !== before) throw new Error(`a rejected response changed the state: ${msg}`);
  }
}

const mutatedAddress = fc.constantFrom(...validAddresses).chain((v) => mutated(v.bytes).map((b) => ({ name: v.name, bytes: b })));
const mutatedPolicy = fc.constantFrom(...validPolicies).chain((v) => mutated(v.bytes).map((b) => ({ name: v.name, bytes: b })));

t.test('ztunnel applies or NACKs mutated resources', async (t) => {
  fuzz(t, 'xds Address (mutated valid)', [fc.array(fc.oneof(mutatedAddress, fc.constantFrom(...validAddresses)), { minLength: 1, maxLength: 3 }), fc.boolean()], (items, seed) => {
    const s = new ProxyState();
    if (seed) addressHandler(s)(validAddresses.map((v) => resource(v.name, TYPE_ADDRESS, v.bytes)), []);
    applyOrNack(s, () => void addressHandler(s)(items.map((i) => resource(i.name, TYPE_ADDRESS, i.bytes)), []), items.map((i) => i.name));
    // Whatever was applied can be read and resolved without throwing.
    for (const w of s.workloads()) for (const a of w.addresses) s.resolveDestination(w, a, 80);
  }, { weight: 3 });
  fuzz(t, 'xds Authorization (mutated valid)', [fc.array(fc.oneof(mutatedPolicy, fc.constantFrom(...validPolicies)), { minLength: 1, maxLength: 3 })], (items) => {
    const s = new ProxyState();
    addressHandler(s)(validAddresses.map((v) => resource(v.name, TYPE_ADDRESS, v.bytes)), []);
    applyOrNack(s, () => void authorizationHandler(s)(items.map((i) => resource(i.name, TYPE_AUTHORIZATION, i.bytes)), []), items.map((i) => i.name));
    for (const w of s.workloads()) s.policiesFor(w);
  }, { weight: 3 });
  fuzz(t, 'xds Address (arbitrary bytes, wrong type)', [fc.string({ maxLength: 20 }), fc.constantFrom(TYPE_ADDRESS, TYPE_AUTHORIZATION, ''), fc.uint8Array({ maxLength: 120 })], (name, typeUrl, bytes) => {
    const s = new ProxyState();
    applyOrNack(s, () => void addressHandler(s)([resource(name, typeUrl, bytes)], []), [name]);
  }, { weight: 2 });
});

const ns = fc.constantFrom('default', 'mesh', 'kube-system', '');
const nodeName = fc.constantFrom('node-1', 'node-2', '');
const nodeId = fc.oneof(
  fc.tuple(fc.constantFrom('ztunnel', 'router', 'sidecar'), fc.ipV4(), fc.constantFrom('wp-0', 'ztunnel-x', ''), ns, ns).map(([ty, ip, pod, a, b]) => `${ty}~${ip}~${pod}.${a}~${b}.svc.cluster.local`),
  fc.string({ maxLength: 40 }),
  fc.array(fc.string({ maxLength: 6 }), { maxLength: 6 }).map((p) => p.join('~')),
);
const caller: fc.Arbitrary<Caller> = fc.oneof(
  nodeName.map((n) => ({ kind: 'node' as const, nodeName: n })),
  fc.oneof(fc.tuple(ns, fc.constantFrom('wp', 'default', 'web')).map(([n, sa]) => `spiffe://cluster.local/ns/${n}/sa/${sa}`), fc.string({ maxLength: 30 })).map((identity) => ({ kind: 'workload' as const, identity })),
);
const metadata = fc.oneof(fc.record({ NODE_NAME: fc.oneof(nodeName, fc.jsonValue()) }, { requiredKeys: [] }), fc.jsonValue({ maxDepth: 2 }));

t.test('control plane admission of a first request', async (t) => {
  fuzz(t, 'xds admission (node id, metadata, credential)', [caller, nodeId, metadata], (c, id, md) => {
    if (typeof parseNodeId(id) === 'string' && (parseNodeId(id) as string).length === 0) throw new Error('empty reason');
    const meta = stringMetadata(md);
    const a = admitStream(c, { id, metadata: meta }, { isWaypointAccount: (n, sa) => n === 'mesh' && sa === 'wp' });
    if (!a.admitted) {
      if (!a.reason) throw new Error('refused without a reason');
      return;
    }
    const parsed = parseNodeId(id);
    if (typeof parsed === 'string') throw new Error(`admitted an unparsable node id ${id}`);
    if (c.kind === 'node' && (c.nodeName === '' || meta['NODE_NAME'] !== c.nodeName)) throw new Error(`admitted node ${c.nodeName} claiming ${meta['NODE_NAME']}`);
    if (c.kind === 'workload' && !(parsed.type === 'router' && c.identity === `spiffe://cluster.local/ns/${parsed.namespace}/sa/wp` && parsed.namespace === 'mesh')) throw new Error(`admitted workload ${c.identity} as ${id}`);
  }, { weight: 5 });
});
