/**
 * The kinds Ambit knows: how they are named on a command line, whether they live in a namespace,
 * which versions of their API group are accepted. Storage is keyed by group + kind, so
 * `security.istio.io/v1beta1` and `/v1` AuthorizationPolicies are one resource, as on an API server.
 */
import { StoreError, type Kind } from './types.js';

/** Which Kubernetes name rule `metadata.name` must follow. */
export type NameRule = 'subdomain' | 'label' | 'label1035';

export interface KindInfo {
  /** API group; '' for the core group (`apiVersion: v1`). */
  readonly group: string;
  /** Preferred (storage) version. */
  readonly version: string;
  /** Every version accepted for this kind, preferred first. */
  readonly versions: readonly string[];
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly namespaced: boolean;
  readonly nameRule: NameRule;
  /** False for kinds synthesised for an object Ambit has no entry for. */
  readonly known: boolean;
}

type Entry = [group: string, versions: string[], kind: string, plural: string, shortNames: string[], namespaced: boolean, nameRule?: NameRule];

const TABLE: Entry[] = [
  ['', ['v1'], 'Namespace', 'namespaces', ['ns'], false, 'label'],
  ['', ['v1'], 'Node', 'nodes', ['no'], false],
  ['', ['v1'], 'Pod', 'pods', ['po'], true],
  ['', ['v1'], 'Service', 'services', ['svc'], true, 'label1035'],
  ['', ['v1'], 'Endpoints', 'endpoints', ['ep'], true],
  ['', ['v1'], 'ServiceAccount', 'serviceaccounts', ['sa'], true],
  ['', ['v1'], 'ConfigMap', 'configmaps', ['cm'], true],
  ['', ['v1'], 'Secret', 'secrets', [], true],
  ['coordination.k8s.io', ['v1'], 'Lease', 'leases', [], true],
  ['apps', ['v1'], 'Deployment', 'deployments', ['deploy'], true],
  ['gateway.networking.k8s.io', ['v1'], 'Gateway', 'gateways', ['gtw'], true],
  ['gateway.networking.k8s.io', ['v1'], 'HTTPRoute', 'httproutes', [], true],
  ['gateway.networking.k8s.io', ['v1'], 'GRPCRoute', 'grpcroutes', [], true],
  ['security.istio.io', ['v1', 'v1beta1'], 'AuthorizationPolicy', 'authorizationpolicies', ['ap'], true],
  ['security.istio.io', ['v1', 'v1beta1'], 'PeerAuthentication', 'peerauthentications', ['pa'], true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'VirtualService', 'virtualservices', ['vs'], true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'DestinationRule', 'destinationrules', ['dr'], true],
  ['networking.istio.io', ['v1', 'v1beta1', 'v1alpha3'], 'ServiceEntry', 'serviceentries', ['se'], true],
  // Ambit's own policy (Gateway API policy attachment): rate limits enforced by waypoints.
  ['ratelimit.ambit.dev', ['v1alpha1'], 'RateLimitPolicy', 'ratelimitpolicies', ['rlp'], true],
];

export const KINDS: readonly KindInfo[] = TABLE.map(([group, versions, kind, plural, shortNames, namespaced, nameRule]) => ({
  group,
  version: versions[0] ?? 'v1',
  versions,
  kind,
  plural,
  singular: kind.toLowerCase(),
  shortNames,
  namespaced,
  nameRule: nameRule ?? 'subdomain',
  known: true,
}));

const byGroupKind = new Map(KINDS.map((k) => [`${k.group}/${k.kind}`, k]));

export function splitApiVersion(apiVersion: string): { group: string; version: string } {
  const i = apiVersion.lastIndexOf('/');
  return i < 0 ? { group: '', version: apiVersion } : { group: apiVersion.slice(0, i), version: apiVersion.slice(i + 1) };
}

export function apiVersionOf(info: KindInfo, version = info.version): string {
  return info.group ? `${info.group}/${version}` : version;
}

/** The `Kind` (preferred version) of a registry entry, for store calls. */
export function kindRef(info: KindInfo): Kind {
  return { apiVersion: apiVersionOf(info), kind: info.kind };
}

/** `pods`, `deployments.apps`: unique across groups (Istio and Gateway API both have a Gateway). */
export function resourceName(info: KindInfo): string {
  return info.group ? `${info.plural}.${info.group}` : info.plural;
}

/** A registry entry for this group + kind (any version), or undefined. */
export function findKind(k: Kind): KindInfo | undefined {
  return byGroupKind.get(`${splitApiVersion(k.apiVersion).group}/${k.kind}`);
}

function guessPlural(kind: string): string {
  const s = kind.toLowerCase();
  if (/(s|x|z|ch|sh)$/.test(s)) return `${s}es`;
  if (/[^aeiou]y$/.test(s)) return `${s.slice(0, -1)}ies`;
  return `${s}s`;
}

/**
 * The registry entry for a kind, or one synthesised for a kind Ambit does not know (assumed
 * namespaced), so that applying a custom resource stores it rather than dropping it.
 */
export function kindInfo(k: Kind): KindInfo {
  const found = findKind(k);
  if (found) return found;
  const { group, version } = splitApiVersion(k.apiVersion);
  return {
    group,
    version,
    versions: [version],
    kind: k.kind,
    plural: guessPlural(k.kind),
    singular: k.kind.toLowerCase(),
    shortNames: [],
    namespaced: true,
    nameRule: 'subdomain',
    known: false,
  };
}

function names(info: KindInfo): string[] {
  return [info.plural, info.singular, ...info.shortNames];
}

/**
 * Resolves what a user types on a command line (`pods`, `pod`, `po`, `Pod`, `svc`,
 * `deployments.apps`, `gateways.gateway.networking.k8s.io`) to a known kind; throws an `Invalid`
 * StoreError listing the known types otherwise.
 */
export function resolveResource(input: string): KindInfo {
  const arg = input.trim().toLowerCase();
  const dot = arg.indexOf('.');
  const name = dot < 0 ? arg : arg.slice(0, dot);
  const qualifier = dot < 0 ? undefined : arg.slice(dot + 1);
  const matches = KINDS.filter((k) => {
    if (!names(k).includes(name)) return false;
    if (qualifier === undefined) return true;
    // `deployments.apps` or `deployments.v1.apps`; the core group has no qualifier but accept `pods.v1`.
    return qualifier === k.group || k.versions.some((v) => qualifier === (k.group ? `${v}.${k.group}` : v));
  });
  const [first, second] = matches;
  if (first && !second) return first;
  if (first && second) {
    throw new StoreError('Invalid', `resource type "${input}" is ambiguous: ${matches.map(resourceName).join(', ')}; qualify it with its group`);
  }
  const known = KINDS.map((k) => (k.shortNames.length ? `${resourceName(k)} (${k.shortNames.join(', ')})` : resourceName(k))).join(', ');
  throw new StoreError('Invalid', `unknown resource type "${input}"; known types: ${known}`);
}
