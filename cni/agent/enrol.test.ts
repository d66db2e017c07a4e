import t from 'tap';
import type { Namespace, Pod } from '../../lib/k8s/types.js';
import {
  decideEnrolment, decideMembership, podIps, podNetnsPath, redirectOptionsFor, redirectionState, serviceAccountOf, stripPrefixes, type EnrolPolicy,
} from './enrol.js';

const policy: EnrolPolicy = { node: 'node-1', excludeNamespaces: ['kube-system', 'istio-system'] };

interface PodOpts {
  ns?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  node?: string | undefined;
  hostNetwork?: boolean;
  containers?: string[];
  phase?: 'Pending' | 'Running' | 'Succeeded' | 'Failed';
}

function pod(o: PodOpts = {}): Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web', namespace: o.ns ?? 'demo', uid: 'u1', ...(o.labels ? { labels: o.labels } : {}), ...(o.annotations ? { annotations: o.annotations } : {}) },
    spec: {
      containers: (o.containers ?? ['app']).map((name) => ({ name })),
      ...('node' in o ? (o.node === undefined ? {} : { nodeName: o.node }) : { nodeName: 'node-1' }),
      ...(o.hostNetwork ? { hostNetwork: true } : {}),
    },
    ...(o.phase ? { status: { phase: o.phase } } : {}),
  };
}

const ns = (name: string, labels?: Record<string, string>): Namespace => ({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, ...(labels ? { labels } : {}) } });
const AMBIENT = { 'istio.io/dataplane-mode': 'ambient' };
const NONE = { 'istio.io/dataplane-mode': 'none' };

t.test('decideEnrolment', async (t) => {
  const cases: Array<[string, Pod, Namespace | undefined, string]> = [
    ['pod label, plain namespace', pod({ labels: AMBIENT }), ns('demo'), 'enrol pod-label'],
    ['pod label, no namespace object', pod({ labels: AMBIENT }), undefined, 'enrol pod-label'],
    ['namespace label', pod(), ns('demo', AMBIENT), 'enrol namespace-label'],
    ['namespace label, pod opted out', pod({ labels: NONE }), ns('demo', AMBIENT), 'skip opted-out'],
    ['namespace label, pod labelled something else', pod({ labels: { 'istio.io/dataplane-mode': 'sidecar' } }), ns('demo', AMBIENT), 'enrol namespace-label'],
    ['namespace labelled none', pod(), ns('demo', NONE), 'skip not-labelled'],
    ['nothing labelled', pod(), ns('demo'), 'skip not-labelled'],
    ['other node', pod({ labels: AMBIENT, node: 'node-2' }), ns('demo', AMBIENT), 'skip other-node'],
    ['not scheduled', pod({ labels: AMBIENT, node: undefined }), ns('demo', AMBIENT), 'skip other-node'],
    ['host network', pod({ hostNetwork: true }), ns('demo', AMBIENT), 'skip host-network'],
    ['host network with pod label', pod({ hostNetwork: true, labels: AMBIENT }), ns('demo'), 'skip host-network'],
    ['kube-system', pod({ ns: 'kube-system', labels: AMBIENT }), ns('kube-system', AMBIENT), 'skip excluded-namespace'],
    ['istio-system', pod({ ns: 'istio-system' }), ns('istio-system', AMBIENT), 'skip excluded-namespace'],
    ['ztunnel', pod({ labels: { app: 'ztunnel' } }), ns('demo', AMBIENT), 'skip ztunnel'],
    ['ztunnel with pod label', pod({ labels: { app: 'ztunnel', ...AMBIENT } }), ns('demo'), 'skip ztunnel'],
    ['sidecar annotation', pod({ annotations: { 'sidecar.istio.io/status': '{}' } }), ns('demo', AMBIENT), 'skip sidecar'],
    ['istio-proxy container', pod({ containers: ['app', 'istio-proxy'] }), ns('demo', AMBIENT), 'skip sidecar'],
    ['succeeded', pod({ phase: 'Succeeded' }), ns('demo', AMBIENT), 'skip terminated'],
    ['failed', pod({ phase: 'Failed', labels: AMBIENT }), ns('demo'), 'skip terminated'],
    ['running', pod({ phase: 'Running' }), ns('demo', AMBIENT), 'enrol namespace-label'],
  ];
  for (const [name, p, n, want] of cases) {
    const d = decideEnrolment(p, n, policy);
    t.equal(d.enrol ? `enrol ${d.by}` : `skip ${d.reason}`, want, name);
  }
  const d = decideEnrolment(pod({ node: 'node-2' }), undefined, policy);
  t.match(d, { enrol: false, detail: 'scheduled on node-2, not node-1' }, 'the detail says why');
});

t.test('decideMembership: what the CNI plugin judges itself while the agent is down', async (t) => {
  const excl = ['kube-system'];
  const cases: Array<[string, Pod, Namespace | undefined, string]> = [
    ['plain namespace', pod(), ns('demo'), 'skip not-labelled'],
    ['ambient namespace', pod(), ns('demo', AMBIENT), 'enrol namespace-label'],
    ['ambient namespace, pod opted out', pod({ labels: NONE }), ns('demo', AMBIENT), 'skip opted-out'],
    ['pod label, plain namespace', pod({ labels: AMBIENT }), ns('demo'), 'enrol pod-label'],
    ['not scheduled yet: the node is not judged', pod({ labels: AMBIENT, node: undefined }), ns('demo'), 'enrol pod-label'],
    ['scheduled elsewhere: the node is not judged', pod({ node: 'node-2' }), ns('demo', AMBIENT), 'enrol namespace-label'],
    ['excluded namespace from the plugin config', pod({ ns: 'kube-system', labels: AMBIENT }), ns('kube-system'), 'skip excluded-namespace'],
    ['istio-system not excluded by this list', pod({ ns: 'istio-system' }), ns('istio-system', AMBIENT), 'enrol namespace-label'],
    ['sidecar', pod({ containers: ['app', 'istio-proxy'] }), ns('demo', AMBIENT), 'skip sidecar'],
    ['host network', pod({ hostNetwork: true, labels: AMBIENT }), ns('demo'), 'skip host-network'],
  ];
  for (const [name, p, n, want] of cases) {
    const d = decideMembership(p, n, excl);
    t.equal(d.enrol ? `enrol ${d.by}` : `skip ${d.reason}`, want, name);
  }
  t.match(decideMembership(pod({ labels: NONE }), ns('demo', AMBIENT), excl), { detail: 'pod label istio.io/dataplane-mode=none' });
});

t.test('addresses, netns, state, service account', async (t) => {
  const p = pod();
  t.same(podIps(p), []);
  p.status = { podIP: '10.244.1.5' };
  t.same(podIps(p), ['10.244.1.5']);
  p.status = { podIP: '10.244.1.5', podIPs: [{ ip: '10.244.1.5' }, { ip: 'fd00::5' }] };
  t.same(podIps(p), ['10.244.1.5', 'fd00::5']);
  t.same(stripPrefixes(['10.244.1.5/24', 'fd00::5/64', '10.244.1.5/24']), ['10.244.1.5', 'fd00::5']);
  t.equal(podNetnsPath(p), undefined);
  t.equal(podNetnsPath(pod({ annotations: { 'ambit.dev/netns': 'ambit-demo-web' } })), '/var/run/netns/ambit-demo-web');
  t.equal(podNetnsPath(pod({ annotations: { 'ambit.dev/netns': '/proc/42/ns/net' } })), '/proc/42/ns/net');
  t.equal(redirectionState(pod({ annotations: { 'ambient.istio.io/redirection': 'enabled' } })), 'enabled');
  t.equal(redirectionState(pod({ annotations: { 'ambient.istio.io/redirection': 'pending' } })), 'pending');
  t.equal(redirectionState(pod({ annotations: { 'ambient.istio.io/redirection': 'bogus' } })), undefined);
  t.equal(serviceAccountOf(p), 'default');
  p.spec.serviceAccountName = 'web-sa';
  t.equal(serviceAccountOf(p), 'web-sa');
});

t.test('redirectOptionsFor', async (t) => {
  const d = { dnsCapture: true };
  t.same(redirectOptionsFor(pod(), ['10.0.0.1'], d), { ipv4: true, ipv6: false, dnsCapture: true, bypassInboundCapture: false });
  t.same(redirectOptionsFor(pod(), [], { dnsCapture: false }), { ipv4: true, ipv6: false, dnsCapture: false, bypassInboundCapture: false }, 'no address yet: IPv4');
  t.match(redirectOptionsFor(pod(), ['fd00::1'], d), { ipv4: false, ipv6: true });
  t.match(redirectOptionsFor(pod(), ['10.0.0.1', 'fd00::1'], d), { ipv4: true, ipv6: true });
  const annotated = pod({ annotations: {
    'ambient.istio.io/dns-capture': 'false', 'ambient.istio.io/bypass-inbound-capture': 'true', 'istio.io/reroute-virtual-interfaces': 'tap0, tap1',
  } });
  t.same(redirectOptionsFor(annotated, ['10.0.0.1'], d), { ipv4: true, ipv6: false, dnsCapture: false, bypassInboundCapture: true, virtualInterfaces: ['tap0', 'tap1'] });
  t.match(redirectOptionsFor(pod({ annotations: { 'ambient.istio.io/dns-capture': 'true' } }), [], { dnsCapture: false }), { dnsCapture: true }, 'the annotation forces DNS capture on');
  t.throws(() => redirectOptionsFor(pod({ annotations: { 'ambient.istio.io/dns-capture': 'yes' } }), [], d),
    /pod demo\/web: annotation ambient.istio.io\/dns-capture must be "true" or "false", got "yes"/);
  t.throws(() => redirectOptionsFor(pod({ annotations: { 'istio.io/reroute-virtual-interfaces': 'lo' } }), [], d), /reroute-virtual-interfaces: "lo" is not an interface name/);
});
