import t from 'tap';
import type { Deployment, Service } from '../../lib/k8s/types.js';
import { classify } from './classify.js';
import { renderDeployment, renderService } from './render.js';
import { gatewayStatus, type GatewayStatus } from './status.js';
import { RENDER, gateway, readyDeployment, withClusterIp, type GatewayParts } from './testkit.js';

const HBONE = [{ name: 'mesh', port: 15008, protocol: 'HBONE' as const }];

t.test('classify: which Gateways are waypoints, and which field is wrong', async (t) => {
  const table: Array<[string, GatewayParts, string]> = [
    ['the generated waypoint', {}, 'waypoint'],
    ['waypoint-for workload', { labels: { 'istio.io/waypoint-for': 'workload' } }, 'waypoint'],
    ['waypoint-for none', { labels: { 'istio.io/waypoint-for': 'none' } }, 'waypoint'],
    ['unknown traffic type', { labels: { 'istio.io/waypoint-for': 'services' } }, "InvalidParameters metadata.labels['istio.io/waypoint-for']"],
    ['no listener', { listeners: [] }, 'ListenersNotValid spec.listeners'],
    ['HTTP listener', { listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }, 'ListenersNotValid spec.listeners'],
    ['HBONE on the wrong port', { listeners: [{ name: 'mesh', port: 15009, protocol: 'HBONE' }] }, 'ListenersNotValid spec.listeners'],
    ['a second listener', { listeners: [...HBONE, { name: 'http', port: 80, protocol: 'HTTP' }] }, 'ListenersNotValid spec.listeners'],
    ['named none', { name: 'none' }, 'InvalidParameters metadata.name'],
    ['HBONE listener, wrong class', { className: 'istio' }, 'InvalidParameters spec.gatewayClassName'],
    ['waypoint-for label, no class', { className: '', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }], labels: { 'istio.io/waypoint-for': 'service' } }, 'InvalidParameters spec.gatewayClassName'],
    ['an ingress gateway of another class', { className: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }, 'ignore'],
    ['another controller already gave it an address', { className: 'istio', status: { addresses: [{ type: 'IPAddress', value: '10.96.0.9' }] } }, 'ignore'],
  ];
  for (const [what, parts, want] of table) {
    const c = classify(gateway(parts));
    t.equal(c.kind === 'invalid' ? `${c.refusal.reason} ${c.refusal.field}` : c.kind, want, what);
  }
  const c = classify(gateway({ listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] }));
  t.match(c, { refusal: { message: 'spec.listeners: expected a single listener on port 15008 with protocol "HBONE" (found: http (port 80, protocol HTTP))' } });
  t.match(classify(gateway({ className: 'istio' })), { refusal: { message: /spec\.gatewayClassName is "istio".*set spec\.gatewayClassName: istio-waypoint/ } });
});

const gw = gateway();
const dep = renderDeployment(gw.metadata, RENDER);
const svc = renderService(gw.metadata, HBONE);
const IP = '10.96.0.40';
const HOST = 'waypoint.demo.svc.cluster.local';
const BOTH = [{ type: 'IPAddress', value: IP }, { type: 'Hostname', value: HOST }];

interface Row {
  what: string;
  gw?: GatewayParts;
  deployment?: Deployment;
  service?: Service;
  conflict?: string;
  want: { accepted: string; programmed: string; addresses: unknown[]; message?: RegExp };
}

t.test('gatewayStatus', async (t) => {
  const rows: Row[] = [
    { what: 'just applied: nothing deployed yet', want: { accepted: 'True Accepted', programmed: 'False Pending', addresses: [], message: /waiting for Service demo\/waypoint and Deployment demo\/waypoint to be created/ } },
    { what: 'Service without a cluster IP', deployment: dep, service: svc, want: { accepted: 'True Accepted', programmed: 'False AddressNotAssigned', addresses: [] } },
    { what: 'no ready replica', deployment: readyDeployment(dep, 0), service: withClusterIp(svc, IP), want: { accepted: 'True Accepted', programmed: 'False NoResources', addresses: [], message: /0 of 1 replicas ready/ } },
    { what: 'ready: programmed, both addresses', deployment: readyDeployment(dep, 1), service: withClusterIp(svc, IP), want: { accepted: 'True Accepted', programmed: 'True Programmed', addresses: BOTH, message: /assigned to service\(s\) waypoint\.demo\.svc\.cluster\.local:15008/ } },
    {
      what: 'was ready, pod restarting: the address stays',
      gw: { status: { addresses: BOTH } },
      deployment: readyDeployment(dep, 0),
      service: withClusterIp(svc, IP),
      want: { accepted: 'True Accepted', programmed: 'False NoResources', addresses: BOTH },
    },
    { what: 'was ready, Service gone: the address goes', gw: { status: { addresses: BOTH } }, deployment: readyDeployment(dep, 1), want: { accepted: 'True Accepted', programmed: 'False Pending', addresses: [] } },
    { what: 'a Deployment of the same name that is not ours', conflict: 'Deployment demo/waypoint', service: withClusterIp(svc, IP), want: { accepted: 'True Accepted', programmed: 'False Invalid', addresses: [], message: /Deployment demo\/waypoint already exists .*delete it or rename the Gateway/ } },
    { what: 'bad listener', gw: { listeners: [] }, want: { accepted: 'False ListenersNotValid', programmed: 'False Invalid', addresses: [], message: /fix spec\.listeners first/ } },
    { what: 'bad traffic type', gw: { labels: { 'istio.io/waypoint-for': 'pods' } }, want: { accepted: 'False InvalidParameters', programmed: 'False Invalid', addresses: [] } },
  ];
  for (const r of rows) {
    const g = gateway(r.gw);
    const s = gatewayStatus({ gateway: g, classification: classify(g), ...(r.deployment ? { deployment: r.deployment } : {}), ...(r.service ? { service: r.service } : {}), ...(r.conflict ? { conflict: r.conflict } : {}), domainSuffix: 'cluster.local' }) as GatewayStatus;
    const byType = (type: string) => s.conditions.find((c) => c.type === type);
    t.equal(`${byType('Accepted')?.status} ${byType('Accepted')?.reason}`, r.want.accepted, `${r.what}: Accepted`);
    t.equal(`${byType('Programmed')?.status} ${byType('Programmed')?.reason}`, r.want.programmed, `${r.what}: Programmed`);
    t.same(s.addresses, r.want.addresses, `${r.what}: addresses`);
    if (r.want.message) t.match(byType('Programmed')?.message, r.want.message, `${r.what}: message`);
  }
  const other = gateway({ className: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] });
  t.equal(gatewayStatus({ gateway: other, classification: classify(other), domainSuffix: 'cluster.local' }), undefined, 'other Gateways get no status from us');
});
