// The subset of Kubernetes object shapes that Ambit reads and writes. Structural types only:
// the store hands out plain objects, and validation happens where they are consumed.
import type { KubeObject, ObjectMeta } from '../store/types.js';

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

export interface EnvVar {
  name: string;
  value?: string;
  // Other sources (secretKeyRef, …) are kept so that a consumer can name what it does not support.
  valueFrom?: { fieldRef?: { fieldPath: string; apiVersion?: string }; [other: string]: unknown };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
}

export interface HttpHeader {
  name: string;
  value: string;
}

export interface HttpGetAction {
  path?: string;
  port: number | string;
  host?: string;
  scheme?: string;
  httpHeaders?: HttpHeader[];
}

export interface Probe {
  httpGet?: HttpGetAction;
  tcpSocket?: { port: number | string; host?: string };
  exec?: { command: string[] };
  initialDelaySeconds?: number;
  periodSeconds?: number;
  timeoutSeconds?: number;
  successThreshold?: number;
  failureThreshold?: number;
  terminationGracePeriodSeconds?: number;
}

export interface Container {
  name: string;
  image?: string;
  command?: string[];
  args?: string[];
  env?: EnvVar[];
  workingDir?: string;
  ports?: ContainerPort[];
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
}

export interface PodSpec {
  containers: Container[];
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  serviceAccountName?: string;
  serviceAccount?: string;
  hostNetwork?: boolean;
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
}

// Status shapes are type aliases, not interfaces, so that they stay assignable to the store's
// `Record<string, unknown>` fields.
export type ConditionStatus = 'True' | 'False' | 'Unknown';

/** metav1.Condition: the conditions of Gateway API objects and of the policies Ambit reports on. */
export interface StatusCondition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastTransitionTime?: string;
  observedGeneration?: number;
}

export type PodCondition = {
  type: string;
  status: ConditionStatus;
  lastProbeTime?: string | null;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
};

export type ContainerStateRunning = { startedAt: string };
export type ContainerStateTerminated = {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
  containerID?: string;
};
export type ContainerStateWaiting = { reason: string; message?: string };

/** Exactly one key is set, or none (an empty `lastState`). */
export type ContainerState = {
  running?: ContainerStateRunning;
  terminated?: ContainerStateTerminated;
  waiting?: ContainerStateWaiting;
};

export type ContainerStatus = {
  name: string;
  image?: string;
  imageID?: string;
  containerID?: string;
  ready: boolean;
  started?: boolean;
  restartCount: number;
  state?: ContainerState;
  lastState?: ContainerState;
};

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

export type PodStatus = {
  phase?: PodPhase;
  conditions?: PodCondition[];
  podIP?: string;
  podIPs?: Array<{ ip: string }>;
  hostIP?: string;
  startTime?: string;
  containerStatuses?: ContainerStatus[];
  reason?: string;
  message?: string;
};

export interface Pod extends KubeObject {
  metadata: ObjectMeta & { namespace: string };
  spec: PodSpec;
  status?: PodStatus;
}

export interface PodTemplate {
  metadata?: Partial<ObjectMeta>;
  spec: PodSpec;
}

export interface Deployment extends KubeObject {
  metadata: ObjectMeta & { namespace: string };
  spec: { replicas?: number; selector?: { matchLabels?: Record<string, string> }; template: PodTemplate };
  status?: { replicas?: number; readyReplicas?: number; availableReplicas?: number; updatedReplicas?: number; observedGeneration?: number };
}

export interface ServicePort {
  name?: string;
  port: number;
  targetPort?: number | string;
  protocol?: 'TCP' | 'UDP' | 'SCTP';
  appProtocol?: string;
}

export interface Service extends KubeObject {
  metadata: ObjectMeta & { namespace: string };
  spec: { selector?: Record<string, string>; ports?: ServicePort[]; clusterIP?: string; clusterIPs?: string[]; type?: string };
}

export interface EndpointAddress {
  ip: string;
  hostname?: string;
  nodeName?: string;
  targetRef?: { kind: 'Pod'; namespace: string; name: string; uid?: string };
}

export interface EndpointSubset {
  addresses?: EndpointAddress[];
  notReadyAddresses?: EndpointAddress[];
  ports?: Array<{ name?: string; port: number; protocol?: string }>;
}

export interface Endpoints extends KubeObject {
  metadata: ObjectMeta & { namespace: string };
  subsets?: EndpointSubset[];
}

export interface Namespace extends KubeObject {
  metadata: ObjectMeta;
}

export const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
export const SERVICE = { apiVersion: 'v1', kind: 'Service' } as const;
export const ENDPOINTS = { apiVersion: 'v1', kind: 'Endpoints' } as const;
export const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace' } as const;
export const NODE = { apiVersion: 'v1', kind: 'Node' } as const;
export const SERVICE_ACCOUNT = { apiVersion: 'v1', kind: 'ServiceAccount' } as const;
export const DEPLOYMENT = { apiVersion: 'apps/v1', kind: 'Deployment' } as const;
export const CONFIG_MAP = { apiVersion: 'v1', kind: 'ConfigMap' } as const;

/** Equality-based selector match, as a Service or Deployment selector. An empty selector matches nothing. */
export function selectorMatches(selector: Record<string, string> | undefined, labels: Record<string, string> | undefined): boolean {
  if (!selector || Object.keys(selector).length === 0) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

export function isPodReady(pod: Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
}
