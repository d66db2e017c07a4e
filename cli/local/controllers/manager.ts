// The control loops of the local cluster (what kube-controller-manager and the scheduler do):
// Deployments → Pods, scheduling, Service VIPs, Endpoints, and garbage collection of orphan pods.
import type { Logger } from '../../../lib/telemetry/log.js';
import type { ClusterStore, KubeObject } from '../../../lib/store/types.js';
import { DEPLOYMENT, ENDPOINTS, NODE, POD, SERVICE, type Deployment, type Endpoints, type Pod, type Service } from '../../../lib/k8s/types.js';
import { Informer, debounced } from './informer.js';
import { planDeployment, validateDeployment } from './deployments.js';
import { schedule, type NodeInfo } from './scheduler.js';
import { buildEndpoints } from './endpoints.js';
import { allocateVip } from './vip.js';

/** Problems in a Service that make it unusable, each naming the field. */
export function validateService(svc: Service): string[] {
  const errs: string[] = [];
  (svc.spec?.ports ?? []).forEach((p, i) => {
    if (!Number.isInteger(p.port) || p.port < 1 || p.port > 65535) errs.push(`spec.ports[${i}].port: ${JSON.stringify(p.port)} is not a port number (1-65535)`);
    if (typeof p.targetPort === 'number' && (p.targetPort < 1 || p.targetPort > 65535)) errs.push(`spec.ports[${i}].targetPort: ${p.targetPort} is not a port number`);
    if (p.protocol && !['TCP', 'UDP', 'SCTP'].includes(p.protocol)) errs.push(`spec.ports[${i}].protocol: ${p.protocol} is not TCP, UDP or SCTP`);
  });
  return errs;
}

export class ControllerManager {
  private readonly deployments: Informer<Deployment>;
  private readonly pods: Informer<Pod>;
  private readonly services: Informer<Service>;
  private readonly endpoints: Informer<Endpoints>;
  private readonly nodes: Informer<KubeObject>;
  private readonly loop;
  private readonly reported = new Map<string, string>();
  /**
   * Writes whose watch events have not arrived yet ("expectations", as in kube-controller-manager):
   * without them a second pass could create the same replicas twice or re-allocate a VIP.
   */
  private readonly expectCreated = new Map<string, Pod>();
  private readonly expectDeleted = new Set<string>();
  private readonly allocated = new Map<string, string>();

  constructor(
    private readonly store: ClusterStore,
    private readonly log: Logger,
  ) {
    const kick = () => this.loop.trigger();
    this.deployments = new Informer<Deployment>(store, DEPLOYMENT, kick);
    this.pods = new Informer<Pod>(store, POD, (type, p) => {
      const k = `${p.metadata.namespace}/${p.metadata.name}`;
      if (type === 'DELETED') this.expectDeleted.delete(k);
      else this.expectCreated.delete(k);
      kick();
    });
    this.services = new Informer<Service>(store, SERVICE, kick);
    this.endpoints = new Informer<Endpoints>(store, ENDPOINTS, kick);
    this.nodes = new Informer<KubeObject>(store, NODE, kick);
    this.loop = debounced(() => this.reconcile(), 15, (e) => this.log.error({ err: e }, 'reconcile failed'));
  }

  start(): void {
    for (const i of [this.nodes, this.deployments, this.pods, this.services, this.endpoints]) i.start();
    this.loop.trigger();
  }

  /** Waits until no reconcile is pending (tests). */
  idle(): Promise<void> {
    return this.loop.idle();
  }

  close(): void {
    this.loop.cancel();
    for (const i of [this.nodes, this.deployments, this.pods, this.services, this.endpoints]) i.close();
  }

  /** Logs a problem with an object once per distinct message. */
  private report(obj: KubeObject, errs: string[]): void {
    const id = `${obj.kind} ${obj.metadata.namespace ? obj.metadata.namespace + '/' : ''}${obj.metadata.name}`;
    const msg = errs.join('; ');
    if (this.reported.get(id) === msg) return;
    this.reported.set(id, msg);
    if (errs.length) this.log.error({ object: id, errors: errs }, `${id} is invalid: ${msg}`);
  }

  private async reconcile(): Promise<void> {
    await this.reconcileDeployments();
    await this.collectOrphans();
    await this.schedulePods();
    await this.reconcileServices();
  }

  private async reconcileDeployments(): Promise<void> {
    const pods = [...this.pods.list(), ...this.expectCreated.values()].filter((p) => !this.expectDeleted.has(`${p.metadata.namespace}/${p.metadata.name}`));
    for (const dep of this.deployments.list()) {
      const errs = validateDeployment(dep);
      this.report(dep, errs);
      if (errs.length) continue;
      const plan = planDeployment(dep, pods.filter((p) => p.metadata.namespace === dep.metadata.namespace));
      for (const p of plan.create) {
        this.expectCreated.set(`${p.metadata.namespace}/${p.metadata.name}`, p);
        await this.store.create(p).catch((err: unknown) => {
          this.expectCreated.delete(`${p.metadata.namespace}/${p.metadata.name}`);
          throw err;
        });
      }
      for (const name of plan.delete) {
        this.expectDeleted.add(`${dep.metadata.namespace}/${name}`);
        await this.store.delete({ ...POD, namespace: dep.metadata.namespace, name });
      }
      if (JSON.stringify(dep.status ?? {}) !== JSON.stringify(plan.status)) {
        await this.store.patch({ ...DEPLOYMENT, namespace: dep.metadata.namespace, name: dep.metadata.name }, { status: plan.status }).catch(() => undefined);
      }
    }
  }

  private async collectOrphans(): Promise<void> {
    for (const p of this.pods.list()) {
      const owner = p.metadata.ownerReferences?.find((r) => r.controller && r.kind === 'Deployment');
      if (!owner) continue;
      const dep = this.deployments.get(p.metadata.namespace, owner.name);
      if (!dep || (dep.metadata.uid && dep.metadata.uid !== owner.uid)) {
        await this.store.delete({ ...POD, namespace: p.metadata.namespace, name: p.metadata.name });
      }
    }
  }

  private async schedulePods(): Promise<void> {
    const nodes: NodeInfo[] = this.nodes.list().map((n) => ({ name: n.metadata.name, labels: n.metadata.labels ?? {} }));
    if (nodes.length === 0) return;
    const counts = new Map<string, number>();
    for (const p of this.pods.list()) if (p.spec.nodeName) counts.set(p.spec.nodeName, (counts.get(p.spec.nodeName) ?? 0) + 1);
    for (const p of this.pods.list()) {
      if (p.spec.nodeName) continue;
      const r = schedule(p, nodes, counts);
      if (typeof r !== 'string') {
        this.report(p, [r.error]);
        continue;
      }
      counts.set(r, (counts.get(r) ?? 0) + 1);
      await this.store.patch({ ...POD, namespace: p.metadata.namespace, name: p.metadata.name }, { spec: { nodeName: r } }).catch(() => undefined);
    }
  }

  private async reconcileServices(): Promise<void> {
    const used = new Set([...this.allocated.values(), ...this.services.list().map((s) => s.spec?.clusterIP).filter((ip): ip is string => !!ip && ip !== 'None')]);
    const pods = this.pods.list();
    for (const svc of this.services.list()) {
      const errs = validateService(svc);
      this.report(svc, errs);
      if (errs.length) continue;
      const key = { ...SERVICE, namespace: svc.metadata.namespace, name: svc.metadata.name };
      const id = `${svc.metadata.namespace}/${svc.metadata.name}/${svc.metadata.uid ?? ''}`;
      if (svc.spec.clusterIP) this.allocated.delete(id);
      else if (!this.allocated.has(id)) {
        const vip = allocateVip(undefined, used);
        if (typeof vip !== 'string') {
          this.report(svc, [vip.error]);
          continue;
        }
        used.add(vip);
        this.allocated.set(id, vip);
        await this.store.patch(key, { spec: { clusterIP: vip, clusterIPs: [vip], type: svc.spec.type ?? 'ClusterIP' } }).catch(() => undefined);
      }
      if (!svc.spec.selector || Object.keys(svc.spec.selector).length === 0) continue; // endpoints managed by hand
      const subsets = buildEndpoints(svc, pods);
      const current = this.endpoints.get(svc.metadata.namespace, svc.metadata.name);
      if (current && JSON.stringify(current.subsets ?? []) === JSON.stringify(subsets)) continue;
      await this.store.apply<Endpoints>({ ...ENDPOINTS, metadata: { name: svc.metadata.name, namespace: svc.metadata.namespace, labels: svc.metadata.labels ?? {} }, subsets });
    }
    for (const ep of this.endpoints.list()) {
      if (!this.services.get(ep.metadata.namespace, ep.metadata.name)) {
        await this.store.delete({ ...ENDPOINTS, namespace: ep.metadata.namespace, name: ep.metadata.name });
      }
    }
  }
}
