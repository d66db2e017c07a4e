// Overlays from a parametersRef ConfigMap: parsing (errors name the ConfigMap and key), the merge
// (maps, null, named lists, plain lists) and what a patch may not change. Tables.
import t from 'tap';
import type { KubeObject } from '../../lib/store/types.js';
import { OverlayError, applyOverlay, parametersRef, parseOverlays, strategicMerge } from './overlay.js';
import { RENDER, gateway } from './testkit.js';
import { renderDeployment, renderService } from './render.js';

t.test('strategicMerge', async (t) => {
  const cases: Array<[string, Record<string, unknown>, Record<string, unknown>, Record<string, unknown>]> = [
    ['maps merge key by key', { a: { b: 1, c: 2 } }, { a: { c: 3, d: 4 } }, { a: { b: 1, c: 3, d: 4 } }],
    ['null removes', { a: 1, b: 2 }, { b: null }, { a: 1 }],
    ['named lists merge by name', { l: [{ name: 'x', v: 1 }, { name: 'y', v: 2 }] }, { l: [{ name: 'y', v: 3 }, { name: 'z' }] }, { l: [{ name: 'x', v: 1 }, { name: 'y', v: 3 }, { name: 'z' }] }],
    ['plain lists are replaced', { args: ['a', 'b'] }, { args: ['c'] }, { args: ['c'] }],
    ['a scalar replaces a map', { a: { b: 1 } }, { a: 5 }, { a: 5 }],
  ];
  for (const [what, base, patch, want] of cases) {
    const before = structuredClone(base);
    t.same(strategicMerge(base, patch), want, what);
    t.same(base, before, `${what}: base unchanged`);
  }
});

t.test('parametersRef', async (t) => {
  t.equal(parametersRef(gateway()), undefined);
  t.same(parametersRef(gateway({ parametersRef: { group: '', kind: 'ConfigMap', name: 'p' } })), { name: 'p' });
  t.same(parametersRef(gateway({ parametersRef: { kind: 'ConfigMap', name: 'p' } })), { name: 'p' }, 'group defaults to core');
  const bad: Array<[unknown, RegExp]> = [
    [{ group: 'gateway.networking.k8s.io', kind: 'GatewayParameters', name: 'p' }, /only a ConfigMap/],
    [{ kind: 'ConfigMap' }, /parametersRef\.name must name a ConfigMap/],
    ['p', /must be an object/],
  ];
  for (const [ref, msg] of bad) t.throws(() => parametersRef(gateway({ parametersRef: ref })), msg);
});

const cm = (data: Record<string, string>): KubeObject => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'p', namespace: 'demo' }, data } as KubeObject);

t.test('parseOverlays', async (t) => {
  t.same(parseOverlays(cm({ deployment: 'spec: {replicas: 2}', service: '' })), { deployment: { spec: { replicas: 2 } } });
  const bad: Array<[Record<string, string>, string, RegExp]> = [
    [{ horizontalPodAutoscaler: 'x: 1' }, 'data.horizontalPodAutoscaler', /ConfigMap demo\/p: data\.horizontalPodAutoscaler is not a key Ambit reads/],
    [{ deployment: 'spec: [' }, 'data.deployment', /ConfigMap demo\/p: data\.deployment is not valid YAML/],
    [{ service: '- a\n- b' }, 'data.service', /must be a YAML mapping \(a partial Service\)/],
  ];
  for (const [data, field, msg] of bad) {
    const err = t.throws(() => parseOverlays(cm(data)), msg) as OverlayError;
    t.equal(err.field, field);
  }
});

t.test('applyOverlay keeps what the controller owns', async (t) => {
  const gw = gateway().metadata;
  const dep = renderDeployment(gw, RENDER) as KubeObject;
  const patched = applyOverlay(dep, { deployment: { metadata: { labels: { team: 'a', 'gateway.istio.io/managed': 'me' } }, spec: { replicas: 4, template: { metadata: { labels: { 'istio.io/dataplane-mode': 'ambient', extra: 'y' } } } } } }, 'p');
  const spec = patched.spec as { replicas: number; template: { metadata: { labels: Record<string, string> } } };
  t.equal(spec.replicas, 4);
  t.equal(patched.metadata.labels?.team, 'a');
  t.equal(patched.metadata.labels?.['gateway.istio.io/managed'], 'istio.io-mesh-controller', 'managed label survives');
  t.equal(spec.template.metadata.labels['istio.io/dataplane-mode'], 'none', 'the waypoint is never captured');
  t.equal(spec.template.metadata.labels.extra, 'y');
  t.equal(applyOverlay(dep, {}, 'p'), dep, 'no patch: the same object');
  const svc = renderService(gw, [{ name: 'mesh', port: 15008, protocol: 'HBONE' }]) as KubeObject;
  t.match((applyOverlay(svc, { service: { spec: { type: 'LoadBalancer' } } }, 'p').spec as { type: string }).type, 'LoadBalancer');
  for (const [patch, field] of [
    [{ metadata: { name: 'other' } }, 'metadata.name'],
    [{ metadata: { namespace: 'x' } }, 'metadata.namespace'],
    [{ spec: { selector: { matchLabels: { a: 'b' } } } }, 'spec.selector'],
    [{ kind: 'DaemonSet' }, 'kind'],
  ] as const) {
    t.throws(() => applyOverlay(dep, { deployment: patch as Record<string, unknown> }, 'p'), new RegExp(`may not change ${field.replace('.', '\\.')} of the waypoint's Deployment`));
  }
});
