// The types the local runtime consumes and produces. Kubernetes shapes come from lib/k8s; what is
// here is the runtime's own context, and its outputs: lib/k8s's status shapes with the fields
// that a kubelet always fills in made required (type aliases, so that they stay assignable to the
// store's `Record<string, unknown>` fields).
import type * as k8s from '../../../lib/k8s/types.js';
import type { MountPlan } from './volumes.js';

export type {
  ConditionStatus,
  ContainerPort,
  ContainerState,
  ContainerStateRunning,
  ContainerStateTerminated,
  ContainerStateWaiting,
  EnvVar,
  HttpGetAction,
  HttpHeader,
  PodSpec,
  Probe,
  RestartPolicy,
} from '../../../lib/k8s/types.js';

export type ContainerSpec = k8s.Container;

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
  /** Bind mounts of the pod's volumes, per container (see volumes.ts). */
  mounts?: MountPlan[];
}

export type ContainerStatus = k8s.ContainerStatus & Required<Pick<k8s.ContainerStatus, 'image' | 'imageID' | 'started' | 'state' | 'lastState'>>;

export type PodCondition = k8s.PodCondition & {
  type: 'PodScheduled' | 'Initialized' | 'ContainersReady' | 'Ready';
  lastProbeTime: null;
  lastTransitionTime: string;
};

/** The runtime never reports Unknown: it always knows its own processes. */
export type PodPhase = Exclude<k8s.PodPhase, 'Unknown'>;

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
