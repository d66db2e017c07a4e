// Which resolutions are handed to a local pod in process (handoffTarget), as a table over the
// real resolver's answers; and the registry's add/remove.
import t from 'tap';
import { ProxyState } from '../state/state.js';
import { key, svc, wl } from '../state/testkit.js';
import type { Resolution } from '../state/view.js';
import { handoffTarget, LocalPods, type LocalInbound } from './local-pods.js';

const inbound = (identity: string): LocalInbound => ({ identity, connect: () => Promise.reject(new Error('not called')) });
const id = (sa: string): string => `spiffe://cluster.local/ns/demo/sa/${sa}`;

t.test('handoffTarget', async (t) => {
  const state = new ProxyState({ hbonePort: 15008 });
  state.applyAddresses([
    wl('a', { ns: 'demo', ips: ['10.0.0.1'], sa: 'frontend' }),
    wl('b', { ns: 'demo', ips: ['10.0.0.2'], sa: 'backend', services: { [key('b', 'demo')]: [[80, 8080]], [key('viawp', 'demo')]: [[80, 8080]], [key('signed', 'demo')]: [[80, 8080]] } }),
    wl('remote', { ns: 'demo', ips: ['10.0.1.2'], sa: 'backend' }),
    wl('outside', { ns: 'demo', ips: ['10.0.0.3'], hbone: false }),
    wl('wp', { ns: 'demo', ips: ['10.0.0.9'], sa: 'waypoint' }),
    wl('b-wp', { ns: 'demo', ips: ['10.0.0.4'], sa: 'backend', waypoint: { ip: '10.0.0.9' } }),
    svc('b', { ns: 'demo', vips: ['10.96.0.1'], ports: [[80, 8080]] }),
    svc('viawp', { ns: 'demo', vips: ['10.96.0.2'], ports: [[80, 8080]], waypoint: { ip: '10.0.0.9' } }),
    svc('signed', { ns: 'demo', vips: ['10.96.0.3'], ports: [[80, 8080]], sans: ['spiffe://cluster.local/ns/demo/sa/other'] }),
  ], []);
  const a = state.findWorkload({ namespace: 'demo', name: 'a' })!;
  const pods = new LocalPods();
  pods.add('demo', 'b', inbound(id('backend')));
  pods.add('demo', 'outside', inbound(id('default')));
  pods.add('demo', 'wp', inbound(id('waypoint')));
  pods.add('demo', 'b-wp', inbound(id('backend')));
  const cases: Array<[string, string, number, string | undefined]> = [
    ['pod by IP, local', '10.0.0.2', 8080, '10.0.0.2:8080'],
    ['service VIP, local endpoint', '10.96.0.1', 80, '10.0.0.2:8080'],
    ['pod on another node', '10.0.1.2', 8080, undefined],
    ['local pod outside the mesh (plain TCP)', '10.0.0.3', 8080, undefined],
    ['unknown destination (passthrough)', '192.0.2.1', 80, undefined],
    ['service with a waypoint: the waypoint gets it over HBONE', '10.96.0.2', 80, undefined],
    ['pod with a waypoint', '10.0.0.4', 8080, undefined],
    ['service port that does not exist (error)', '10.96.0.1', 81, undefined],
  ];
  for (const [what, ip, port, want] of cases) {
    const r: Resolution = state.resolveDestination(a, ip, port);
    t.equal(handoffTarget(r, pods)?.authority, want, what);
  }
  // A service whose SANs do not name the pod's identity: the HBONE client would refuse the pod's certificate.
  const signed = state.resolveDestination(a, '10.96.0.3', 80);
  if (signed.kind === 'service' && !signed.waypoint) {
    const r: Resolution = { ...signed, target: { ...signed.target, expectedIdentities: [id('other')] } };
    t.equal(handoffTarget(r, pods), undefined, 'an identity the HBONE client would not accept');
    t.ok(handoffTarget({ ...signed, target: { ...signed.target, expectedIdentities: [id('other'), id('backend')] } }, pods), 'one of several accepted identities');
  } else t.fail(`signed: unexpected resolution ${signed.kind}`);
  pods.enabled = false;
  t.equal(handoffTarget(state.resolveDestination(a, '10.0.0.2', 8080), pods), undefined, 'disabled: nothing is handed off');
});

t.test('LocalPods: a removal removes only its own entry', async (t) => {
  const pods = new LocalPods();
  const first = inbound('x');
  const second = inbound('y');
  const removeFirst = pods.add('ns', 'p', first);
  pods.add('ns', 'p', second);
  removeFirst();
  t.equal(pods.find('ns', 'p'), second, 'the later registration stays');
  t.equal(pods.size, 1);
  t.equal(pods.find('ns', 'q'), undefined);
});
