// Kubernetes-shaped types the local runtime consumes and produces. Inputs are a superset of
// lib/k8s/types.ts (the store's plain objects are assignable to them); outputs use type aliases,
// not interfaces, so they stay assignable to that file's looser `Record<string, unknown>` fields.

export type RestartPolicy = 'Always' | 'OnFailure' | 'Never';

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

export interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath: string; apiVersion?: string }; [other: string]: unknown };
}

export interface ContainerPort {
  name?: string;
  containerPort: number;
  protocol?: string;
}

export interface ContainerSpec {
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
  containers: ContainerSpec[];
  nodeName?: string;
  serviceAccountName?: string;
  serviceAccount?: string;
  restartPolicy?: RestartPolicy;
  terminationGracePeriodSeconds?: number;
}

/** What the runner knows about the pod besides its spec. */
export interface PodContext {
  /** `ip netns` name of the pod's network namespace. */
  netns: string;
  podName: string;
  namespace: string;
  uid?: string;
  podIP: string;
  podIPs?: string[];
  hostIP?: string;
  nodeName?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  /** Directory for `<container>.log`; `pids.json` goes in its parent. Created if missing. */
  logDir: string;
  /**
   * Variables every container sees before its own `env` (e.g. `<SVC>_SERVICE_HOST`); its own
   * `env` may reference and override them.
   */
  extraEnv?: Record<string, string>;
}

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
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: ContainerState;
  lastState: ContainerState;
};

export type ConditionStatus = 'True' | 'False' | 'Unknown';

export type PodCondition = {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';
  status: ConditionStatus;
  lastProbeTime: null;
  lastTransitionTime: string;
  reason?: string;
  message?: string;
};

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed';

export type PodStatus = {
  phase: PodPhase;
  conditions: PodCondition[];
  hostIP?: string;
  podIP: string;
  podIPs: Array<{ ip: string }>;
  startTime: string;
  containerStatuses: ContainerStatus[];
};

/** Something worth showing in `ambit describe`-like output; mirrors kubelet's event reasons. */
export type RuntimeEvent = {
  type: 'Normal' | 'Warning';
  reason: string;
  container: string;
  message: string;
};
