// The plugin's own enrolment judgement, for when the node agent cannot be reached: the pod and its
// namespace read from the cluster store, judged by the agent's own rule (decideMembership). Loaded
// only then, so that the store and its YAML parser cost nothing while the agent is up.
import { existsSync } from 'node:fs';
import { NAMESPACE, POD, type Namespace, type Pod } from '../../lib/k8s/types.js';
import type { ClusterStore } from '../../lib/store/types.js';
import { DATAPLANE_MODE_LABEL, decideMembership } from '../agent/enrol.js';

export interface JudgeInput {
  storeDir?: string;
  kubeconfig?: string;
  excludeNamespaces: readonly string[];
  namespace: string;
  name: string;
  uid?: string;
  timeoutMs: number;
}

export type Judgement = { inMesh: boolean; detail: string };

/** Rejects, saying why, when the pod cannot be judged: the caller then fails closed. */
export async function judgeWithoutAgent(j: JudgeInput): Promise<Judgement> {
  const id = `${j.namespace}/${j.name}`;
  let store: ClusterStore;
  if (j.storeDir !== undefined) {
    if (!existsSync(j.storeDir)) throw new Error(`the File store ${j.storeDir} (storeDir) does not exist`);
    // A lock left by a dead writer must not hold the pod past the plugin's own timeout.
    // The File store alone: the store index would load the Kubernetes client too.
    const { FileStore } = await import('../../lib/store/file.js');
    store = new FileStore(j.storeDir, { lockTimeoutMs: j.timeoutMs });
  } else if (j.kubeconfig !== undefined) {
    const { openStore } = await import('../../lib/store/index.js');
    store = openStore({ kube: true, kubeconfig: j.kubeconfig });
  } else {
    throw new Error('no storeDir or kubeconfig in the plugin config to read it from');
  }
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the cluster store did not answer within ${j.timeoutMs / 1000} s`)), j.timeoutMs);
  });
  try {
    const [pod, ns] = await Promise.race([
      Promise.all([store.get<Pod>({ ...POD, namespace: j.namespace, name: j.name }), store.get<Namespace>({ ...NAMESPACE, name: j.namespace })]),
      timeout,
    ]);
    if (!pod) throw new Error(`pod ${id} is not in the cluster store`);
    if (j.uid !== undefined && pod.metadata.uid !== undefined && pod.metadata.uid !== j.uid) {
      throw new Error(`pod ${id} in the cluster store has uid ${pod.metadata.uid}, not ${j.uid} (CNI_ARGS)`);
    }
    const d = decideMembership(pod, ns, j.excludeNamespaces);
    return d.enrol
      ? { inMesh: true, detail: d.by === 'pod-label' ? `pod label ${DATAPLANE_MODE_LABEL}=ambient` : `namespace ${j.namespace} has ${DATAPLANE_MODE_LABEL}=ambient` }
      : { inMesh: false, detail: d.detail };
  } finally {
    clearTimeout(timer);
    await store.close().catch(() => undefined);
  }
}
