// Pure parsing and formatting: :authority, forwarded, baggage, traceparent, pool keys.
import t from 'tap';
import { canonicalIp, formatHostPort, parseAuthority } from './authority.js';
import { connectHeaders } from './client.js';
import { buildBaggage, buildForwarded, parseBaggage, parseForwarded } from './headers.js';
import { poolKey } from './pool.js';

t.test('parseAuthority', async (t) => {
  const ok: [string, string, number, string][] = [
    ['10.244.0.10:80', '10.244.0.10', 80, 'ipv4'],
    ['[fd00::5]:8080', 'fd00::5', 8080, 'ipv6'],
    ['[FD00::A]:1', 'fd00::a', 1, 'ipv6'],
    ['[::ffff:10.0.0.1]:80', '10.0.0.1', 80, 'ipv4'],
    ['reviews.ns.svc.cluster.local:9080', 'reviews.ns.svc.cluster.local', 9080, 'hostname'],
    ['Reviews.NS.svc.cluster.local.:65535', 'reviews.ns.svc.cluster.local', 65535, 'hostname'],
  ];
  for (const [input, host, port, kind] of ok) t.same(parseAuthority(input), { host, port, kind }, input);
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['10.0.0.1', /missing ":port"/],
    ['10.0.0.1:0', /port must be 1-65535/],
    ['10.0.0.1:65536', /port must be/],
    ['10.0.0.1:+80', /port must be/],
    ['10.0.0.256:80', /not a valid IPv4/],
    ['fd00::1:80', /needs brackets/],
    ['[fd00::1]80', /expected \[ipv6\]:port/],
    ['[zz::1]:80', /not an IPv6 address/],
    ['under_score.example:80', /neither an IP address nor a DNS name/],
    ['-bad.example:80', /neither/],
    ['a b:80', /neither/],
  ];
  for (const [input, why] of bad) {
    const r = parseAuthority(input);
    t.type(r, 'string', input);
    t.match(r, why, input);
  }
  t.equal(canonicalIp('::ffff:127.0.0.1'), '127.0.0.1');
  t.equal(canonicalIp('::1'), '::1');
  t.equal(formatHostPort('fd00::1', 15008), '[fd00::1]:15008');
  t.equal(formatHostPort('10.0.0.1', 15008), '10.0.0.1:15008');
});

t.test('forwarded', async (t) => {
  t.equal(buildForwarded('10.0.0.1:4711'), 'for="10.0.0.1:4711"');
  t.equal(buildForwarded('[fd00::1]:4711', 'reviews.ns.svc.cluster.local'), 'for="[fd00::1]:4711";host=reviews.ns.svc.cluster.local');
  t.same(parseForwarded('for="[fd00::1]:4711";host=reviews.ns.svc.cluster.local'), { for: '[fd00::1]:4711', host: 'reviews.ns.svc.cluster.local' });
  t.same(parseForwarded('for=10.0.0.1, for=10.0.0.2'), { for: '10.0.0.1' });
  t.same(parseForwarded('By=x;Host="h"'), { host: 'h' });
  t.same(parseForwarded(undefined), {});
});

t.test('baggage', async (t) => {
  const full = {
    clusterName: 'Kubernetes',
    namespace: 'demo',
    workloadType: 'deployment' as const,
    workloadName: 'reviews-v1',
    serviceName: 'reviews',
    serviceVersion: 'v1',
    region: 'eu-west',
    zone: 'eu-west-1a',
  };
  const b = buildBaggage(full);
  t.equal(b, 'k8s.cluster.name=Kubernetes,k8s.namespace.name=demo,k8s.deployment.name=reviews-v1,service.name=reviews,service.version=v1,cloud.region=eu-west,cloud.availability_zone=eu-west-1a');
  t.same(parseBaggage(b), full, 'round trip');
  t.equal(buildBaggage({ namespace: 'demo', serviceName: '', workloadType: 'pod', workloadName: 'p' }), 'k8s.namespace.name=demo,k8s.pod.name=p', 'empty items left out');
  t.equal(buildBaggage({ serviceName: 'a b,c;d%' }), 'service.name=a%20b%2Cc%3Bd%25');
  t.same(parseBaggage('service.name=a%20b%2Cc%3Bd%25'), {}, 'decoded, then refused: not a label value');
  t.same(parseBaggage('service.name=reviews%2Dv2'), { serviceName: 'reviews-v2' }, 'percent-encoded valid values are decoded');
  t.same(parseBaggage(' k8s.job.name = j ;prop=1 , unknown=x, k8s.thing.name=y, bad'), { workloadType: 'job', workloadName: 'j' });
  t.same(parseBaggage(''), {});
});

t.test('baggage from a hostile peer: only valid values of known keys', async (t) => {
  const long63 = 'a'.repeat(63);
  const cases: Array<[string, string, object]> = [
    ['a value with spaces', 'service.name=a%20b', {}],
    ['a quote and angle brackets', 'service.name=%3Cscript%3E%22', {}],
    ['a NUL byte', 'k8s.namespace.name=demo%00x', {}],
    ['a newline', 'service.version=v1%0Aevil="1"', {}],
    ['non-ASCII', 'service.name=r%C3%A9views', {}],
    ['a label value of 64 characters', `service.name=${'a'.repeat(64)}`, {}],
    ['a label value of 63 characters', `service.name=${long63}`, { serviceName: long63 }],
    ['a namespace with capitals', 'k8s.namespace.name=Demo', {}],
    ['a namespace of 64 characters', `k8s.namespace.name=${'n'.repeat(64)}`, {}],
    ['a workload name with a dot', 'k8s.deployment.name=api.v1', { workloadType: 'deployment', workloadName: 'api.v1' }],
    ['a workload name of 254 characters', `k8s.deployment.name=${'w'.repeat(254)}`, {}],
    ['a workload name starting with "-"', 'k8s.pod.name=-x', {}],
    ['an unknown workload type', 'k8s.replicaset.name=rs', {}],
    ['a key Istio does not write', 'user.id=12345', {}],
    ['a valid item next to an invalid one', 'k8s.namespace.name=demo,service.name=a%20b', { namespace: 'demo' }],
    ['a cluster name as Istio sets it', 'k8s.cluster.name=Kubernetes', { clusterName: 'Kubernetes' }],
    ['a broken percent escape', 'service.name=%ZZ', {}],
    ['a header of 2049 bytes', `service.name=reviews,user.pad=${'x'.repeat(2049 - 'service.name=reviews,user.pad='.length)}`, {}],
    ['a header of 2048 bytes', `service.name=reviews,user.pad=${'x'.repeat(2048 - 'service.name=reviews,user.pad='.length)}`, { serviceName: 'reviews' }],
  ];
  for (const [what, header, want] of cases) t.same(parseBaggage(header), want, what);
});

t.test('CONNECT headers and pool keys', async (t) => {
  t.same(connectHeaders({ authority: '10.0.0.1:80', forwarded: 'for="1.2.3.4:5"', headers: { 'X-Forwarded-Network': 'n1' } }), {
    'x-forwarded-network': 'n1',
    forwarded: 'for="1.2.3.4:5"',
    ':method': 'CONNECT',
    ':authority': '10.0.0.1:80',
  });
  t.throws(() => connectHeaders({ authority: '10.0.0.1' }), { code: 'HBONE_INVALID_ARGUMENT' });
  t.throws(() => connectHeaders({ authority: '10.0.0.1:80', headers: { ':path': '/' } }), { code: 'HBONE_INVALID_ARGUMENT' });
  const k = { sourceIdentity: 'spiffe://td/ns/a/sa/b', destinationIdentities: ['spiffe://td/ns/x/sa/y', 'spiffe://td/ns/w/sa/z'], destination: '10.0.0.2:15008' };
  t.equal(poolKey(k), poolKey({ ...k, destinationIdentities: [...k.destinationIdentities].reverse() }), 'identity order does not matter');
  t.not(poolKey(k), poolKey({ ...k, originalSourceIp: '10.0.0.9' }));
  t.not(poolKey(k), poolKey({ ...k, destination: '10.0.0.3:15008' }));
  t.throws(() => poolKey({ ...k, destinationIdentities: [] }), /destinationIdentities/);
  t.throws(() => poolKey({ ...k, sourceIdentity: 'bob' }), /sourceIdentity/);
  t.throws(() => poolKey({ ...k, destination: '10.0.0.2' }), /destination/);
});
