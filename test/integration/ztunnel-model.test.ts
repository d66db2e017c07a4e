// The control plane's model output, fed through the xDS handlers into ProxyState, then resolved and
// authorized: the fixtures are what Ambit's control plane really produces.
import t from 'tap';
import { create, type DescMessage, type MessageShape } from '@bufbuild/protobuf';
import { anyPack } from '@bufbuild/protobuf/wkt';
import { ResourceSchema, type Resource } from '../../lib/proto/gen/envoy/service/discovery/v3/discovery_pb.js';
import { AuthorizationSchema } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import { buildModel, diffModels, type Model, type ModelSnapshot } from '../../control/model/index.js';
import { ap, gw, ns, pa, pod, svc } from '../../control/model/testkit.js';
import { authorize, type Connection } from '../../ztunnel/rbac/authorize.js';
import { addressHandler, authorizationHandler } from '../../ztunnel/state/feed.js';
import { ProxyState } from '../../ztunnel/state/state.js';
import { seededRandom as seeded } from '../../lib/sys/testkit.js';

const GW = { 'gateway.networking.k8s.io/gateway-name': 'waypoint' };

function snapshot(strict = true): ModelSnapshot {
  return {
    namespaces: [
      ns('istio-system'),
      ns('shop', { 'istio.io/dataplane-mode': 'ambient', 'istio.io/use-waypoint': 'waypoint' }),
      ns('front', { 'istio.io/dataplane-mode': 'ambient' }),
      ns('legacy'),
    ],
    gateways: [gw('shop', 'waypoint', { addresses: [{ type: 'Hostname', value: 'waypoint.shop.svc.cluster.local' }] })],
    services: [
      svc('shop', 'waypoint', { labels: GW, selector: GW, clusterIP: '10.96.0.100', ports: [{ name: 'mesh', port: 15008, targetPort: 15008 }] }),
      svc('shop', 'cart', { clusterIP: '10.96.0.20', ports: [{ name: 'http', port: 80, targetPort: 'http' }] }),
      svc('front', 'web', { clusterIP: '10.96.0.30' }),
    ],
    pods: [
      pod('shop', 'waypoint-abc', { ip: '10.244.3.100', sa: 'waypoint', labels: { ...GW, 'networking.istio.io/tunnel': 'http', 'istio.io/dataplane-mode': 'none' } }),
      pod('shop', 'cart-1', { ip: '10.244.2.10', sa: 'cart', ambient: true, labels: { app: 'cart' }, ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('shop', 'cart-2', { ip: '10.244.2.11', sa: 'cart', ambient: true, ready: false, labels: { app: 'cart' }, ports: [{ name: 'http', containerPort: 8080 }] }),
      pod('front', 'web-1', { ip: '10.244.1.5', sa: 'web', ambient: true, labels: { app: 'web' } }),
      pod('legacy', 'old', { ip: '10.244.4.4', labels: { app: 'old' } }),
    ],
    authorizationPolicies: [
      ap('shop', 'allow-front', { rules: [{ from: [{ source: { principals: ['cluster.local/ns/front/sa/web', 'cluster.local/ns/shop/sa/waypoint'] } }] }] }),
      ap('shop', 'deny-debug-port', { action: 'DENY', selector: { matchLabels: { app: 'cart' } }, rules: [{ to: [{ operation: { ports: ['9999'] } }] }] }),
      ap('istio-system', 'deny-blocked', { action: 'DENY', rules: [{ from: [{ source: { ipBlocks: ['192.168.66.0/24'] } }] }] }),
    ],
    peerAuthentications: strict ? [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })] : [],
  };
}

function resource<D extends DescMessage>(schema: D, name: string, msg: MessageShape<D>): Resource {
  return create(ResourceSchema, { name, version: '1', resource: anyPack(schema, msg) });
}

async function feed(state: ProxyState, m: Model, prev?: Model): Promise<void> {
  const d = diffModels(prev, m);
  await addressHandler(state)(d.addresses.upserts.map((n) => resource(AddressSchema, n, m.addresses.get(n) ?? create(AddressSchema))), d.addresses.removals);
  await authorizationHandler(state)(d.authorizations.upserts.map((n) => resource(AuthorizationSchema, n, m.authorizations.get(n) ?? create(AuthorizationSchema))), d.authorizations.removals);
}

t.test('outbound resolution on the model', async (t) => {
  const s = new ProxyState({ random: seeded(5) });
  const m = buildModel(snapshot());
  t.same(m.problems, []);
  await feed(s, m);
  const web = s.findWorkload({ namespace: 'front', name: 'web-1' });
  const wp = s.findWorkload({ ip: '10.244.3.100' });
  if (!web || !wp) throw new Error('fixture');

  const viaWp = s.resolveDestination(web, '10.96.0.20', 80);
  t.match(viaWp, { kind: 'service', service: { key: 'shop/cart.shop.svc.cluster.local' }, waypoint: { workload: { name: 'waypoint-abc' } } }, 'namespace use-waypoint → service waypoint');
  t.match(viaWp.kind !== 'error' && viaWp.target, { protocol: 'HBONE', ip: '10.244.3.100', port: 15008, authority: '10.96.0.20:80', expectedIdentities: ['spiffe://cluster.local/ns/shop/sa/waypoint'] });

  for (let i = 0; i < 10; i++) {
    const fromWp = s.resolveDestination(wp, '10.96.0.20', 80);
    t.match(fromWp, { kind: 'service', endpoint: { workload: { name: 'cart-1' }, ip: '10.244.2.10', targetPort: 8080 } }, 'the waypoint goes to the ready endpoint, named port resolved');
  }
  t.match(s.resolveDestination(web, '10.244.4.4', 8080), { kind: 'workload', target: { protocol: 'TCP', ip: '10.244.4.4', port: 8080 } }, 'non-ambient pod: plain TCP');
  t.match(s.resolveDestination(web, '10.96.0.30', 80), { kind: 'service', endpoint: { workload: { name: 'web-1' }, targetPort: 8080 } });
  t.match(s.resolveDestination(web, '8.8.8.8', 53), { kind: 'passthrough' });
});

t.test('authorization on the model: scopes, STRICT, DENY first', async (t) => {
  const s = new ProxyState();
  const m = buildModel(snapshot());
  await feed(s, m);
  const cart = s.findWorkload({ namespace: 'shop', name: 'cart-1' });
  const web = s.findWorkload({ namespace: 'front', name: 'web-1' });
  if (!cart || !web) throw new Error('fixture');
  t.same(s.policiesFor(cart).map((p) => p.key).sort(), ['istio-system/deny-blocked', 'istio-system/istio_converted_static_strict', 'shop/allow-front', 'shop/deny-debug-port'], 'global + namespace + selected');
  t.same(s.policiesFor(web).map((p) => p.key).sort(), ['istio-system/deny-blocked', 'istio-system/istio_converted_static_strict']);

  const id = (ns: string, sa: string): string => `spiffe://cluster.local/ns/${ns}/sa/${sa}`;
  const conn = (o: Partial<Connection>): Connection => ({ srcIp: '10.244.1.5', dstIp: '10.244.2.10', dstPort: 8080, ...o });
  const rows: Array<[string, typeof cart, Connection, boolean, string | undefined]> = [
    ['allowed principal', cart, conn({ srcIdentity: id('front', 'web') }), true, 'shop/allow-front'],
    ['other principal: ALLOW applies, none matches', cart, conn({ srcIdentity: id('front', 'other') }), false, undefined],
    ['plaintext: STRICT', cart, conn({}), false, 'istio-system/istio_converted_static_strict'],
    ['selected DENY on port 9999 first', cart, conn({ srcIdentity: id('front', 'web'), dstPort: 9999 }), false, 'shop/deny-debug-port'],
    ['global DENY by source block', cart, conn({ srcIdentity: id('front', 'web'), srcIp: '192.168.66.7' }), false, 'istio-system/deny-blocked'],
    ['no ALLOW in front: any mTLS peer', web, conn({ srcIdentity: id('x', 'y'), dstIp: '10.244.1.5' }), true, undefined],
    ['no ALLOW in front: plaintext still STRICT', web, conn({ dstIp: '10.244.1.5' }), false, 'istio-system/istio_converted_static_strict'],
  ];
  for (const [name, w, c, allowed, policy] of rows) {
    const d = authorize(c, s.policiesFor(w));
    t.same({ allowed: d.allowed, policy: d.policy }, { allowed, policy }, name);
  }

  // PeerAuthentication removed: the control plane withdraws the static policy, plaintext is let in.
  const changes: boolean[] = [];
  s.onChange((c) => changes.push(c.authorization));
  const m2 = buildModel(snapshot(false));
  await feed(s, m2, m);
  t.ok(changes.includes(true), 'listeners learn that decisions may have changed');
  const web2 = s.findWorkload({ namespace: 'front', name: 'web-1' });
  if (!web2) throw new Error('fixture');
  t.equal(authorize(conn({ dstIp: '10.244.1.5' }), s.policiesFor(web2)).allowed, true);
});

t.test('a bad resource is rejected by the handler and changes nothing', async (t) => {
  const s = new ProxyState();
  const m = buildModel(snapshot());
  await feed(s, m);
  const before = s.stats();
  const good = resource(AddressSchema, 'Kubernetes//Pod/shop/cart-9', m.addresses.get('Kubernetes//Pod/shop/cart-1') ?? create(AddressSchema));
  const wrongType = create(ResourceSchema, { name: 'x', resource: anyPack(AuthorizationSchema, create(AuthorizationSchema)) });
  t.throws(() => addressHandler(s)([wrongType], ['shop/cart.shop.svc.cluster.local']), /resource "x" is a type.googleapis.com\/istio.security.Authorization/);
  t.throws(() => addressHandler(s)([good], []), /uid: "Kubernetes\/\/Pod\/shop\/cart-1" differs from the resource name/);
  t.same(s.stats(), before);
  t.ok(s.serviceByVip('10.96.0.20'), 'removal in the rejected response not applied');
});
