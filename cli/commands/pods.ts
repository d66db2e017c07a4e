// `ambit exec` and `ambit logs`: reach into a running pod of the local cluster.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { Command } from 'commander';
import { POD, type Pod } from '../../lib/k8s/types.js';
import { NETNS_ANNOTATION } from '../local/kubelet.js';
import { layout } from '../local/layout.js';
import { podLogDir } from '../local/cluster.js';
import { readLogs } from '../local/runtime/logs.js';
import { addStateDir, clusterStore, podRef, stateDirOf } from './common.js';

async function findPod(stateDir: string, ref: { namespace: string; name: string }): Promise<Pod> {
  const store = await clusterStore(stateDir);
  try {
    const pod = await store.get<Pod>({ ...POD, ...ref });
    if (!pod) throw new Error(`pod ${ref.namespace}/${ref.name} not found (see \`ambit get pods -n ${ref.namespace}\`)`);
    return pod;
  } finally {
    await store.close();
  }
}

export function execCommand(): Command {
  return addStateDir(new Command('exec'))
    .description('run a command inside a pod\'s network namespace: ambit exec NS/POD -- CMD [ARGS…]')
    .argument('<pod>', 'NS/POD, or POD with -n')
    .argument('<command...>', 'the command and its arguments (after --)')
    .option('-n, --namespace <ns>', 'namespace of the pod')
    .option('-c, --container <name>', 'container whose environment to use (default: the first)')
    .action(async (pod: string, argv: string[], opts: { namespace?: string; container?: string; stateDir?: string }) => {
      const ref = podRef(pod, opts.namespace);
      const p = await findPod(stateDirOf(opts), ref);
      const netns = p.metadata.annotations?.[NETNS_ANNOTATION];
      if (!netns || p.status?.phase !== 'Running') throw new Error(`pod ${ref.namespace}/${ref.name} is not running (phase ${p.status?.phase ?? 'Pending'})`);
      const container = opts.container ? p.spec.containers.find((c) => c.name === opts.container) : p.spec.containers[0];
      if (!container) throw new Error(`pod ${ref.namespace}/${ref.name} has no container ${opts.container}`);
      // As in the pod: `ambit` on the PATH, the container's own variables set.
      const env: NodeJS.ProcessEnv = { ...process.env, PATH: `${path.join(layout(stateDirOf(opts)).root, 'bin')}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOSTNAME: p.metadata.name };
      for (const e of container.env ?? []) if (e.value !== undefined) env[e.name] = e.value;
      const child = spawn('ip', ['netns', 'exec', netns, ...argv], { stdio: 'inherit', env, cwd: container.workingDir });
      const code = await new Promise<number>((resolve) => {
        child.on('error', (e) => {
          console.error(`ambit exec: ${e.message}`);
          resolve(127);
        });
        child.on('exit', (c, sig) => resolve(c ?? (sig ? 128 + 15 : 1)));
      });
      process.exitCode = code;
    });
}

export function logsCommand(): Command {
  return addStateDir(new Command('logs'))
    .description('print the logs of a pod\'s container: ambit logs NS/POD')
    .argument('<pod>', 'NS/POD, or POD with -n')
    .option('-n, --namespace <ns>', 'namespace of the pod')
    .option('-c, --container <name>', 'container (default: the first)')
    .option('-f, --follow', 'keep printing new lines')
    .option('--tail <n>', 'only the last N lines', (v) => Number(v))
    .option('--timestamps', 'prefix each line with its time')
    .action(async (pod: string, opts: { namespace?: string; container?: string; follow?: boolean; tail?: number; timestamps?: boolean; stateDir?: string }) => {
      const stateDir = stateDirOf(opts);
      const ref = podRef(pod, opts.namespace);
      const p = await findPod(stateDir, ref);
      const name = opts.container ?? p.spec.containers[0]?.name;
      if (!name || !p.spec.containers.some((c) => c.name === name)) {
        throw new Error(`container ${name} is not valid for pod ${ref.namespace}/${ref.name}: choose one of ${p.spec.containers.map((c) => c.name).join(', ')}`);
      }
      const file = path.join(podLogDir(layout(stateDir), ref.namespace, ref.name), `${name}.log`);
      const ac = new AbortController();
      process.once('SIGINT', () => ac.abort());
      for await (const line of readLogs(file, { follow: opts.follow ?? false, ...(opts.tail !== undefined ? { tail: opts.tail } : {}), timestamps: opts.timestamps ?? false, signal: ac.signal })) {
        process.stdout.write(line + '\n');
      }
    });
}
