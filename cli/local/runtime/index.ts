// The local cluster's kubelet: what the runner (cli/local) uses to run pods.
export { PodRuntime, type PodRuntimeOptions } from './runtime.js';
export { readLogs, parseRecord, type ReadLogsOptions } from './logs.js';
export { killLeftovers, pidsFilePath, readPidsFile, type PidsFile, type PidEntry } from './pids.js';
export { netnsLauncher, directLauncher, type Launcher, type LaunchSpec } from './launcher.js';
export { plainDial, type Dial } from './probers.js';
export { nodeDial } from './dial.js';
export { realClock, type Clock } from './clock.js';
export { computePodStatus, podPhase, statusChanged } from './pod-status.js';
export { parsePodSpec } from './validate.js';
export { KUBELET_BACKOFF, type BackoffConfig } from './restart.js';
export type * from './types.js';
