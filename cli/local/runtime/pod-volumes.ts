// A pod's volumes from plan to files: planned from its spec (errors name the pod and field),
// materialised in `<podDir>/volumes`, tokens kept fresh until `stop`.
import type { Logger } from '../../../lib/telemetry/log.js';
import type { Pod } from '../../../lib/k8s/types.js';
import type { PodContext } from './types.js';
import { materialiseVolumes, type VolumeApi } from './volume-files.js';
import { planPodVolumes, type HostPathMapper, type MountPlan } from './volumes.js';

export async function startPodVolumes(pod: Pod, ctx: PodContext, podDir: string, api: VolumeApi, log: Logger, hostPath?: HostPathMapper): Promise<{ mounts: MountPlan[]; stop(): void }> {
  const ref = `${ctx.namespace}/${ctx.podName}`;
  const planned = planPodVolumes(ref, pod.spec as Parameters<typeof planPodVolumes>[1], podDir, hostPath);
  if (!planned.ok) throw new Error(planned.message);
  const live = await materialiseVolumes(planned.plan.volumes, { ref, spec: pod.spec, ctx, api }, (err) => log.warn({ pod: ref, err: err.message }, 'volume refresh failed; retrying'));
  return { mounts: planned.plan.mounts, stop: () => live.stop() };
}
