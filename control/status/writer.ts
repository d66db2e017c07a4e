// Writes the model's conditions back to the objects (AuthorizationPolicy / PeerAuthentication
// `ZtunnelAccepted`, Service `istio.io/WaypointBound`) with merge patches, one object at a time and
// only when something changed; an object whose condition no longer applies loses it.
import type { Logger } from '../../lib/telemetry/log.js';
import { StoreError, type ClusterStore, type Kind, type KubeObject } from '../../lib/store/types.js';
import type { ObjectStatus } from '../model/types.js';
import type { Informer } from '../xds/informer.js';
import { currentConditions, reconcileConditions } from './conditions.js';

export interface StatusTarget {
  kind: Kind;
  informer: Informer;
  /** Condition types this writer owns on that kind. */
  owned: string[];
}

function timestamp(): string {
  return new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export class StatusWriter {
  private readonly pending = new Map<string, { target: StatusTarget; desired: ObjectStatus | undefined; key: string }>();
  private running: Promise<void> | undefined;
  private closed = false;
  /** Patches written, for tests and metrics. */
  writes = 0;

  constructor(
    private readonly store: ClusterStore,
    private readonly targets: ReadonlyMap<string, StatusTarget>,
    private readonly log: Logger,
  ) {}

  /**
   * Brings every object of the targeted kinds to `statuses` (by kind): objects listed get their
   * conditions, objects not listed lose the owned ones.
   */
  sync(statuses: Iterable<ObjectStatus>): void {
    if (this.closed) return;
    const byObject = new Map<string, ObjectStatus>();
    for (const s of statuses) byObject.set(`${s.kind}/${s.namespace}/${s.name}`, s);
    for (const [kindName, target] of this.targets) {
      for (const [key, obj] of target.informer.items) {
        const id = `${kindName}/${key}`;
        const desired = byObject.get(id);
        if (this.needsWrite(target, obj, desired)) this.pending.set(id, { target, desired, key });
      }
    }
    this.kick();
  }

  private needsWrite(target: StatusTarget, obj: KubeObject, desired: ObjectStatus | undefined): boolean {
    const current = currentConditions(obj.status);
    return reconcileConditions(current, desired?.conditions ?? [], target.owned, timestamp(), generationOf(obj)) !== undefined;
  }

  private kick(): void {
    if (this.running || this.pending.size === 0) return;
    this.running = this.drain().finally(() => {
      this.running = undefined;
      this.kick();
    });
  }

  private async drain(): Promise<void> {
    while (this.pending.size > 0 && !this.closed) {
      const [id, job] = this.pending.entries().next().value as [string, { target: StatusTarget; desired: ObjectStatus | undefined; key: string }];
      this.pending.delete(id);
      await this.write(id, job.target, job.key, job.desired);
    }
  }

  private async write(id: string, target: StatusTarget, key: string, desired: ObjectStatus | undefined): Promise<void> {
    // Read the latest copy: the informer may have seen newer changes since sync().
    const obj = target.informer.items.get(key);
    if (!obj) return;
    const conditions = reconcileConditions(currentConditions(obj.status), desired?.conditions ?? [], target.owned, timestamp(), generationOf(obj));
    if (!conditions) return;
    const { namespace, name } = obj.metadata;
    try {
      await this.store.patch({ ...target.kind, ...(namespace ? { namespace } : {}), name }, { status: { conditions } });
      this.writes++;
      this.log.debug({ object: id, conditions: conditions.map((c) => `${c.type}=${c.status}`) }, 'status written');
    } catch (err) {
      if (err instanceof StoreError && err.code === 'NotFound') return;
      this.log.warn({ object: id, err: (err as Error).message }, 'writing status failed; it is retried on the next model change');
    }
  }

  /** Resolves once no write is pending (tests). */
  async idle(): Promise<void> {
    while (this.running) await this.running;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pending.clear();
    await this.idle();
  }
}

function generationOf(o: KubeObject): number | undefined {
  return typeof o.metadata.generation === 'number' ? o.metadata.generation : undefined;
}
