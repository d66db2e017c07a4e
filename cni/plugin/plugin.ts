// What the plugin does for each command, with the agent call and the logger injected so that the
// whole behaviour can be tested in process. main.ts wires it to the real process.
import { PATH_ADD, PATH_CHECK, PATH_DEL, PATH_STATUS, type AddReply, type CheckReply, type PodEvent, type StatusReply } from './protocol.js';
import {
  Code, LATEST_VERSION, PLUGIN, PluginError, convertResult, errorJson, parseConfig, parseEnv, resultIps, versionJson,
  type CniEnv, type LogLevel, type PluginConfig,
} from './spec.js';

export interface AgentAnswer {
  status: number;
  body: unknown;
}

/** One request to the agent; rejects (with a message saying why) when the agent cannot be asked. */
export type AgentCall = (socketPath: string, method: 'GET' | 'POST', path: string, body: unknown, timeoutMs: number) => Promise<AgentAnswer>;

type LogFn = (msg: string, fields?: Record<string, unknown>) => void;
export interface Log {
  debug: LogFn;
  info: LogFn;
  warn: LogFn;
}

export interface PluginInput {
  env: Record<string, string | undefined>;
  stdin: string;
  agent?: AgentCall;
  /** Where log lines go (default stderr). */
  write?: (line: string) => void;
}

export interface PluginOutput {
  stdout: string;
  exitCode: number;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };

/** JSON lines on stderr, which runtimes keep with the plugin's failure; pino would cost start-up time. */
function makeLog(level: LogLevel, write: (line: string) => void, base: Record<string, unknown>): Log {
  const at = (l: 'debug' | 'info' | 'warn'): LogFn => (msg, fields) => {
    if (RANK[l] < RANK[level]) return;
    write(JSON.stringify({ level: l, time: new Date().toISOString(), component: PLUGIN, msg, ...base, ...fields }) + '\n');
  };
  return { debug: at('debug'), info: at('info'), warn: at('warn') };
}

const defaultAgent: AgentCall = async (...args) => (await import('./client.js')).requestAgent(...args);

function guessVersion(stdin: string): string {
  try {
    const v = (JSON.parse(stdin) as { cniVersion?: unknown }).cniVersion;
    return typeof v === 'string' ? v : LATEST_VERSION;
  } catch {
    return LATEST_VERSION;
  }
}

export async function runPlugin(input: PluginInput): Promise<PluginOutput> {
  const write = input.write ?? ((line: string) => void process.stderr.write(line));
  try {
    const env = parseEnv(input.env);
    if (env.command === 'VERSION') return { stdout: versionJson(guessVersion(input.stdin)), exitCode: 0 };
    const conf = parseConfig(input.stdin, env.command);
    const pod = podOf(env);
    const log = makeLog(conf.logLevel, write, { command: env.command, containerId: env.containerId.slice(0, 12), ...(pod ? { pod: `${pod.namespace}/${pod.name}` } : {}) });
    const ctx: Ctx = { env, conf, pod, log, agent: input.agent ?? defaultAgent };
    return { stdout: await dispatch(ctx), exitCode: 0 };
  } catch (e) {
    const pe = e instanceof PluginError ? e : new PluginError(Code.Internal, `${PLUGIN}: internal error: ${(e as Error).message}`);
    return { stdout: errorJson(guessVersion(input.stdin), pe), exitCode: 1 };
  }
}

interface Pod {
  namespace: string;
  name: string;
  uid?: string;
}

interface Ctx {
  env: CniEnv;
  conf: PluginConfig;
  pod: Pod | undefined;
  log: Log;
  agent: AgentCall;
}

function podOf(env: CniEnv): Pod | undefined {
  const namespace = env.args.K8S_POD_NAMESPACE;
  const name = env.args.K8S_POD_NAME;
  if (!namespace || !name) return undefined;
  return env.args.K8S_POD_UID ? { namespace, name, uid: env.args.K8S_POD_UID } : { namespace, name };
}

async function dispatch(c: Ctx): Promise<string> {
  switch (c.env.command) {
    case 'ADD':
      return add(c);
    case 'DEL':
      await del(c);
      return '';
    case 'CHECK':
      await check(c);
      return '';
    case 'STATUS':
      await status(c);
      return '';
    default:
      // GC: the plugin keeps no state of its own; the agent collects what it holds itself.
      return '';
  }
}

/** Pods the agent need not be asked about: not Kubernetes pods, or in an excluded namespace. */
function skipReason(c: Ctx): string | undefined {
  if (!c.pod) return 'no K8S_POD_NAMESPACE/K8S_POD_NAME in CNI_ARGS: not a Kubernetes pod';
  if (c.conf.excludeNamespaces.includes(c.pod.namespace)) return `namespace ${c.pod.namespace} is excluded`;
  return undefined;
}

function event(c: Ctx, pod: Pod): PodEvent {
  const ev: PodEvent = {
    podName: pod.name,
    podNamespace: pod.namespace,
    netns: c.env.netns,
    containerId: c.env.containerId,
    ifname: c.env.ifname,
    ips: resultIps(c.conf.prevResult),
  };
  if (pod.uid) ev.podUid = pod.uid;
  return ev;
}

function body<T>(a: AgentAnswer): Partial<T> {
  return typeof a.body === 'object' && a.body !== null ? (a.body as Partial<T>) : {};
}

async function add(c: Ctx): Promise<string> {
  if (!c.conf.prevResult) {
    throw new PluginError(Code.InvalidConfig, `${PLUGIN} is a chained plugin and got no prevResult: list it after the main plugin (e.g. bridge) in the conflist`);
  }
  const out = JSON.stringify(convertResult(c.conf.prevResult, c.conf.cniVersion));
  const skip = skipReason(c);
  if (skip || !c.pod) {
    c.log.debug('passing through', { reason: skip });
    return out;
  }
  const id = `${c.pod.namespace}/${c.pod.name}`;
  const fail = `${PLUGIN}: cannot enrol pod ${id} in ambient`;
  let a: AgentAnswer;
  try {
    a = await c.agent(c.conf.agentSocket, 'POST', PATH_ADD, event(c, c.pod), c.conf.timeoutMs);
  } catch (e) {
    const down = `${fail}: ${(e as Error).message}; is the ambit cni-agent running on this node?`;
    if ((e as Error).name !== 'AgentUnreachable') throw new PluginError(Code.TryAgainLater, down);
    return addWithoutAgent(c, c.pod, out, down, (e as Error).message);
  }
  const r = body<AddReply>(a);
  if (a.status === 200 && (r.status === 'enrolled' || r.status === 'not-enrolled')) {
    c.log.info(r.status === 'enrolled' ? 'pod enrolled in ambient' : 'pod not in ambient; passing through');
    return out;
  }
  if (r.status === 'failed') {
    throw new PluginError(r.retryable ? Code.TryAgainLater : Code.AgentRefused, `${fail}: the node agent says: ${r.message ?? 'failed'}`);
  }
  throw new PluginError(Code.AgentProtocol, `${fail}: the node agent at ${c.conf.agentSocket} answered HTTP ${a.status} without a status`, JSON.stringify(a.body).slice(0, 500));
}

/**
 * The agent cannot be reached: a pod outside the mesh need not wait for it, so the plugin judges
 * the pod itself from the cluster store. In the mesh, or not known for sure: fail closed.
 */
async function addWithoutAgent(c: Ctx, pod: Pod, out: string, down: string, why: string): Promise<string> {
  if (c.conf.storeDir === undefined && c.conf.kubeconfig === undefined) throw new PluginError(Code.TryAgainLater, down);
  let verdict: { inMesh: boolean; detail: string };
  try {
    const { judgeWithoutAgent } = await import('./judge.js');
    verdict = await judgeWithoutAgent({
      ...(c.conf.storeDir !== undefined ? { storeDir: c.conf.storeDir } : {}),
      ...(c.conf.kubeconfig !== undefined ? { kubeconfig: c.conf.kubeconfig } : {}),
      ...(pod.uid !== undefined ? { uid: pod.uid } : {}),
      excludeNamespaces: c.conf.excludeNamespaces, namespace: pod.namespace, name: pod.name, timeoutMs: c.conf.timeoutMs,
    });
  } catch (e) {
    throw new PluginError(Code.TryAgainLater, `${down} The plugin could not judge the pod itself: ${(e as Error).message}`);
  }
  if (verdict.inMesh) throw new PluginError(Code.TryAgainLater, `${down} The pod is in the mesh (${verdict.detail}), so it waits for the agent`);
  c.log.warn('node agent down; pod judged outside the mesh, passing through', { agent: why, reason: verdict.detail });
  return out;
}

/** Best effort: a DEL must succeed so the runtime can always tear a sandbox down. */
async function del(c: Ctx): Promise<void> {
  if (skipReason(c) || !c.pod) return;
  try {
    const a = await c.agent(c.conf.agentSocket, 'POST', PATH_DEL, event(c, c.pod), Math.min(c.conf.timeoutMs, 5000));
    if (a.status !== 200) c.log.warn('node agent did not accept DEL', { status: a.status });
  } catch (e) {
    c.log.warn('node agent not told about DEL', { err: (e as Error).message });
  }
}

async function check(c: Ctx): Promise<void> {
  if (skipReason(c) || !c.pod) return;
  const id = `${c.pod.namespace}/${c.pod.name}`;
  let a: AgentAnswer;
  try {
    a = await c.agent(c.conf.agentSocket, 'POST', PATH_CHECK, event(c, c.pod), c.conf.timeoutMs);
  } catch (e) {
    throw new PluginError(Code.TryAgainLater, `${PLUGIN}: cannot check pod ${id}: ${(e as Error).message}`);
  }
  const r = body<CheckReply>(a);
  if (a.status === 200 && (r.status === 'enrolled' || r.status === 'not-enrolled')) return;
  if (r.status === 'broken') throw new PluginError(Code.CheckFailed, `${PLUGIN}: pod ${id} is enrolled in ambient but its redirection is broken: ${r.message ?? 'no detail'}`);
  throw new PluginError(Code.AgentProtocol, `${PLUGIN}: cannot check pod ${id}: the node agent answered HTTP ${a.status} without a status`);
}

async function status(c: Ctx): Promise<void> {
  let a: AgentAnswer;
  try {
    a = await c.agent(c.conf.agentSocket, 'GET', PATH_STATUS, undefined, Math.min(c.conf.timeoutMs, 5000));
  } catch (e) {
    throw new PluginError(Code.NotAvailable, 'agent not ready', (e as Error).message);
  }
  const r = body<StatusReply>(a);
  if (a.status !== 200 || r.ready !== true) throw new PluginError(Code.NotAvailable, 'agent not ready', r.message ?? `HTTP ${a.status}`);
}
