// The objects the control plane deploys for a waypoint Gateway NAME in NS, as Istio's deployment
// controller does for class istio-waypoint: ServiceAccount NAME, Deployment NAME running
// `ambit waypoint` (never captured by ztunnel: `istio.io/dataplane-mode: none`), Service NAME
// with `status-port` 15021 and one port per listener (appProtocol = the listener's protocol in
// lower case, so `mesh` 15008 `hbone`). Every object carries `gateway.istio.io/managed` (the
// controller only ever changes or deletes objects with it) and an owner reference to the Gateway.
// Pure.
import type { KubeObject } from '../../lib/store/types.js';
import type { Deployment, EnvVar, Service } from '../../lib/k8s/types.js';
import { GATEWAY, GATEWAY_LABELS, MANAGED_BY_MESH_CONTROLLER, WAYPOINT_CLASS, type GatewayListener } from '../../lib/k8s/gateway.js';

export const STATUS_PORT = 15021;
export const METRICS_PORT = 15020;
export const CONTAINER_NAME = 'waypoint';
export const IMAGE = 'ambit';

export interface RenderOptions {
  /** host:port of the control plane's xDS server, as the waypoint pods reach it. */
  xdsAddress: string;
  /** host:port of the certificate service (the same server unless told otherwise). */
  caAddress: string;
  trustDomain: string;
  clusterId: string;
  /** The waypoints' OTLP/HTTP collector (AMBIT_OTLP_ENDPOINT in the pod); none = no tracing. */
  otlpEndpoint?: string;
}

type GatewayMeta = Pick<KubeObject['metadata'], 'name' | 'namespace' | 'uid'>;

/** Service port names are IANA service names: at most 15 of a-z, 0-9 and '-'. */
export function portName(listenerName: string): string {
  const s = listenerName.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 15).replace(/-+$/, '');
  return s || 'mesh';
}

function metadata(gw: GatewayMeta, name: string): KubeObject['metadata'] {
  return {
    name,
    namespace: gw.namespace!,
    labels: { [GATEWAY_LABELS.gatewayName]: gw.name, [GATEWAY_LABELS.managed]: MANAGED_BY_MESH_CONTROLLER },
    ownerReferences: [{ apiVersion: GATEWAY.apiVersion, kind: GATEWAY.kind, name: gw.name, uid: gw.uid ?? '', controller: true }],
  };
}

const fieldRef = (name: string, fieldPath: string): EnvVar => ({ name, valueFrom: { fieldRef: { fieldPath } } });

export function renderServiceAccount(gw: GatewayMeta): KubeObject {
  return { apiVersion: 'v1', kind: 'ServiceAccount', metadata: metadata(gw, gw.name) };
}

export function renderDeployment(gw: GatewayMeta, o: RenderOptions): Deployment {
  const selector = { [GATEWAY_LABELS.gatewayName]: gw.name };
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: metadata(gw, gw.name) as Deployment['metadata'],
    spec: {
      replicas: 1,
      selector: { matchLabels: selector },
      template: {
        metadata: {
          labels: {
            ...selector,
            [GATEWAY_LABELS.gatewayClassName]: WAYPOINT_CLASS,
            [GATEWAY_LABELS.managed]: MANAGED_BY_MESH_CONTROLLER,
            [GATEWAY_LABELS.dataplaneMode]: 'none',
            'sidecar.istio.io/inject': 'false',
            'service.istio.io/canonical-name': gw.name,
            'service.istio.io/canonical-revision': 'latest',
          },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(METRICS_PORT), 'prometheus.io/path': '/metrics' },
        },
        spec: {
          serviceAccountName: gw.name,
          containers: [
            {
              name: CONTAINER_NAME,
              image: IMAGE,
              command: ['ambit', 'waypoint'],
              env: [
                { name: 'GATEWAY_NAME', value: gw.name },
                fieldRef('POD_NAME', 'metadata.name'),
                fieldRef('POD_NAMESPACE', 'metadata.namespace'),
                fieldRef('SERVICE_ACCOUNT', 'spec.serviceAccountName'),
                fieldRef('NODE_NAME', 'spec.nodeName'),
                fieldRef('INSTANCE_IP', 'status.podIP'),
                { name: 'XDS_ADDRESS', value: o.xdsAddress },
                { name: 'CA_ADDRESS', value: o.caAddress },
                { name: 'TRUST_DOMAIN', value: o.trustDomain },
                { name: 'CLUSTER_ID', value: o.clusterId },
                ...(o.otlpEndpoint ? [{ name: 'AMBIT_OTLP_ENDPOINT', value: o.otlpEndpoint }] : []),
              ],
              ports: [
                { name: 'mesh', containerPort: 15008, protocol: 'TCP' },
                { name: 'metrics', containerPort: METRICS_PORT, protocol: 'TCP' },
                { name: 'status-port', containerPort: STATUS_PORT, protocol: 'TCP' },
              ],
              readinessProbe: { httpGet: { path: '/healthz/ready', port: STATUS_PORT }, periodSeconds: 2, timeoutSeconds: 1, failureThreshold: 4 },
            },
          ],
        },
      },
    },
  };
}

export function renderService(gw: GatewayMeta, listeners: readonly GatewayListener[]): Service {
  const ports: NonNullable<Service['spec']['ports']> = [{ name: 'status-port', port: STATUS_PORT, protocol: 'TCP', appProtocol: 'tcp' }];
  for (const l of listeners) {
    if (ports.some((p) => p.port === l.port)) continue;
    ports.push({ name: portName(l.name), port: l.port, protocol: 'TCP', appProtocol: l.protocol.toLowerCase() });
  }
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: metadata(gw, gw.name) as Service['metadata'],
    spec: { type: 'ClusterIP', selector: { [GATEWAY_LABELS.gatewayName]: gw.name }, ports },
  };
}

/** ServiceAccount, Deployment, Service: in the order they are needed. */
export function renderWaypoint(gw: GatewayMeta, listeners: readonly GatewayListener[], o: RenderOptions): KubeObject[] {
  return [renderServiceAccount(gw), renderDeployment(gw, o), renderService(gw, listeners)];
}
