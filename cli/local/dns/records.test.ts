import t from 'tap';
import type { Answer } from 'dns-packet';
import { lookup, type LookupResult } from './lookup.js';
import { dashedIp, ipFromDashed, reverseName } from './names.js';
import { buildSnapshot, type ClusterData } from './records.js';

const data: ClusterData = {
  services: [
    {
      namespace: 'default',
      name: 'kubernetes',
      clusterIP: '10.96.0.1',
      ports: [{ name: 'https', port: 443, protocol: 'TCP' }],
    },
    {
      namespace: 'shop',
      name: 'web',
      clusterIP: '10.96.0.20',
      ports: [
        { name: 'http', port: 80, protocol: 'TCP' },
        { name: 'dns', port: 53, protocol: 'UDP' },
        { port: 9000 },
      ],
      endpoints: [{ ip: '10.244.1.5', podName: 'web-1' }],
    },
    {
      namespace: 'shop',
      name: 'db',
      clusterIP: 'None',
      ports: [{ name: 'pg', port: 5432 }],
      endpoints: [
        { ip: '10.244.1.7', hostname: 'db-0', podName: 'db-0', ports: [{ name: 'pg', port: 15432 }] },
        { ip: '10.244.2.7', podName: 'db-1', ports: [{ name: 'pg', port: 15432 }] },
      ],
    },
    { namespace: 'shop', name: 'empty', clusterIP: 'None', ports: [] },
    { namespace: 'shop', name: 'v6', clusterIP: 'fd00:10:96::a', ports: [] },
    { namespace: 'shop', name: 'ext', clusterIP: 'None', ports: [], externalName: 'Example.COM.' },
    { namespace: 'shop', name: 'bad', clusterIP: '10.96.0.999', ports: [] },
  ],
  pods: [
    { namespace: 'shop', name: 'web-1', ip: '10.244.1.5' },
    { namespace: 'shop', name: 'v6pod', ip: 'fd00:244::5' },
  ],
};

const snap = buildSnapshot(data, { serial: 42 });

type Row = [name: string, type: string, rcode: string, answers: string[]];

function summary(r: LookupResult): { rcode: string; answers: string[]; soa: boolean; additionals: string[] } {
  if (r.kind === 'forward') return { rcode: `forward:${r.otherwise}`, answers: [], soa: false, additionals: [] };
  const show = (a: Answer): string => {
    if (a.type === 'SRV') return `SRV ${a.data.weight ?? ''} ${a.data.port} ${a.data.target}`;
    if (a.type === 'SOA') return `SOA ${a.data.mname} ${a.data.serial ?? ''}`;
    if (a.type === 'TXT') return `TXT ${String(a.data)}`;
    if (a.type === 'OPT') return 'OPT';
    return `${a.type} ${String(a.data)}`;
  };
  return {
    rcode: r.rcode,
    answers: r.answers.map(show).sort(),
    soa: r.authorities.some((a) => a.type === 'SOA'),
    additionals: r.additionals.map((a) => `${a.name} ${show(a)}`).sort(),
  };
}

t.test('answers like the CoreDNS kubernetes plugin', async (t) => {
  const rows: Row[] = [
    ['kubernetes.default.svc.cluster.local', 'A', 'NOERROR', ['A 10.96.0.1']],
    ['web.shop.svc.cluster.local', 'A', 'NOERROR', ['A 10.96.0.20']],
    ['WEB.Shop.SVC.cluster.LOCAL.', 'A', 'NOERROR', ['A 10.96.0.20']],
    ['web.shop.svc.cluster.local', 'AAAA', 'NOERROR', []],
    ['web.shop.svc.cluster.local', 'TXT', 'NOERROR', []],
    ['10-244-1-5.web.shop.svc.cluster.local', 'A', 'NOERROR', ['A 10.244.1.5']],
    ['db.shop.svc.cluster.local', 'A', 'NOERROR', ['A 10.244.1.7', 'A 10.244.2.7']],
    ['db-0.db.shop.svc.cluster.local', 'A', 'NOERROR', ['A 10.244.1.7']],
    ['10-244-2-7.db.shop.svc.cluster.local', 'A', 'NOERROR', ['A 10.244.2.7']],
    ['db-1.db.shop.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['empty.shop.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['v6.shop.svc.cluster.local', 'AAAA', 'NOERROR', ['AAAA fd00:10:96::a']],
    ['v6.shop.svc.cluster.local', 'A', 'NOERROR', []],
    ['ext.shop.svc.cluster.local', 'A', 'NOERROR', ['CNAME example.com']],
    ['bad.shop.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['_http._tcp.web.shop.svc.cluster.local', 'SRV', 'NOERROR', ['SRV 100 80 web.shop.svc.cluster.local']],
    ['_DNS._UDP.web.shop.svc.cluster.local', 'SRV', 'NOERROR', ['SRV 100 53 web.shop.svc.cluster.local']],
    ['_http._udp.web.shop.svc.cluster.local', 'SRV', 'NXDOMAIN', []],
    ['_tcp.web.shop.svc.cluster.local', 'SRV', 'NOERROR', []],
    ['_http._tcp.web.shop.svc.cluster.local', 'A', 'NOERROR', []],
    [
      'web.shop.svc.cluster.local',
      'SRV',
      'NOERROR',
      ['SRV 33 53 web.shop.svc.cluster.local', 'SRV 33 80 web.shop.svc.cluster.local', 'SRV 33 9000 web.shop.svc.cluster.local'],
    ],
    ['_pg._tcp.db.shop.svc.cluster.local', 'SRV', 'NOERROR', ['SRV 50 15432 10-244-2-7.db.shop.svc.cluster.local', 'SRV 50 15432 db-0.db.shop.svc.cluster.local']],
    ['10-244-1-5.shop.pod.cluster.local', 'A', 'NOERROR', ['A 10.244.1.5']],
    ['fd00-244--5.shop.pod.cluster.local', 'AAAA', 'NOERROR', ['AAAA fd00:244::5']],
    ['fd00-244-0-0-0-0-0-5.shop.pod.cluster.local', 'AAAA', 'NOERROR', ['AAAA fd00:244::5']],
    ['10-244-1-5.shop.pod.cluster.local', 'AAAA', 'NOERROR', []],
    ['10-244-1-6.shop.pod.cluster.local', 'A', 'NXDOMAIN', []],
    ['10-244-1-5.other.pod.cluster.local', 'A', 'NXDOMAIN', []],
    ['shop.svc.cluster.local', 'A', 'NOERROR', []],
    ['shop.pod.cluster.local', 'A', 'NOERROR', []],
    ['nope.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['svc.cluster.local', 'A', 'NOERROR', []],
    ['cluster.local', 'SOA', 'NOERROR', ['SOA ns.dns.cluster.local 42']],
    ['cluster.local', 'NS', 'NOERROR', ['NS ns.dns.cluster.local']],
    ['dns-version.cluster.local', 'TXT', 'NOERROR', ['TXT 1.1.0']],
    // The search-path expansions of `web` and `web.shop` from a pod in `default`:
    ['web.default.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.shop.default.svc.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.shop.cluster.local', 'A', 'NXDOMAIN', []],
    ['web.cluster.local', 'A', 'NXDOMAIN', []],
    ['20.0.96.10.in-addr.arpa', 'PTR', 'NOERROR', ['PTR web.shop.svc.cluster.local']],
    ['7.1.244.10.in-addr.arpa', 'PTR', 'NOERROR', ['PTR db-0.db.shop.svc.cluster.local']],
    ['9.9.9.9.in-addr.arpa', 'PTR', 'forward:NXDOMAIN', []],
    ['example.com', 'A', 'forward:REFUSED', []],
    ['cluster.local.example.com', 'A', 'forward:REFUSED', []],
    ['xcluster.local', 'A', 'forward:REFUSED', []],
  ];
  for (const [name, type, rcode, answers] of rows) {
    const s = summary(lookup(snap, { name, type }));
    t.same({ rcode: s.rcode, answers: s.answers }, { rcode, answers }, `${type} ${name}`);
    // Every negative answer in the zone carries the SOA, so resolvers can cache it.
    if (rcode === 'NXDOMAIN' || (rcode === 'NOERROR' && answers.length === 0 && !name.endsWith('.arpa'))) {
      t.ok(s.soa, `${type} ${name} has an SOA in authority`);
    }
  }
});

t.test('owner names echo the question; SRV carries the targets addresses', async (t) => {
  const r = lookup(snap, { name: '_PG._tcp.db.shop.svc.cluster.local', type: 'SRV' });
  t.equal(r.kind, 'answer');
  if (r.kind !== 'answer') return;
  t.equal(r.answers[0]?.name, '_PG._tcp.db.shop.svc.cluster.local');
  t.equal((r.answers[0] as { ttl?: number } | undefined)?.ttl, 5);
  t.same(summary(r).additionals, [
    '10-244-2-7.db.shop.svc.cluster.local A 10.244.2.7',
    'db-0.db.shop.svc.cluster.local A 10.244.1.7',
  ]);
});

t.test('options: zone, ttl, pod modes, endpoint pod names, nameserver', async (t) => {
  const s = buildSnapshot(data, { zone: 'Corp.Example.', ttl: 30, pods: 'insecure', endpointPodNames: true, nameserver: '10.96.0.10' });
  const a = lookup(s, { name: 'web.shop.svc.corp.example', type: 'A' });
  t.same(summary(a).answers, ['A 10.96.0.20']);
  t.equal(a.kind === 'answer' && (a.answers[0] as { ttl?: number } | undefined)?.ttl, 30);
  t.same(summary(lookup(s, { name: 'web.shop.svc.cluster.local', type: 'A' })).rcode, 'forward:REFUSED');
  t.same(summary(lookup(s, { name: '10-1-2-3.anything.pod.corp.example', type: 'A' })).answers, ['A 10.1.2.3']);
  t.same(summary(lookup(s, { name: 'db-1.db.shop.svc.corp.example', type: 'A' })).answers, ['A 10.244.2.7']);
  t.same(summary(lookup(s, { name: 'ns.dns.corp.example', type: 'A' })).answers, ['A 10.96.0.10']);
  t.same(summary(lookup(s, { name: 'corp.example', type: 'NS' })).additionals, ['ns.dns.corp.example A 10.96.0.10']);
  const off = buildSnapshot(data, { pods: 'disabled' });
  t.equal(summary(lookup(off, { name: '10-244-1-5.shop.pod.cluster.local', type: 'A' })).rcode, 'NXDOMAIN');
  t.throws(() => buildSnapshot(data, { ttl: -1 }), /ttl/);
  t.throws(() => buildSnapshot(data, { zone: 'bad zone' }), /zone/);
});

t.test('bad input is reported, naming the object and field', async (t) => {
  t.match(snap.problems, [/Service shop\/bad: spec.clusterIP '10.96.0.999'/]);
  const s = buildSnapshot({
    services: [
      { namespace: 'a', name: 'Bad_Name', clusterIP: '10.96.0.5', ports: [] },
      { namespace: 'a', name: 'p', clusterIP: '10.96.0.6', ports: [{ name: 'x', port: 70000 }, { name: 'y', port: 1, protocol: 'ICMP' }] },
      { namespace: 'a', name: 'e', clusterIP: 'None', ports: [], endpoints: [{ ip: 'nope' }] },
    ],
    pods: [{ namespace: 'a', name: 'p', ip: '' }],
  });
  t.match(s.problems, [
    /Service a\/Bad_Name: metadata.name/,
    /Service a\/p: spec.ports\[0\].port 70000/,
    /Service a\/p: spec.ports\[1\].protocol 'ICMP'/,
    /Service a\/e: endpoint address 'nope'/,
    /Pod a\/p: status.podIP ''/,
  ]);
  t.same(summary(lookup(s, { name: 'p.a.svc.cluster.local', type: 'A' })).answers, ['A 10.96.0.6']);
});

t.test('name helpers', async (t) => {
  t.equal(dashedIp('10.0.0.1'), '10-0-0-1');
  t.equal(ipFromDashed('010-0-0-1'), undefined);
  t.equal(ipFromDashed('fd00--1'), 'fd00::1');
  t.equal(reverseName('10.96.0.1'), '1.0.96.10.in-addr.arpa');
  t.equal(reverseName('fd00::1'), `1.${'0.'.repeat(29)}d.f.ip6.arpa`);
});
