// The waypoint deployment controller: for every Gateway of class istio-waypoint it keeps the
// ServiceAccount, Deployment and Service of render.ts in the store, deletes them when the Gateway
// goes, and writes the Gateway's status (status.ts). One pass at a time over the informers' copies;
// any change during a pass schedules one more. Its own writes come back as events and end in a
// pass that finds nothing to do, so it settles.
import type { Logger } from '../../lib/telemetry/log.js';
import { StoreError, type ClusterStore, type KubeObject } from '../../lib/store/types.js';
import type { Deployment, Service } from '../../lib/k8s/types.js';
import { GATEWAY, gatewayAddresses } from '../../lib/k8s/gateway.js';
import { currentConditions, reconcileConditions } from '../status/conditions.js';
import type { Informer } from '../xds/informer.js';
import { classify, type Classification } from './classify.js';
import { OverlayError, applyOverlay, parametersRef, parseOverlays } from './overlay.js';
import { orphans, planObject } from './plan.js';
import { renderWaypoint, type RenderOptions } from './render.js';
import { GATEWAY_CONDITIONS, gatewayStatus } from './status.js';

export interface GatewayControllerOptions {
  store: ClusterStore;
  gateways: Informer;
  deployments: Informer;
  services: Informer;
  serviceAccounts: Informer;
  /** ConfigMaps named by `spec.infrastructure.parametersRef` (overlays). */
  configMaps: Informer;
  render: RenderOptions;
  domainSuffix: string;
  log: Logger;
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

const keyOf = (o: KubeObject): string => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
const describe = (o: KubeObject): string => `${o.kind} ${keyOf(o)}`;

export class GatewayController {
  private running: Promise<void> | undefined;
  private dirty = false;
  private closed = false;
  private readonly unsubscribe: Array<() => void> = [];
  /** Writes made (objects and statuses), for tests and logs. */
  writes = 0;

  constructor(private readonly o: GatewayControllerOptions) {}

  private get informers(): Record<'ServiceAccount' | 'Deployment' | 'Service', Informer> {
    return { ServiceAccount: this.o.serviceAccounts, Deployment: this.o.deployments, Service: this.o.services };
  }

  /** Starts reacting to changes; the informers must be started by their owner. */
  start(): this {
    for (const i of [this.o.gateways, this.o.configMaps, ...Object.values(this.informers)]) this.unsubscribe.push(i.on(() => this.kick()));
    this.kick();
    return this;
  }

  private kick(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.running) return;
    this.running = (async () => {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        try {
          await this.reconcile();
        } catch (err) {
          this.o.log.warn({ err: (err as Error).message }, 'waypoint reconcile failed; retrying on the next change');
        }
      }
    })().finally(() => (this.running = undefined));
  }

  private async reconcile(): Promise<void> {
    const gateways = [...this.o.gateways.items.values()];
    const uids = new Map(gateways.map((g) => [keyOf(g), g.metadata.uid]));
    const wanted = new Set<string>();
    for (const gw of gateways) {
      if (this.closed) return;
      let classification = classify(gw);
      let conflict: string | undefined;
      if (classification.kind === 'waypoint') {
        const rendered = this.render(gw, classification);
        if (!Array.isArray(rendered)) {
          // A bad overlay leaves what runs alone: the waypoint keeps serving while the status says why.
          for (const kind of Object.keys(this.informers)) wanted.add(`${kind}/${keyOf(gw)}`);
          classification = rendered;
        }
        for (const desired of Array.isArray(rendered) ? rendered : []) {
          wanted.add(`${desired.kind}/${keyOf(desired)}`);
          const informer = this.informers[desired.kind as keyof GatewayController['informers']];
          const ok = await this.write(desired, informer.items.get(keyOf(desired)));
          if (!ok) conflict ??= `${desired.kind} ${keyOf(desired)}`;
        }
      }
      const ns = gw.metadata.namespace ?? '';
      await this.writeStatus(gw, {
        gateway: gw,
        classification,
        ...(conflict ? { conflict } : {}),
        deployment: this.o.deployments.items.get(`${ns}/${gw.metadata.name}`) as Deployment | undefined,
        service: this.o.services.items.get(`${ns}/${gw.metadata.name}`) as Service | undefined,
        domainSuffix: this.o.domainSuffix,
      });
    }
    const managed = Object.values(this.informers).flatMap((i) => [...i.items.values()]);
    for (const o of orphans(managed, uids, wanted)) {
      if (this.closed) return;
      await this.o.store.delete({ apiVersion: o.apiVersion, kind: o.kind, namespace: o.metadata.namespace!, name: o.metadata.name });
      this.writes++;
      this.o.log.info({ object: describe(o) }, 'deleted: its waypoint Gateway is gone or no longer deployed');
    }
  }

  /** The objects for a waypoint with its overlays applied, or why the overlays cannot be used. */
  private render(gw: KubeObject, c: Extract<Classification, { kind: 'waypoint' }>): KubeObject[] | Extract<Classification, { kind: 'invalid' }> {
    const objects = renderWaypoint(gw.metadata, [c.listener], this.o.render);
    try {
      const ref = parametersRef(gw);
      if (!ref) return objects;
      const cm = this.o.configMaps.items.get(`${gw.metadata.namespace ?? ''}/${ref.name}`);
      if (!cm) throw new OverlayError('spec.infrastructure.parametersRef.name', `spec.infrastructure.parametersRef.name: ConfigMap ${gw.metadata.namespace ?? ''}/${ref.name} not found`);
      const overlays = parseOverlays(cm);
      return objects.map((o) => applyOverlay(o, overlays, ref.name));
    } catch (err) {
      if (!(err instanceof OverlayError)) throw err;
      return { kind: 'invalid', refusal: { reason: 'InvalidParameters', field: err.field, message: err.message } };
    }
  }

  /** False when the object exists and is not ours. */
  private async write(desired: KubeObject, current: KubeObject | undefined): Promise<boolean> {
    const plan = planObject(desired, current);
    try {
      if (plan.action === 'create') {
        await this.o.store.create(plan.object);
        this.o.log.info({ object: describe(desired) }, 'created for waypoint');
      } else if (plan.action === 'update') {
        await this.o.store.apply(plan.object);
        this.o.log.info({ object: describe(desired) }, 'updated for waypoint');
      } else return plan.action !== 'conflict';
      this.writes++;
    } catch (err) {
      // AlreadyExists: the informer has not seen it yet; its event brings another pass.
      if (!(err instanceof StoreError && err.code === 'AlreadyExists')) throw err;
    }
    return true;
  }

  private async writeStatus(gw: KubeObject, input: Parameters<typeof gatewayStatus>[0]): Promise<void> {
    const desired = gatewayStatus(input);
    if (!desired) return;
    const generation = typeof gw.metadata.generation === 'number' ? gw.metadata.generation : undefined;
    const conditions = reconcileConditions(currentConditions(gw.status), desired.conditions, GATEWAY_CONDITIONS, timestamp(), generation);
    const sameAddresses = JSON.stringify(gatewayAddresses(gw)) === JSON.stringify(desired.addresses);
    if (!conditions && sameAddresses) return;
    const status: Record<string, unknown> = { addresses: desired.addresses.length > 0 ? desired.addresses : null };
    if (conditions) status.conditions = conditions;
    try {
      await this.o.store.patch({ ...GATEWAY, namespace: gw.metadata.namespace!, name: gw.metadata.name }, { status });
      this.writes++;
      const programmed = desired.conditions.find((c) => c.type === 'Programmed');
      this.o.log.info({ gateway: keyOf(gw), programmed: programmed?.status, reason: programmed?.reason, addresses: desired.addresses.map((a) => a.value) }, 'waypoint status written');
    } catch (err) {
      if (!(err instanceof StoreError && err.code === 'NotFound')) throw err;
    }
  }

  /** Resolves once no pass is running or scheduled (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const u of this.unsubscribe.splice(0)) u();
    await this.idle();
  }
}
