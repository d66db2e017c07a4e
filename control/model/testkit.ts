// Builders of Kubernetes-shaped objects for the model's tests and the synthetic benchmark.
import type { ContainerPort } from '../../lib/k8s/types.js';
import type { KubeObject } from '../../lib/store/types.js';

type Meta = { labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string; deletionTimestamp?: string; ownerReferences?: KubeObject['metadata']['ownerReferences'] };

export function ns(name: string, labels: Record<string, string> = {}, annotations?: Record<string, string>): KubeObject {
  return { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels, annotations } };
}

export interface PodOpts extends Meta {
  ip?: string | string[];
  ready?: boolean;
  phase?: string;
  sa?: string;
  node?: string;
  ports?: ContainerPort[];
  ambient?: boolean;
  hostNetwork?: boolean;
}

export function pod(namespace: string, name: string, o: PodOpts = {}): KubeObject {
  const ips = o.ip === undefined ? ['10.244.0.1'] : Array.isArray(o.ip) ? o.ip : [o.ip];
  const annotations = { ...(o.annotations ?? {}), ...(o.ambient ? { 'ambient.istio.io/redirection': 'enabled' } : {}) };
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations, creationTimestamp: o.creationTimestamp, deletionTimestamp: o.deletionTimestamp, ownerReferences: o.ownerReferences },
    spec: { containers: [{ name: 'app', ports: o.ports ?? [] }], serviceAccountName: o.sa, nodeName: o.node ?? 'node-1', hostNetwork: o.hostNetwork },
    status: {
      phase: o.phase ?? 'Running',
      podIP: ips[0],
      podIPs: ips.map((ip) => ({ ip })),
      conditions: [{ type: 'Ready', status: o.ready === false ? 'False' : 'True' }],
    },
  };
}

export interface SvcOpts extends Meta {
  selector?: Record<string, string>;
  ports?: Array<Record<string, unknown>>;
  clusterIP?: string;
  spec?: Record<string, unknown>;
}

export function svc(namespace: string, name: string, o: SvcOpts = {}): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: o.labels ?? {}, annotations: o.annotations ?? {} },
    spec: { selector: o.selector ?? { app: name }, ports: o.ports ?? [{ name: 'http', port: 80, targetPort: 8080 }], clusterIP: o.clusterIP ?? '10.96.0.10', ...(o.spec ?? {}) },
  };
}

export function gw(namespace: string, name: string, o: Meta & { className?: string; addresses?: Array<{ type?: string; value: string }>; allowedFrom?: string; selector?: Record<string, unknown> } = {}): KubeObject {
  const allowedRoutes = o.allowedFrom ? { namespaces: { from: o.allowedFrom, selector: o.selector } } : undefined;
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name, namespace, labels: o.labels ?? {} },
    spec: { gatewayClassName: o.className ?? 'istio-waypoint', listeners: [{ name: 'mesh', port: 15008, protocol: 'HBONE', allowedRoutes }] },
    status: o.addresses ? { addresses: o.addresses } : {},
  };
}

export function ap(namespace: string, name: string, spec: Record<string, unknown>, m: Meta = {}): KubeObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name, namespace, ...m }, spec };
}

export function pa(namespace: string, name: string, spec: Record<string, unknown>, m: Meta = {}): KubeObject {
  return { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace, ...m }, spec };
}

/** A synthetic cluster: `pods` pods spread over `services` services in `namespaces` namespaces. */
export function syntheticCluster(pods: number, services: number, namespaces: number): { namespaces: KubeObject[]; pods: KubeObject[]; services: KubeObject[]; authorizationPolicies: KubeObject[]; peerAuthentications: KubeObject[]; gateways: KubeObject[] } {
  const nss = Array.from({ length: namespaces }, (_, i) => ns(`ns-${i}`, { 'istio.io/dataplane-mode': 'ambient', ...(i % 2 === 0 ? { 'istio.io/use-waypoint': 'waypoint' } : {}) }));
  const svcs = Array.from({ length: services }, (_, i) => {
    const n = `ns-${i % namespaces}`;
    return svc(n, `svc-${i}`, { selector: { app: `app-${i}` }, clusterIP: `10.96.${(i >> 8) & 255}.${i & 255}`, ports: [{ name: 'http', port: 80, targetPort: 'http' }, { name: 'grpc', port: 9090, targetPort: 9090 }] });
  });
  const ps = Array.from({ length: pods }, (_, i) => {
    const s = i % services;
    return pod(`ns-${s % namespaces}`, `app-${s}-abcde-${i}`, {
      ip: `10.${128 + ((i >> 16) & 63)}.${(i >> 8) & 255}.${i & 255}`,
      labels: { app: `app-${s}`, version: 'v1', 'pod-template-hash': 'abcde' },
      ambient: true,
      sa: `sa-${s}`,
      ports: [{ name: 'http', containerPort: 8080 }],
    });
  });
  const aps = nss.flatMap((n, i) => [
    ap(n.metadata.name, 'allow-ns', { rules: [{ from: [{ source: { namespaces: [n.metadata.name, 'istio-system'] } }], to: [{ operation: { ports: ['8080'] } }] }] }),
    ap(n.metadata.name, 'deny-one', { action: 'DENY', selector: { matchLabels: { app: `app-${i}` } }, rules: [{ from: [{ source: { ipBlocks: ['192.168.0.0/16'] } }] }] }),
  ]);
  const gws = nss.filter((_, i) => i % 2 === 0).map((n) => gw(n.metadata.name, 'waypoint', { addresses: [{ type: 'Hostname', value: `waypoint.${n.metadata.name}.svc.cluster.local` }] }));
  return { namespaces: nss, pods: ps, services: svcs, authorizationPolicies: aps, peerAuthentications: [pa('istio-system', 'default', { mtls: { mode: 'STRICT' } })], gateways: gws };
}
