import t from 'tap';
import type { KubeObject } from '../../lib/store/types.js';
import type { Service } from '../../lib/k8s/types.js';
import { orphans, planObject } from './plan.js';
import { renderDeployment, renderService, renderServiceAccount } from './render.js';
import { RENDER, gateway } from './testkit.js';

const gw = gateway();
const svc = renderService(gw.metadata, [{ name: 'mesh', port: 15008, protocol: 'HBONE' }]);
const stored = (o: KubeObject, extra: Partial<KubeObject> = {}): KubeObject => ({ ...structuredClone(o), ...extra, metadata: { ...structuredClone(o.metadata), uid: 'x', resourceVersion: '7', ...(extra.metadata ?? {}) } });

t.test('planObject', async (t) => {
  t.same(planObject(svc, undefined), { action: 'create', object: svc }, 'missing: created');
  t.same(planObject(svc, stored(svc)), { action: 'none' }, 'as rendered: nothing to do');
  const allocated = stored(svc, { spec: { ...svc.spec, clusterIP: '10.96.0.3', clusterIPs: ['10.96.0.3'] } });
  t.same(planObject(svc, allocated), { action: 'none' }, 'the cluster IP the cluster allocated is not a difference');
  const userLabel = stored(svc, { metadata: { ...svc.metadata, labels: { ...svc.metadata.labels, team: 'a' }, annotations: { note: 'x' } } });
  t.same(planObject(svc, userLabel), { action: 'none' }, 'labels and annotations others added are not a difference');

  const drifted = stored(allocated, { spec: { ...(allocated.spec as Service['spec']), ports: [{ name: 'x', port: 1 }] }, status: { loadBalancer: {} } });
  const p = planObject(svc, drifted);
  t.equal(p.action, 'update', 'a changed spec is put back');
  if (p.action === 'update') {
    t.same((p.object.spec as Service['spec']).ports, svc.spec.ports, 'with the rendered ports');
    t.equal((p.object.spec as Service['spec']).clusterIP, '10.96.0.3', 'keeping the cluster IP');
    t.same(p.object.status, { loadBalancer: {} }, 'and the status');
  }
  const theirs = stored(renderDeployment(gw.metadata, RENDER), { metadata: { name: 'waypoint', namespace: 'demo', labels: { app: 'mine' } } });
  t.same(planObject(renderDeployment(gw.metadata, RENDER), theirs), { action: 'conflict' }, 'an object without the managed label is never touched');
});

t.test('orphans', async (t) => {
  const sa = stored(renderServiceAccount(gw.metadata));
  const dep = stored(renderDeployment(gw.metadata, RENDER));
  const foreign: KubeObject = { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'app', namespace: 'demo', ownerReferences: [{ apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', name: 'waypoint', uid: 'gw-uid-1' }] } };
  const all = [sa, dep, stored(svc), foreign];
  const wanted = new Set(['ServiceAccount/demo/waypoint', 'Deployment/demo/waypoint', 'Service/demo/waypoint']);
  const names = (os: KubeObject[]) => os.map((o) => `${o.kind}/${o.metadata.name}`);
  t.same(names(orphans(all, new Map([['demo/waypoint', 'gw-uid-1']]), wanted)), [], 'the Gateway is there: nothing to delete');
  t.same(names(orphans(all, new Map(), new Set())), ['ServiceAccount/waypoint', 'Deployment/waypoint', 'Service/waypoint'], 'the Gateway is gone: its objects go, others stay');
  t.same(names(orphans(all, new Map([['demo/waypoint', 'gw-uid-2']]), wanted)), ['ServiceAccount/waypoint', 'Deployment/waypoint', 'Service/waypoint'], 'a new Gateway of the same name: the old objects go');
  t.same(names(orphans(all, new Map([['demo/waypoint', 'gw-uid-1']]), new Set())), ['ServiceAccount/waypoint', 'Deployment/waypoint', 'Service/waypoint'], 'the Gateway became invalid: no longer deployed');
  t.same(names(orphans(all, new Map([['other/waypoint', 'gw-uid-1']]), new Set())), ['ServiceAccount/waypoint', 'Deployment/waypoint', 'Service/waypoint'], 'a Gateway of that name in another namespace is not the owner');
});
