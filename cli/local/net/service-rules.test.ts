import t from 'tap';
import { renderServiceRules, resolveServices, validateService, type EndpointSpec, type ServiceSpec } from './service-rules.js';

const web: ServiceSpec = { namespace: 'demo', name: 'web', clusterIP: '10.96.0.20', ports: [{ port: 80, targetPort: 8080 }] };

function tableOf(text: string, table: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`*${table}`);
  return lines.slice(start + 1, lines.indexOf('COMMIT', start));
}

function rulesOf(text: string, table: string, chainPrefix: string): string[] {
  return tableOf(text, table).filter((l) => l.startsWith(`-A ${chainPrefix}`));
}

t.test('even load balancing: probability 1/n, 1/(n-1), …, last unconditional', async (t) => {
  const cases: [number, string[]][] = [
    [1, []],
    [2, ['0.5000000000']],
    [3, ['0.3333333333', '0.5000000000']],
    [4, ['0.2500000000', '0.3333333333', '0.5000000000']],
  ];
  for (const [n, probs] of cases) {
    const eps = Array.from({ length: n }, (_, i) => ({ ip: `10.244.1.${i + 2}` }));
    const text = renderServiceRules([web], { 'demo/web': eps });
    const svc = rulesOf(text, 'nat', 'AMBIT-SVC-');
    t.equal(svc.length, n, `${n} endpoints → ${n} SVC rules`);
    t.same(svc.map((r) => /--probability (\S+)/.exec(r)?.[1]).filter(Boolean), probs, `${n} endpoints`);
    t.notMatch(svc[n - 1]!, /statistic/, 'last one catches the rest');
  }
});

t.test('per-endpoint chain: hairpin mark then DNAT to the resolved port', async (t) => {
  const text = renderServiceRules([web], { 'demo/web': [{ ip: '10.244.1.5' }] });
  const sep = rulesOf(text, 'nat', 'AMBIT-SEP-');
  t.equal(sep.length, 2);
  t.match(sep[0]!, /^-A AMBIT-SEP-[0-9A-F]{16} -s 10\.244\.1\.5\/32 -j AMBIT-MARK-MASQ$/);
  t.match(sep[1]!, /-p tcp -m tcp -j DNAT --to-destination 10\.244\.1\.5:8080$/);
  const nat = tableOf(text, 'nat');
  t.ok(nat.includes('-A AMBIT-MARK-MASQ -j MARK --or-mark 0x4000'));
  t.ok(nat.includes('-A AMBIT-POSTROUTING -m mark ! --mark 0x4000/0x4000 -j RETURN'));
  t.ok(nat.some((l) => l.startsWith('-A AMBIT-POSTROUTING') && l.endsWith('-j MASQUERADE')));
  t.ok(nat.some((l) => /^-A AMBIT-SERVICES -d 10\.96\.0\.20\/32 -p tcp -m tcp --dport 80 .*-j AMBIT-SVC-/.test(l)));
  t.same(tableOf(text, 'filter').filter((l) => l.startsWith('-A ')), [], 'no REJECT when there are endpoints');
});

t.test('jumps from built-in chains, only when missing', async (t) => {
  const fresh = renderServiceRules([web], {});
  for (const c of ['PREROUTING', 'OUTPUT', 'POSTROUTING']) t.ok(tableOf(fresh, 'nat').some((l) => l.startsWith(`-I ${c} 1 `)), `nat ${c}`);
  for (const c of ['FORWARD', 'OUTPUT']) t.ok(tableOf(fresh, 'filter').some((l) => l.startsWith(`-I ${c} 1 `)), `filter ${c}`);
  const existing = {
    chains: { nat: ['AMBIT-SERVICES'], filter: [] },
    jumps: ['nat/PREROUTING/AMBIT-SERVICES', 'nat/OUTPUT/AMBIT-SERVICES', 'nat/POSTROUTING/AMBIT-POSTROUTING', 'filter/FORWARD/AMBIT-SERVICES', 'filter/OUTPUT/AMBIT-SERVICES'],
  };
  const again = renderServiceRules([web], {}, { existing });
  t.notMatch(again, /^-I /m);
  t.notMatch(again, /^-[AID] (PREROUTING|OUTPUT|POSTROUTING|FORWARD|INPUT) /m, 'built-in chains untouched');
});

t.test('no endpoints: REJECT in filter, nothing in nat', async (t) => {
  const text = renderServiceRules([web], { 'demo/web': [] });
  t.same(rulesOf(text, 'nat', 'AMBIT-SVC-'), []);
  t.same(rulesOf(text, 'filter', 'AMBIT-SERVICES'), [
    '-A AMBIT-SERVICES -d 10.96.0.20/32 -p tcp -m tcp --dport 80 -m comment --comment "demo/web has no endpoints" -j REJECT --reject-with icmp-port-unreachable',
  ]);
});

t.test('stale chains are flushed and deleted in the same transaction', async (t) => {
  const existing = { chains: { nat: ['AMBIT-SERVICES', 'AMBIT-SVC-OLD', 'AMBIT-SEP-OLD', 'KUBE-SERVICES'], filter: ['AMBIT-SERVICES'] }, jumps: [] };
  const text = renderServiceRules([web], { 'demo/web': [{ ip: '10.244.1.5' }] }, { existing });
  const nat = tableOf(text, 'nat');
  t.ok(nat.includes(':AMBIT-SVC-OLD - [0:0]'));
  t.ok(nat.includes('-X AMBIT-SVC-OLD'));
  t.ok(nat.includes('-X AMBIT-SEP-OLD'));
  t.notOk(nat.some((l) => l.includes('KUBE-SERVICES')), 'other owners’ chains left alone');
  t.ok(nat.indexOf('-X AMBIT-SVC-OLD') > nat.findIndex((l) => l.startsWith('-A AMBIT-SERVICES')), 'deleted after the rules that referenced them are rebuilt');
});

t.test('UDP, named and multiple ports; endpoints matched by port name', async (t) => {
  const dns: ServiceSpec = {
    namespace: 'kube-system',
    name: 'kube-dns',
    clusterIP: '10.96.0.10',
    ports: [
      { name: 'dns', port: 53, protocol: 'UDP', targetPort: 53 },
      { name: 'dns-tcp', port: 53, protocol: 'TCP', targetPort: 53 },
      { name: 'metrics', port: 9153, targetPort: 9153 },
    ],
  };
  const eps: EndpointSpec[] = [
    { ip: '10.240.0.3', ports: [{ name: 'dns', port: 5353, protocol: 'UDP' }, { name: 'dns-tcp', port: 5353, protocol: 'TCP' }] },
  ];
  const ports = resolveServices([dns], { 'kube-system/kube-dns': eps });
  t.same(ports.map((p) => [p.portName, p.protocol, p.endpoints.map((e) => `${e.ip}:${e.port}`)]), [
    ['dns', 'UDP', ['10.240.0.3:5353']],
    ['dns-tcp', 'TCP', ['10.240.0.3:5353']],
    ['metrics', 'TCP', []],
  ]);
  t.not(ports[0]!.chain, ports[1]!.chain, 'one chain per protocol');
  const text = renderServiceRules([dns], new Map([['kube-system/kube-dns', eps]]));
  t.ok(rulesOf(text, 'nat', 'AMBIT-SEP-').some((r) => r.endsWith('-p udp -m udp -j DNAT --to-destination 10.240.0.3:5353')));
  t.ok(rulesOf(text, 'nat', 'AMBIT-SERVICES').some((r) => r.includes('-p udp -m udp --dport 53')));
  t.ok(rulesOf(text, 'filter', 'AMBIT-SERVICES').some((r) => r.includes('--dport 9153') && r.includes('REJECT')), 'metrics port has no endpoint');
});

t.test('headless services get nothing; output is deterministic', async (t) => {
  const headless = { ...web, name: 'h', clusterIP: 'None' };
  t.same(resolveServices([headless], { 'demo/h': [{ ip: '10.244.1.2' }] }), []);
  const a = renderServiceRules([web], { 'demo/web': [{ ip: '10.244.2.9' }, { ip: '10.244.1.10' }, { ip: '10.244.1.9' }] });
  const b = renderServiceRules([web], { 'demo/web': [{ ip: '10.244.1.9' }, { ip: '10.244.2.9' }, { ip: '10.244.1.10' }, { ip: '10.244.1.9' }] });
  t.equal(a, b, 'order-independent, duplicates dropped');
  t.match(rulesOf(a, 'nat', 'AMBIT-SVC-')[0]!, /10\.244\.1\.9:8080/, 'sorted numerically');
  const masq = renderServiceRules([web], { 'demo/web': [{ ip: '10.244.1.9' }] }, { clusterCIDR: '10.244.0.0/16' });
  t.ok(rulesOf(masq, 'nat', 'AMBIT-SVC-').some((r) => r.startsWith('-A AMBIT-SVC-') && r.includes('! -s 10.244.0.0/16') && r.endsWith('-j AMBIT-MARK-MASQ')));
});

t.test('validation names the object and the field', async (t) => {
  t.same(validateService(web), []);
  const table: [Partial<ServiceSpec>, RegExp][] = [
    [{ clusterIP: '10.96.0.300' }, /Service demo\/web: spec.clusterIP "10.96.0.300" is not an IPv4 address/],
    [{ ports: [{ port: 0, targetPort: 80 }] }, /spec.ports\[0\].port: 0 is not a port number/],
    [{ ports: [{ port: 80, targetPort: 70000 }] }, /spec.ports\[0\].targetPort: 70000/],
    [{ ports: [{ port: 80, targetPort: 80, protocol: 'SCTP' as 'TCP' }] }, /spec.ports\[0\].protocol: SCTP is not supported/],
    [{ ports: [{ port: 80, targetPort: 80 }, { port: 81, targetPort: 81 }] }, /spec.ports\[1\].name: required when a Service has more than one port/],
    [{ name: 'Web' }, /metadata.name/],
  ];
  for (const [patch, re] of table) t.match(validateService({ ...web, ...patch }).join('\n'), re);
  t.throws(() => renderServiceRules([web], { 'demo/web': [{ ip: 'nope' }] }), /Endpoints demo\/web: endpoints\[0\].ip: "nope"/);
});
