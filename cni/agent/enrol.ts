// Which pods belong in ambient (the pod's or its namespace's istio.io/dataplane-mode=ambient, not
// opted out with =none, not host-network), and what the node agent reads off a Pod object: its addresses, its network namespace, the per-pod redirection variants. Pure: table-tested.
import type { Namespace, Pod } from '../../lib/k8s/types.js';
import { NETNS_DIR } from '../../lib/sys/netns.js';
import type { RedirectOptions } from './rules/options.js';

export const DATAPLANE_MODE_LABEL = 'istio.io/dataplane-mode';
export const REDIRECTION_ANNOTATION = 'ambient.istio.io/redirection';
export const SIDECAR_STATUS_ANNOTATION = 'sidecar.istio.io/status';
export const DNS_CAPTURE_ANNOTATION = 'ambient.istio.io/dns-capture';
export const BYPASS_INBOUND_ANNOTATION = 'ambient.istio.io/bypass-inbound-capture';
export const VIRTUAL_INTERFACES_ANNOTATION = 'istio.io/reroute-virtual-interfaces';
/** Set by the local cluster's kubelet once the pod's network is up (real clusters: from the container PID). */
export const NETNS_ANNOTATION = 'ambit.dev/netns';
export const DEFAULT_EXCLUDED_NAMESPACES = ['kube-system', 'istio-system'];

export type RedirectionState = 'enabled' | 'pending';

export interface EnrolPolicy {
  /** This node: pods scheduled elsewhere are never ours. */
  node: string;
  excludeNamespaces: readonly string[];
}

export type SkipReason =
  | 'other-node' | 'terminated' | 'host-network' | 'excluded-namespace' | 'ztunnel' | 'sidecar' | 'opted-out' | 'not-labelled';

export type EnrolDecision =
  | { enrol: true; by: 'pod-label' | 'namespace-label' }
  | { enrol: false; reason: SkipReason; detail: string };

const skip = (reason: SkipReason, detail: string): EnrolDecision => ({ enrol: false, reason, detail });

/** Istio's default enablement selectors plus the exclusions that always apply. */
export function decideEnrolment(pod: Pod, ns: Namespace | undefined, policy: EnrolPolicy): EnrolDecision {
  if (pod.spec?.nodeName !== policy.node) return skip('other-node', `scheduled on ${pod.spec?.nodeName ?? 'no node'}, not ${policy.node}`);
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return skip('terminated', `phase ${phase}`);
  return decideMembership(pod, ns, policy.excludeNamespaces);
}

/**
 * Whether a pod belongs in the mesh, whatever node it is on: the part of decideEnrolment the CNI
 * plugin also applies itself when the node agent is down.
 */
export function decideMembership(pod: Pod, ns: Namespace | undefined, excludeNamespaces: readonly string[]): EnrolDecision {
  const { metadata: meta, spec } = pod;
  const labels = meta.labels ?? {};
  if (spec?.hostNetwork === true) return skip('host-network', 'spec.hostNetwork is true');
  if (excludeNamespaces.includes(meta.namespace)) return skip('excluded-namespace', `namespace ${meta.namespace} is excluded`);
  if (labels.app === 'ztunnel') return skip('ztunnel', 'ztunnel itself (label app=ztunnel)');
  if (meta.annotations?.[SIDECAR_STATUS_ANNOTATION] !== undefined) return skip('sidecar', `has a sidecar (annotation ${SIDECAR_STATUS_ANNOTATION})`);
  if ((spec?.containers ?? []).some((c) => c?.name === 'istio-proxy')) return skip('sidecar', 'has a sidecar (container istio-proxy)');
  const mode = labels[DATAPLANE_MODE_LABEL];
  if (mode === 'ambient') return { enrol: true, by: 'pod-label' };
  if (mode === 'none') return skip('opted-out', `pod label ${DATAPLANE_MODE_LABEL}=none`);
  if (ns?.metadata.labels?.[DATAPLANE_MODE_LABEL] === 'ambient') return { enrol: true, by: 'namespace-label' };
  return skip('not-labelled', `neither the pod nor namespace ${meta.namespace} has ${DATAPLANE_MODE_LABEL}=ambient`);
}

/** The pod's addresses from its status (no prefix lengths). */
export function podIps(pod: Pod): string[] {
  const ips = (pod.status?.podIPs ?? []).map((p) => p?.ip).filter((ip): ip is string => typeof ip === 'string' && ip !== '');
  if (ips.length === 0 && pod.status?.podIP) ips.push(pod.status.podIP);
  return [...new Set(ips)];
}

/** Addresses as CNI reports them (`10.244.1.5/24`) → bare addresses. */
export function stripPrefixes(addresses: readonly string[]): string[] {
  return [...new Set(addresses.map((a) => a.split('/')[0] ?? '').filter((a) => a !== ''))];
}

/** The pod's network namespace path from its annotation (a name under /var/run/netns, or a path). */
export function podNetnsPath(pod: Pod): string | undefined {
  const v = pod.metadata.annotations?.[NETNS_ANNOTATION];
  if (typeof v !== 'string' || v === '' || v.includes('\0')) return undefined;
  return v.includes('/') ? v : `${NETNS_DIR}/${v}`;
}

export function redirectionState(pod: Pod): RedirectionState | undefined {
  const v = pod.metadata.annotations?.[REDIRECTION_ANNOTATION];
  return v === 'enabled' || v === 'pending' ? v : undefined;
}

export function serviceAccountOf(pod: Pod): string {
  return pod.spec?.serviceAccountName || pod.spec?.serviceAccount || 'default';
}

export function podKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/**
 * The redirection variants for this pod: families from its addresses, DNS capture from the node
 * default unless the pod's annotation says otherwise, ingress mode, virtual interfaces. Throws
 * naming the annotation when one is malformed.
 */
export function redirectOptionsFor(pod: Pod, ips: readonly string[], defaults: { dnsCapture: boolean }): RedirectOptions {
  const a = pod.metadata.annotations ?? {};
  const id = podKey(pod.metadata.namespace, pod.metadata.name);
  const bool = (key: string): boolean | undefined => {
    const v = a[key];
    if (v === undefined) return undefined;
    if (v === 'true' || v === 'false') return v === 'true';
    throw new Error(`pod ${id}: annotation ${key} must be "true" or "false", got ${JSON.stringify(v)}`);
  };
  const fams = ips.map((ip) => (ip.includes(':') ? 6 : 4));
  const opts: RedirectOptions = {
    ipv4: fams.includes(4) || !fams.includes(6),
    ipv6: fams.includes(6),
    dnsCapture: bool(DNS_CAPTURE_ANNOTATION) ?? defaults.dnsCapture,
    bypassInboundCapture: bool(BYPASS_INBOUND_ANNOTATION) ?? false,
  };
  const vifs = a[VIRTUAL_INTERFACES_ANNOTATION];
  if (vifs !== undefined) {
    const list = vifs.split(',').map((s) => s.trim()).filter((s) => s !== '');
    for (const v of list) {
      if (!/^[A-Za-z0-9_.:@-]{1,15}$/.test(v) || v === 'lo') {
        throw new Error(`pod ${id}: annotation ${VIRTUAL_INTERFACES_ANNOTATION}: ${JSON.stringify(v)} is not an interface name`);
      }
    }
    opts.virtualInterfaces = list;
  }
  return opts;
}
