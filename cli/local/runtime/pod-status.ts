// Pure: the Pod `status` that kubelet would report for a set of container statuses.
import { isDeepStrictEqual } from 'node:util';
import type { ConditionStatus, ContainerStatus, PodCondition, PodPhase, PodStatus, RestartPolicy } from './types.js';

export type PodStatusInput = {
  restartPolicy: RestartPolicy;
  containers: ContainerStatus[];
  podIP: string;
  podIPs?: string[];
  hostIP?: string;
  startTime: string;
  /** When the pod was bound to its node; defaults to `startTime`. */
  scheduledTime?: string;
  /** Timestamp for conditions that change now. */
  now: string;
};

/** Kubelet's getPhase for pods without init containers. */
export function podPhase(policy: RestartPolicy, containers: readonly ContainerStatus[]): PodPhase {
  let waiting = 0;
  let running = 0;
  let stopped = 0;
  let succeeded = 0;
  for (const c of containers) {
    if (c.state.running) running++;
    else if (c.state.terminated) {
      stopped++;
      if (c.state.terminated.exitCode === 0) succeeded++;
    } else if (c.lastState.terminated) stopped++;
    else waiting++;
  }
  if (waiting > 0) return 'Pending';
  if (running > 0) return 'Running';
  if (stopped === 0) return 'Pending';
  if (policy === 'Always') return 'Running';
  if (stopped === succeeded) return 'Succeeded';
  return policy === 'Never' ? 'Failed' : 'Running';
}

type Want = { type: PodCondition['type']; status: ConditionStatus; reason?: string; message?: string; since?: string };

function condition(w: Want, prev: PodCondition | undefined, now: string): PodCondition {
  const lastTransitionTime = prev && prev.status === w.status ? prev.lastTransitionTime : (w.since ?? now);
  return {
    type: w.type,
    status: w.status,
    lastProbeTime: null,
    lastTransitionTime,
    ...(w.reason ? { reason: w.reason } : {}),
    ...(w.message ? { message: w.message } : {}),
  };
}

export function computePodStatus(input: PodStatusInput, prev?: PodStatus): PodStatus {
  const phase = podPhase(input.restartPolicy, input.containers);
  const done = phase === 'Succeeded' || phase === 'Failed';
  const unready = input.containers.filter((c) => !c.ready).map((c) => c.name);
  const readyWant = (type: 'ContainersReady' | 'Ready'): Want => {
    if (done) return { type, status: 'False', reason: 'PodCompleted' };
    if (unready.length === 0) return { type, status: 'True' };
    return { type, status: 'False', reason: 'ContainersNotReady', message: `containers with unready status: [${unready.join(' ')}]` };
  };
  const wants: Want[] = [
    { type: 'Initialized', status: 'True', since: input.startTime },
    readyWant('Ready'),
    readyWant('ContainersReady'),
    { type: 'PodScheduled', status: 'True', since: input.scheduledTime ?? input.startTime },
  ];
  const conditions = wants.map((w) => condition(w, prev?.conditions.find((c) => c.type === w.type), input.now));
  const ips = input.podIPs && input.podIPs.length > 0 ? input.podIPs : [input.podIP];
  return {
    phase,
    conditions,
    ...(input.hostIP ? { hostIP: input.hostIP } : {}),
    podIP: input.podIP,
    podIPs: ips.map((ip) => ({ ip })),
    startTime: input.startTime,
    containerStatuses: input.containers.map((c) => structuredClone(c)),
  };
}

export function statusChanged(prev: PodStatus | undefined, next: PodStatus): boolean {
  return !prev || !isDeepStrictEqual(prev, next);
}
