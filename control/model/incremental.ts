/**
 * The model kept up to date object by object, for a control plane that watches the cluster. A Pod
 * change rebuilds that Pod's workload only. A change of a kind workloads are built against rebuilds
 * the context (cheap: no Pods in it) and the workloads it can affect: those of its namespace for a
 * Namespace, Service or policy; all of them for anything in the root namespace or when the
 * waypoints or node localities came out different (waypoints bind across namespaces). Only
 * resources whose content changed are re-encoded.
 * The results equal `buildModel` of the same objects (a test checks it), with the same versions.
 */
import { createHash } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import { AuthorizationSchema } from '../../lib/proto/gen/istio/security/authorization_pb.js';
import { AddressSchema } from '../../lib/proto/gen/istio/workload/workload_pb.js';
import type { KubeObject } from '../../lib/store/types.js';
import { buildContext, type ModelContext, type ResourceDiff } from './index.js';
import { Problems } from './objects.js';
import { authorizationToProto, serviceToProto, workloadToProto } from './to-proto.js';
import { resolveOptions, type AuthorizationModel, type FullModelOptions, type ModelSnapshot, type ObjectStatus, type Problem, type ServiceModel, type WorkloadModel } from './types.js';
import { buildWorkloads } from './workloads.js';
import { encodeL7, L7_RESOURCE_TYPES, l7Maps, type L7ResourceType } from './l7/resources.js';
import type { L7ObjectStatus } from './l7/types.js';

export type ModelKind = keyof ModelSnapshot;

/**
 * Kinds whose objects feed the context workloads are built against, and how far a change reaches
 * directly: its namespace, or nothing beyond what the waypoint / locality comparison finds.
 */
const CONTEXT_KINDS: ReadonlyMap<ModelKind, 'namespace' | 'derived'> = new Map<ModelKind, 'namespace' | 'derived'>([
  ['namespaces', 'namespace'],
  ['services', 'namespace'],
  ['authorizationPolicies', 'namespace'],
  ['peerAuthentications', 'namespace'],
  ['gateways', 'derived'],
  ['nodes', 'derived'],
  // The L7 kinds feed only the waypoints' resources, never a workload.
  ['httpRoutes', 'derived'],
  ['grpcRoutes', 'derived'],
  ['virtualServices', 'derived'],
  ['destinationRules', 'derived'],
  ['rateLimitPolicies', 'derived'],
]);

const ALL_KINDS: readonly ModelKind[] = [
  'namespaces', 'pods', 'services', 'serviceAccounts', 'gateways', 'authorizationPolicies', 'peerAuthentications', 'nodes',
  'httpRoutes', 'grpcRoutes', 'virtualServices', 'destinationRules', 'rateLimitPolicies',
];

/** One xDS resource, encoded once: the bytes every stream sends, and their content version. */
export interface EncodedResource {
  readonly bytes: Uint8Array;
  readonly version: string;
}

interface Entry<M> extends EncodedResource {
  readonly model: M;
  /** The model as JSON: equal JSON means equal bytes, so nothing is re-encoded. */
  readonly json: string;
}

export interface ModelChanges {
  addresses: ResourceDiff;
  authorizations: ResourceDiff;
  /** The waypoints' resources, by type. */
  l7: Record<L7ResourceType, ResourceDiff>;
  /** The context was rebuilt (policy and service status may have changed). */
  contextRebuilt: boolean;
  /** Pods whose workload was recomputed. */
  podsRebuilt: number;
}

/** The same digest as the model's resource versions (to-proto.ts): sha256 of the encoded message. */
function digest(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('base64url').slice(0, 22);
}

function encode<M>(prev: Entry<M> | undefined, model: M, toBytes: (m: M) => Uint8Array): Entry<M> {
  const json = JSON.stringify(model);
  if (prev && prev.json === json) return prev;
  const bytes = toBytes(model);
  return { model, json, bytes, version: digest(bytes) };
}

const workloadBytes = (w: WorkloadModel): Uint8Array => toBinary(AddressSchema, workloadToProto(w));
const serviceBytes = (s: ServiceModel): Uint8Array => toBinary(AddressSchema, serviceToProto(s));
const authorizationBytes = (a: AuthorizationModel): Uint8Array => toBinary(AuthorizationSchema, authorizationToProto(a));

/** Records the version of each touched name before a commit, to report only real changes. */
class Tracker {
  private readonly before = new Map<string, string | undefined>();
  touch(name: string, version: string | undefined): void {
    if (!this.before.has(name)) this.before.set(name, version);
  }
  diff(current: (name: string) => string | undefined): ResourceDiff {
    const upserts: string[] = [];
    const removals: string[] = [];
    for (const [name, was] of this.before) {
      const now = current(name);
      if (now === undefined) {
        if (was !== undefined) removals.push(name);
      } else if (now !== was) upserts.push(name);
    }
    return { upserts: upserts.sort(), removals: removals.sort() };
  }
}

export class IncrementalModel {
  private readonly objects = new Map<ModelKind, Map<string, KubeObject>>(ALL_KINDS.map((k) => [k, new Map()]));
  private readonly dirtyPods = new Set<string>();
  private contextDirty = true;
  /** Namespaces whose workloads the dirty context can change; 'all' when any. */
  private dirtyScope: Set<string> | 'all' = 'all';
  private readonly rootNamespace: string;
  /** Pods that have problems (the others' lists are empty). */
  private readonly podsWithProblems = new Set<string>();
  private ctx: ModelContext | undefined;
  /** The context's cross-namespace parts as JSON: when they change, every workload may. */
  private shared = '';
  /** Pod key → uid of its workload (absent: the pod has none) and its problems. */
  private readonly pods = new Map<string, { uid: string | undefined; problems: Problem[] }>();
  private readonly workloads = new Map<string, Entry<WorkloadModel>>();
  private services = new Map<string, Entry<ServiceModel>>();
  private authorizations = new Map<string, Entry<AuthorizationModel>>();
  private l7 = Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [t, new Map<string, Entry<unknown>>()])) as Record<L7ResourceType, Map<string, Entry<unknown>>>;

  constructor(private readonly options: FullModelOptions = {}) {
    this.rootNamespace = resolveOptions(options).rootNamespace;
  }

  /** Records an object (or its removal with `undefined`); `key` is `<namespace>/<name>`. */
  set(kind: ModelKind, key: string, obj: KubeObject | undefined): void {
    const map = this.objects.get(kind);
    if (!map) throw new Error(`IncrementalModel: unknown kind ${String(kind)}`);
    if (obj) map.set(key, obj);
    else if (!map.delete(key)) return;
    const reach = CONTEXT_KINDS.get(kind);
    if (kind === 'pods') this.dirtyPods.add(key);
    else if (reach) {
      this.contextDirty = true;
      // A Namespace's key is `/<name>`; a namespaced object's `<namespace>/<name>`.
      const ns = kind === 'namespaces' ? key.slice(key.indexOf('/') + 1) : key.slice(0, key.indexOf('/'));
      if (reach === 'derived' || this.dirtyScope === 'all') return;
      if (ns === this.rootNamespace) this.dirtyScope = 'all';
      else this.dirtyScope.add(ns);
    }
  }

  get dirty(): boolean {
    return this.contextDirty || this.dirtyPods.size > 0;
  }

  /** Recomputes what the recorded changes affect; returns the resources that changed. */
  commit(): ModelChanges {
    const addr = new Tracker();
    const authz = new Tracker();
    const l7 = Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [t, new Tracker()])) as Record<L7ResourceType, Tracker>;
    const contextRebuilt = this.contextDirty || !this.ctx;
    if (contextRebuilt) this.rebuildContext(addr, authz, l7);
    const ctx = this.ctx!;
    const keys = contextRebuilt ? this.podsIn(this.dirtyScope) : this.dirtyPods;
    for (const key of keys) this.rebuildPod(key, ctx, addr);
    const podsRebuilt = keys.size;
    this.dirtyPods.clear();
    this.dirtyScope = new Set();
    return {
      addresses: addr.diff((n) => this.address(n)?.version),
      authorizations: authz.diff((n) => this.authorizations.get(n)?.version),
      l7: Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [t, l7[t].diff((n) => this.l7[t].get(n)?.version)])) as Record<L7ResourceType, ResourceDiff>,
      contextRebuilt,
      podsRebuilt,
    };
  }

  /** Keys of the pods (current or just deleted) in `scope`, plus the dirty ones. */
  private podsIn(scope: Set<string> | 'all'): Set<string> {
    const out = new Set(this.dirtyPods);
    for (const key of [...this.pods.keys(), ...this.objects.get('pods')!.keys()]) {
      if (scope === 'all' || scope.has(key.slice(0, key.indexOf('/')))) out.add(key);
    }
    return out;
  }

  private sorted(kind: ModelKind): KubeObject[] {
    const map = this.objects.get(kind)!;
    return [...map.keys()].sort().map((k) => map.get(k)!);
  }

  private rebuildContext(addr: Tracker, authz: Tracker, l7: Record<L7ResourceType, Tracker>): void {
    const snapshot: Omit<ModelSnapshot, 'pods'> = {};
    for (const kind of ALL_KINDS) if (kind !== 'pods') snapshot[kind] = this.sorted(kind);
    const ctx = buildContext(snapshot, this.options);
    this.ctx = ctx;
    this.contextDirty = false;
    const shared = JSON.stringify([[...ctx.workloadContext.waypoints], [...ctx.workloadContext.localities]]);
    if (shared !== this.shared) this.dirtyScope = 'all';
    this.shared = shared;
    const services = new Map<string, Entry<ServiceModel>>();
    for (const [name, s] of ctx.services) services.set(name, encode(this.services.get(name), s, serviceBytes));
    for (const name of new Set([...this.services.keys(), ...services.keys()])) addr.touch(name, this.services.get(name)?.version);
    this.services = services;
    const authorizations = new Map<string, Entry<AuthorizationModel>>();
    for (const [name, a] of ctx.authorizations) authorizations.set(name, encode(this.authorizations.get(name), a, authorizationBytes));
    for (const name of new Set([...this.authorizations.keys(), ...authorizations.keys()])) authz.touch(name, this.authorizations.get(name)?.version);
    this.authorizations = authorizations;
    const maps = l7Maps(ctx.l7);
    for (const type of L7_RESOURCE_TYPES) {
      const prev = this.l7[type];
      const next = new Map<string, Entry<unknown>>();
      for (const [name, m] of maps[type]) next.set(name, encode(prev.get(name), m, (x) => encodeL7(type, x as never)));
      for (const name of new Set([...prev.keys(), ...next.keys()])) l7[type].touch(name, prev.get(name)?.version);
      this.l7[type] = next;
    }
  }

  private rebuildPod(key: string, ctx: ModelContext, addr: Tracker): void {
    const obj = this.objects.get('pods')!.get(key);
    const prev = this.pods.get(key);
    if (prev?.uid) addr.touch(prev.uid, this.workloads.get(prev.uid)?.version);
    if (!obj) {
      if (prev?.uid) this.workloads.delete(prev.uid);
      this.pods.delete(key);
      this.podsWithProblems.delete(key);
      return;
    }
    const problems = new Problems();
    const [built] = buildWorkloads([obj], ctx.workloadContext, problems);
    const uid = built?.[0];
    if (prev?.uid && prev.uid !== uid) this.workloads.delete(prev.uid);
    if (built && uid) {
      addr.touch(uid, this.workloads.get(uid)?.version);
      this.workloads.set(uid, encode(this.workloads.get(uid), built[1], workloadBytes));
    }
    this.pods.set(key, { uid, problems: problems.list });
    if (problems.list.length > 0) this.podsWithProblems.add(key);
    else this.podsWithProblems.delete(key);
  }

  /** An Address resource (workload uid or `<ns>/<hostname>`). */
  address(name: string): EncodedResource | undefined {
    return this.workloads.get(name) ?? this.services.get(name);
  }

  authorization(name: string): EncodedResource | undefined {
    return this.authorizations.get(name);
  }

  *addressNames(): IterableIterator<string> {
    yield* this.workloads.keys();
    yield* this.services.keys();
  }

  authorizationNames(): IterableIterator<string> {
    return this.authorizations.keys();
  }

  /** A waypoint resource of `type` by name. */
  l7Resource(type: L7ResourceType, name: string): EncodedResource | undefined {
    return this.l7[type].get(name);
  }

  l7Names(type: L7ResourceType): IterableIterator<string> {
    return this.l7[type].keys();
  }

  /** Conditions of the L7 objects (routes, VirtualServices, DestinationRules, targeted policies), by `<Kind>/<ns>/<name>`. */
  get l7Status(): ReadonlyMap<string, L7ObjectStatus> {
    return this.ctx?.l7.status ?? new Map();
  }

  /** Resource name → version for each L7 type, as `buildModel(...).l7Versions`. */
  l7Versions(): Record<L7ResourceType, Map<string, string>> {
    return Object.fromEntries(L7_RESOURCE_TYPES.map((t) => [t, new Map([...this.l7[t]].map(([n, e]) => [n, e.version]))])) as Record<L7ResourceType, Map<string, string>>;
  }

  /** Non-Pod problems first, then each Pod's. */
  get problems(): Problem[] {
    const out = [...(this.ctx?.problems ?? [])];
    for (const k of this.podsWithProblems) out.push(...(this.pods.get(k)?.problems ?? []));
    return out;
  }

  get policyStatus(): ReadonlyMap<string, ObjectStatus> {
    return this.ctx?.policyStatus ?? new Map();
  }

  get serviceStatus(): ReadonlyMap<string, ObjectStatus> {
    return this.ctx?.serviceStatus ?? new Map();
  }

  /** The readable (pre-protobuf) model, for debug output. */
  view(): { workloads: WorkloadModel[]; services: ServiceModel[]; authorizations: AuthorizationModel[] } {
    return {
      workloads: [...this.workloads.values()].map((e) => e.model),
      services: [...this.services.values()].map((e) => e.model),
      authorizations: [...this.authorizations.values()].map((e) => e.model),
    };
  }

  /** Resource name → version, as `buildModel(...).versions`. */
  versions(): { addresses: Map<string, string>; authorizations: Map<string, string> } {
    const addresses = new Map<string, string>();
    for (const n of this.addressNames()) addresses.set(n, this.address(n)!.version);
    const authorizations = new Map<string, string>();
    for (const [n, e] of this.authorizations) authorizations.set(n, e.version);
    return { addresses, authorizations };
  }
}
