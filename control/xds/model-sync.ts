// Keeps the model in step with the cluster: informer events mark objects changed, a debounced
// commit rebuilds what they affect, and only the resources whose version changed are written to
// the xDS sources, so the server pushes exactly that. Problems are logged once each.
import type { Clock } from '../../lib/sys/clock.js';
import { Debouncer } from '../../lib/xds/debounce.js';
import { MemorySource, type SourceEntry } from '../../lib/xds/source.js';
import type { DebounceOptions } from '../../lib/xds/types.js';
import type { Kind } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { IncrementalModel, type EncodedResource, type ModelChanges, type ModelKind } from '../model/incremental.js';
import { L7_RESOURCE_TYPES, L7_TYPE_URLS, type L7ResourceType } from '../model/l7/resources.js';
import type { FullModelOptions, Problem } from '../model/types.js';
import { objectKey, onlyStatusChanged, type Informer } from './informer.js';

/** The store kinds the model reads, by snapshot field. */
export const MODEL_KINDS: Readonly<Record<ModelKind, Kind>> = {
  namespaces: { apiVersion: 'v1', kind: 'Namespace' },
  pods: { apiVersion: 'v1', kind: 'Pod' },
  services: { apiVersion: 'v1', kind: 'Service' },
  serviceAccounts: { apiVersion: 'v1', kind: 'ServiceAccount' },
  gateways: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' },
  authorizationPolicies: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy' },
  peerAuthentications: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication' },
  nodes: { apiVersion: 'v1', kind: 'Node' },
  httpRoutes: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  grpcRoutes: { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' },
  virtualServices: { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService' },
  destinationRules: { apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule' },
  rateLimitPolicies: { apiVersion: 'ratelimit.ambit.dev/v1alpha1', kind: 'RateLimitPolicy' },
};

/** Kinds whose `status` the model reads; for the others a status-only change is not a change. */
const STATUS_READ: ReadonlySet<ModelKind> = new Set<ModelKind>(['pods', 'gateways']);

export interface CommitInfo {
  changes: ModelChanges;
  /** Time spent rebuilding and encoding. */
  ms: number;
}

export interface ModelSyncOptions {
  informers: ReadonlyMap<ModelKind, Informer>;
  model?: FullModelOptions;
  debounce: DebounceOptions;
  /** Times the debounce; tests step a ManualClock instead of sleeping. */
  clock?: Clock;
  logger: Logger;
  onCommit?: (info: CommitInfo) => void;
}

const problemKey = (p: Problem): string => `${p.object}\u0000${p.field}\u0000${p.message}`;
const entry = (r: EncodedResource): SourceEntry => ({ resource: r.bytes, version: r.version });

export class ModelSync {
  readonly addresses = new MemorySource();
  readonly authorizations = new MemorySource();
  /** The waypoints' resources, one source per L7 type. */
  readonly l7 = Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [t, new MemorySource()])) as Record<L7ResourceType, MemorySource>;
  readonly model: IncrementalModel;
  private readonly debouncer: Debouncer;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly logged = new Set<string>();
  private initialized = false;
  private closed = false;
  commits = 0;

  constructor(private readonly opts: ModelSyncOptions) {
    this.model = new IncrementalModel(opts.model);
    this.debouncer = new Debouncer(opts.debounce, () => this.commit(), opts.clock);
    for (const [kind, informer] of opts.informers) {
      this.unsubscribe.push(
        informer.on((ev) => {
          if (ev.type === 'MODIFIED' && ev.old && !STATUS_READ.has(kind) && onlyStatusChanged(ev.old, ev.object)) return;
          this.model.set(kind, objectKey(ev.object), ev.type === 'DELETED' ? undefined : ev.object);
          if (this.initialized) this.debouncer.add();
        }),
      );
    }
  }

  /** Builds the first model from the informers' contents (call once they have synced). */
  initialize(): void {
    for (const [kind, informer] of this.opts.informers) for (const [key, o] of informer.items) this.model.set(kind, key, o);
    this.initialized = true;
    this.commit();
  }

  /** Rebuilds now what changed; the debounce calls this. */
  commit(): void {
    if (this.closed || !this.model.dirty) return;
    const started = performance.now();
    let changes: ModelChanges;
    try {
      changes = this.model.commit();
    } catch (err) {
      // A model bug must not take the control plane down: keep serving the last good resources.
      this.opts.logger.error({ err: (err as Error).stack }, 'rebuilding the model failed; keeping the last pushed resources');
      return;
    }
    // Policies first: a workload may name a policy that is new in the same change.
    this.authorizations.update(
      changes.authorizations.upserts.map((n) => [n, entry(this.model.authorization(n)!)] as const),
      changes.authorizations.removals,
    );
    this.addresses.update(
      changes.addresses.upserts.map((n) => [n, entry(this.model.address(n)!)] as const),
      changes.addresses.removals,
    );
    for (const type of L7_RESOURCE_TYPES) {
      const diff = changes.l7[type];
      this.l7[type].update(diff.upserts.map((n) => [n, entry(this.model.l7Resource(type, n)!)] as const), diff.removals);
    }
    const ms = performance.now() - started;
    this.commits++;
    this.logProblems();
    const c = changes;
    this.opts.logger.debug(
      { ms: Math.round(ms * 10) / 10, context: c.contextRebuilt, pods: c.podsRebuilt, addresses: `+${c.addresses.upserts.length} -${c.addresses.removals.length}`, authorizations: `+${c.authorizations.upserts.length} -${c.authorizations.removals.length}` },
      'model rebuilt',
    );
    this.opts.onCommit?.({ changes, ms });
  }

  private logProblems(): void {
    const now = new Set<string>();
    for (const p of this.model.problems) {
      const k = problemKey(p);
      now.add(k);
      if (!this.logged.has(k)) this.opts.logger.warn({ object: p.object, field: p.field, problem: p.message }, `${p.object}: ${p.field}: ${p.message}; the object (or this part of it) is ignored`);
    }
    for (const k of this.logged) if (!now.has(k)) this.logged.delete(k);
    for (const k of now) this.logged.add(k);
  }

  /** The L7 sources by type URL, for the xDS server (waypoints subscribe to them; ztunnel does not). */
  l7Sources(): Record<string, MemorySource> {
    return Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [L7_TYPE_URLS[t], this.l7[t]]));
  }

  close(): void {
    this.closed = true;
    this.debouncer.cancel();
    for (const u of this.unsubscribe) u();
  }
}
