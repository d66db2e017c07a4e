import { createHash } from 'node:crypto';
import path from 'node:path';

/** The default state directory of `ambit up`; its cluster keeps the plain `ambit` prefix. */
export const DEFAULT_STATE_DIR = '/var/lib/ambit';

/**
 * Everything a cluster creates on the machine (namespaces, /etc/netns entries) is named from a
 * prefix derived from its state directory, so clusters with different state directories coexist.
 */
export function clusterPrefix(stateDir: string): string {
  const abs = path.resolve(stateDir);
  if (abs === DEFAULT_STATE_DIR) return 'ambit';
  return 'a' + createHash('sha256').update(abs).digest('hex').slice(0, 6);
}

/** Where each piece of a cluster lives inside its state directory. */
export function layout(stateDir: string) {
  const root = path.resolve(stateDir);
  return {
    root,
    store: path.join(root, 'store'),
    cluster: path.join(root, 'cluster.json'),
    runnerPid: path.join(root, 'runner.pid'),
    runnerLog: path.join(root, 'runner.log'),
    pods: path.join(root, 'pods'),
    podDir: (ns: string, name: string) => path.join(root, 'pods', `${ns}_${name}`),
    cni: path.join(root, 'cni'),
    components: path.join(root, 'components'),
    ca: path.join(root, 'ca'),
  };
}

export type Layout = ReturnType<typeof layout>;

/** The name of the host port-forward to the control plane's dashboard in `ClusterInfo.forwards`. */
export const DASHBOARD_FORWARD = 'dashboard';
/** The control plane's dashboard port (Kiali's), also the host port `ambit up` tries first. */
export const DASHBOARD_PORT = 20001;

/** One step of building the cluster, as `ambit up` shows its progress. */
export interface ClusterStep {
  name: string;
  state: 'running' | 'done' | 'failed';
  detail?: string;
  /** How long it took, once finished. */
  ms?: number;
}

/** The record `ambit up` writes so that other commands find the cluster. */
export interface ClusterInfo {
  prefix: string;
  stateDir: string;
  nodes: string[];
  /** The runner's PID while it runs. */
  runnerPid?: number;
  /** Host loopback port-forwards: name → `127.0.0.1:port`. */
  forwards: Record<string, string>;
  createdAt: string;
  /** The build steps so far (`ambit up --detach` reads them to show progress). */
  steps?: ClusterStep[];
}
