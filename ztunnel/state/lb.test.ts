import t from 'tap';
import { serviceView, workloadView } from './convert.js';
import { eligibleEndpoints, localityRank, pickEndpoint, targetPort, weightedPick } from './lb.js';
import { seededRandom as seeded } from '../../lib/sys/testkit.js';
import { key, svc, wl, type SvcOpts, type WlOpts } from './testkit.js';
import type { EndpointView, LbScope, ServiceView, WorkloadView } from './types.js';

function w(name: string, o: WlOpts = {}): WorkloadView {
  const u = wl(name, o);
  if (u.address.type.case !== 'workload') throw new Error('fixture');
  return workloadView(u.name, u.address.type.value);
}

function s(name: string, o: SvcOpts = {}): ServiceView {
  const u = svc(name, o);
  if (u.address.type.case !== 'service') throw new Error('fixture');
  return serviceView(u.name, u.address.type.value);
}

const ep = (wv: WorkloadView, svcKey = key('web')): EndpointView => ({ workload: wv, ports: wv.services.get(svcKey) ?? new Map() });
const PORTS = { [key('web')]: [[80, 8080]] as Array<[number, number]> };

t.test('weightedPick follows the weights with a seeded random', async (t) => {
  const rand = seeded(42);
  const items = [{ n: 'a', w: 3 }, { n: 'b', w: 1 }, { n: 'zero', w: 0 }];
  const counts: Record<string, number> = { a: 0, b: 0, zero: 0 };
  for (let i = 0; i < 4000; i++) {
    const p = weightedPick(items, (x) => x.w, rand);
    if (p) counts[p.n] = (counts[p.n] ?? 0) + 1;
  }
  t.ok((counts.a ?? 0) > 2800 && (counts.a ?? 0) < 3200, `a ≈ 3/4 (${counts.a})`);
  t.equal(counts.zero, 0, 'capacity 0 is never chosen');
  t.equal(weightedPick([{ w: 0 }], (x) => x.w, rand), undefined, 'all zero → none');
  t.equal(weightedPick([], () => 1, rand), undefined);
  t.equal(weightedPick([{ w: 1 }, { w: 1 }], (x) => x.w, () => 0.9999999999)?.w, 1, 'top of range');
  // Same seed, same sequence: tests relying on a pick are reproducible.
  const r1 = seeded(7);
  const r2 = seeded(7);
  t.same([r1(), r1(), r1()], [r2(), r2(), r2()]);
});

t.test('pickEndpoint weights by capacity', async (t) => {
  const big = w('big', { ips: ['10.0.0.1'], capacity: 9, services: PORTS });
  const small = w('small', { ips: ['10.0.0.2'], services: PORTS });
  const rand = seeded(3);
  let n = 0;
  for (let i = 0; i < 1000; i++) if (pickEndpoint([ep(big), ep(small)], undefined, small, rand)?.workload.name === 'big') n++;
  t.ok(n > 860 && n < 940, `big ≈ 90% (${n}/1000)`);
});

t.test('eligibleEndpoints filters', async (t) => {
  const src = w('src', { ips: ['10.0.0.100'] });
  const rows: Array<[string, ServiceView, WlOpts, number, boolean]> = [
    ['healthy with IP', s('web'), { ips: ['10.0.0.1'], services: PORTS }, 80, true],
    ['unhealthy excluded', s('web'), { ips: ['10.0.0.1'], services: PORTS, unhealthy: true }, 80, false],
    ['unhealthy kept with ALLOW_ALL', s('web', { lb: { allowAll: true } }), { ips: ['10.0.0.1'], services: PORTS, unhealthy: true }, 80, true],
    ['port not on service', s('web'), { ips: ['10.0.0.1'], services: PORTS }, 81, false],
    ['named port without mapping', s('web', { ports: [[80, 0]] }), { ips: ['10.0.0.1'], services: { [key('web')]: [] } }, 80, false],
    ['named port with mapping', s('web', { ports: [[80, 0]] }), { ips: ['10.0.0.1'], services: PORTS }, 80, true],
    ['no address, same network', s('web'), { services: PORTS }, 80, false],
    ['no address, other network with gateway', s('web'), { services: PORTS, network: 'n2', networkGateway: { ip: '1.2.3.4' } }, 80, true],
    ['hostname only', s('web'), { hostname: 'db.example.com', services: PORTS }, 80, true],
  ];
  for (const [name, service, o, port, want] of rows) {
    t.equal(eligibleEndpoints(service, [ep(w('e', o))], src, port, 'standard').length === 1, want, name);
  }
  const wpSvc = s('waypoint', { ports: [[15021, 15021]] });
  t.equal(eligibleEndpoints(wpSvc, [ep(w('wp', { ips: ['10.0.0.9'] }), key('waypoint'))], src, 15008, 'waypoint').length, 0, 'waypoint mode: port must exist…');
  t.equal(eligibleEndpoints(wpSvc, [ep(w('wp', { ips: ['10.0.0.9'], appTunnelPort: 15088 }), key('waypoint'))], src, 15008, 'waypoint').length, 1, '…unless an application tunnel');
});

t.test('targetPort: endpoint mapping, else service target port', async (t) => {
  const e = ep(w('e', { ips: ['10.0.0.1'], services: { [key('web')]: [[80, 3000]] } }));
  t.equal(targetPort(s('web', { ports: [[80, 8080]] }), e, 80), 3000, 'endpoint wins');
  t.equal(targetPort(s('web', { ports: [[80, 8080], [90, 9090]] }), e, 90), 9090, 'service target port');
  t.equal(targetPort(s('web', { ports: [[90, 0]] }), e, 90), undefined, 'named port unmapped');
});

t.test('localityRank and STRICT/FAILOVER selection', async (t) => {
  const loc = (region: string, zone: string, subzone = ''): WlOpts['locality'] => ({ region, zone, subzone });
  const src = w('src', { ips: ['10.0.0.100'], locality: loc('r1', 'z1', 's1'), node: 'n1' });
  const rankRows: Array<[string, LbScope[], WlOpts, number, boolean]> = [
    ['all match', ['REGION', 'ZONE', 'SUBZONE'], { locality: loc('r1', 'z1', 's1') }, 3, true],
    ['zone differs', ['REGION', 'ZONE', 'SUBZONE'], { locality: loc('r1', 'z2', 's1') }, 1, false],
    ['region differs: stops', ['REGION', 'ZONE'], { locality: loc('r2', 'z1') }, 0, false],
    ['node', ['NODE'], { node: 'n1' }, 1, true],
    ['cluster', ['CLUSTER'], { cluster: 'other' }, 0, false],
    ['network first and matching dominates', ['NETWORK', 'REGION', 'ZONE'], { locality: loc('r2', 'z9') }, 3, false],
    ['network first, other network: the rest still count', ['NETWORK', 'REGION', 'ZONE'], { network: 'n2', locality: loc('r1', 'z1') }, 2, false],
  ];
  for (const [name, prefs, o, rank, all] of rankRows) t.same(localityRank(prefs, src, w('d', { node: 'n9', ...o })), { rank, all }, name);

  const near = w('near', { ips: ['10.0.0.1'], locality: loc('r1', 'z1'), services: PORTS });
  const far = w('far', { ips: ['10.0.0.2'], locality: loc('r1', 'z2'), services: PORTS });
  const lb = (mode: 'STRICT' | 'FAILOVER'): ServiceView['loadBalancing'] => ({ mode, routingPreference: ['REGION', 'ZONE'], healthPolicy: 'ONLY_HEALTHY' });
  const rand = seeded(9);
  for (let i = 0; i < 20; i++) t.equal(pickEndpoint([ep(near), ep(far)], lb('FAILOVER'), src, rand)?.workload.name, 'near', `FAILOVER prefers the closest (${i})`);
  t.equal(pickEndpoint([ep(far)], lb('FAILOVER'), src, rand)?.workload.name, 'far', 'FAILOVER falls over');
  t.equal(pickEndpoint([ep(far)], lb('STRICT'), src, rand), undefined, 'STRICT refuses a partial match');
  t.equal(pickEndpoint([ep(near), ep(far)], lb('STRICT'), src, rand)?.workload.name, 'near');
  const std = { mode: 'STANDARD' as const, routingPreference: ['ZONE' as const], healthPolicy: 'ONLY_HEALTHY' as const };
  const seen = new Set<string>();
  for (let i = 0; i < 50; i++) seen.add(pickEndpoint([ep(near), ep(far)], std, src, rand)?.workload.name ?? '');
  t.same([...seen].sort(), ['far', 'near'], 'STANDARD (UNSPECIFIED) mode ignores locality');
});
