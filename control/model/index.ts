/**
 * The control plane's model: a snapshot of cluster objects in, the resources ztunnel is served out
 * (`istio.workload.Address`, `istio.security.Authorization`), each with a content version. Pure:
 * nothing here knows which store back end produced the snapshot (ARCHITECTURE.md §4).
 */
import { L, SelectorIndex } from './labels.js';
import { Problems, readMeta } from './objects.js';
import { buildPeerAuthentications } from './peerauth.js';
import { buildAuthorizationPolicies } from './policies.js';
import { buildServices, parseServices, type NamespaceInfo, type ParsedService } from './services.js';
import { addressVersion, authorizationToProto, authorizationVersion, serviceToProto, workloadToProto, type Address, type Authorization } from './to-proto.js';
import { resolveOptions, type FullModelOptions, type InternalModel, type ModelSnapshot, type ObjectStatus, type Problem } from './types.js';
import { buildWaypoints } from './waypoints.js';
import { buildWorkloads, type WorkloadContext } from './workloads.js';
import { buildL7Model } from './l7/index.js';
import { l7Versions, type L7ResourceType } from './l7/resources.js';
import type { L7Model } from './l7/types.js';

export type * from './types.js';
export { resolveOptions } from './types.js';
export { STATIC_STRICT } from './peerauth.js';

export interface ModelVersions {
  /** Resource name → version, for the Address type. */
  addresses: Map<string, string>;
  /** Resource name → version, for the Authorization type. */
  authorizations: Map<string, string>;
}

export interface Model {
  /** Keyed by xDS resource name: workload uid, or `<ns>/<hostname>` for services. */
  addresses: Map<string, Address>;
  /** Keyed by `<ns>/<name>`. */
  authorizations: Map<string, Authorization>;
  versions: ModelVersions;
  /** Objects (or parts of them) that were skipped, each naming the object and the field. */
  problems: Problem[];
  /** `ZtunnelAccepted` conditions, by `AuthorizationPolicy/<ns>/<name>` or `PeerAuthentication/<ns>/<name>`. */
  policyStatus: Map<string, ObjectStatus>;
  /** `istio.io/WaypointBound` conditions, by `<ns>/<name>` of the Service. */
  serviceStatus: Map<string, ObjectStatus>;
  /** What waypoints are served (control/model/l7), with its own conditions. */
  l7: L7Model;
  /** Resource name → version for each L7 type. */
  l7Versions: Record<L7ResourceType, Map<string, string>>;
}

function readNamespaces(objs: readonly unknown[], problems: Problems): Map<string, NamespaceInfo> {
  const out = new Map<string, NamespaceInfo>();
  for (const o of objs) {
    const meta = readMeta(o, 'Namespace', false, problems);
    if (meta && !out.has(meta.name)) out.set(meta.name, { labels: meta.labels, annotations: meta.annotations });
  }
  return out;
}

function readLocalities(objs: readonly unknown[], problems: Problems): Map<string, { region: string; zone: string; subzone: string }> {
  const out = new Map<string, { region: string; zone: string; subzone: string }>();
  for (const o of objs) {
    const meta = readMeta(o, 'Node', false, problems);
    const ls = meta?.labels;
    if (!meta || !ls || !(ls[L.region] || ls[L.zone] || ls[L.subzone])) continue;
    out.set(meta.name, { region: ls[L.region] ?? '', zone: ls[L.zone] ?? '', subzone: ls[L.subzone] ?? '' });
  }
  return out;
}

/** Everything of the model that does not come from Pods, and what each Pod's workload is built against. */
export interface ModelContext {
  workloadContext: WorkloadContext;
  services: InternalModel['services'];
  authorizations: InternalModel['authorizations'];
  policyStatus: InternalModel['policyStatus'];
  serviceStatus: InternalModel['serviceStatus'];
  /** The waypoints' L7 resources; like everything here, independent of Pods. */
  l7: L7Model;
  /** Problems of the non-Pod objects (the L7 ones included). */
  problems: Problem[];
}

/**
 * The part of the model that does not depend on Pods. A Pod's workload depends only on the Pod and
 * this context, so a control plane can rebuild one workload when one Pod changes (see incremental.ts).
 */
export function buildContext(snapshot: Omit<ModelSnapshot, 'pods'>, options?: FullModelOptions): ModelContext {
  const opts = resolveOptions(options);
  const problems = new Problems();
  const namespaces = readNamespaces(snapshot.namespaces ?? [], problems);
  const localities = readLocalities(snapshot.nodes ?? [], problems);
  const parsed = parseServices(snapshot.services ?? [], opts, problems);
  const waypoints = buildWaypoints(snapshot.gateways ?? [], parsed.map((s) => s.meta), opts, problems);
  const { services, status: serviceStatus } = buildServices(parsed, namespaces, waypoints, opts);
  const authz = buildAuthorizationPolicies(snapshot.authorizationPolicies ?? [], opts, problems);
  const peerAuth = buildPeerAuthentications(snapshot.peerAuthentications ?? [], opts, problems);
  const servicesByNs = new Map<string, SelectorIndex<ParsedService>>();
  for (const s of parsed) {
    if (!s.selector) continue;
    const index = servicesByNs.get(s.meta.namespace) ?? new SelectorIndex<ParsedService>();
    index.add(s.selector, s);
    servicesByNs.set(s.meta.namespace, index);
  }
  const authorizations = new Map(authz.authorizations);
  for (const [k, v] of peerAuth.authorizations) authorizations.set(k, v);
  const l7 = buildL7Model(snapshot, options);
  return {
    workloadContext: { opts, namespaces, servicesByNs, waypoints, selectorPolicies: authz.selectorPolicies, peerAuth, localities },
    services,
    authorizations,
    policyStatus: new Map([...authz.status, ...peerAuth.status]),
    serviceStatus,
    l7,
    problems: [...problems.list, ...l7.problems],
  };
}

/** The model before encoding (readable shapes; what the tests and debug endpoints look at). */
export function buildInternalModel(snapshot: ModelSnapshot, options?: FullModelOptions): InternalModel & { l7: L7Model } {
  const ctx = buildContext(snapshot, options);
  const problems = new Problems();
  const workloads = buildWorkloads(snapshot.pods ?? [], ctx.workloadContext, problems);
  const { services, authorizations, policyStatus, serviceStatus } = ctx;
  return { workloads, services, authorizations, problems: [...ctx.problems, ...problems.list], policyStatus, serviceStatus, l7: ctx.l7 };
}

/** Builds every resource Ambit serves to ztunnel from one snapshot of the cluster. */
export function buildModel(snapshot: ModelSnapshot, options?: FullModelOptions): Model {
  const m = buildInternalModel(snapshot, options);
  const addresses = new Map<string, Address>();
  const authorizations = new Map<string, Authorization>();
  const versions: ModelVersions = { addresses: new Map(), authorizations: new Map() };
  for (const [k, w] of m.workloads) addresses.set(k, workloadToProto(w));
  for (const [k, s] of m.services) addresses.set(k, serviceToProto(s));
  for (const [k, a] of m.authorizations) authorizations.set(k, authorizationToProto(a));
  for (const [k, a] of addresses) versions.addresses.set(k, addressVersion(a));
  for (const [k, a] of authorizations) versions.authorizations.set(k, authorizationVersion(a));
  return { addresses, authorizations, versions, problems: m.problems, policyStatus: m.policyStatus, serviceStatus: m.serviceStatus, l7: m.l7, l7Versions: l7Versions(m.l7) };
}

export interface ResourceDiff {
  /** Names that are new or whose version changed, sorted. */
  upserts: string[];
  /** Names that are gone, sorted. */
  removals: string[];
}

export interface ModelDiff {
  addresses: ResourceDiff;
  authorizations: ResourceDiff;
}

function diffVersions(prev: ReadonlyMap<string, string>, next: ReadonlyMap<string, string>): ResourceDiff {
  const upserts: string[] = [];
  const removals: string[] = [];
  for (const [k, v] of next) if (prev.get(k) !== v) upserts.push(k);
  for (const k of prev.keys()) if (!next.has(k)) removals.push(k);
  return { upserts: upserts.sort(), removals: removals.sort() };
}

/** What changed between two models; `prev` undefined means everything in `next` is new. */
export function diffModels(prev: Pick<Model, 'versions'> | undefined, next: Pick<Model, 'versions'>): ModelDiff {
  const empty = new Map<string, string>();
  return {
    addresses: diffVersions(prev?.versions.addresses ?? empty, next.versions.addresses),
    authorizations: diffVersions(prev?.versions.authorizations ?? empty, next.versions.authorizations),
  };
}
