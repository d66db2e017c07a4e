// `ambit analyze`: reads the cluster's objects (or manifests given with -f, or both) and prints the
// mistakes lib/analyze finds; exits 1 when any is an error, like `istioctl analyze`.
import { Command } from 'commander';
import { KINDS, kindInfo, kindRef, loadManifests } from '../../lib/store/index.js';
import type { KubeObject } from '../../lib/store/types.js';
import { analyze, formatFindings, hasErrors } from '../../lib/analyze/analyze.js';
import { addStateDir, clusterStore, stateDirOf } from './common.js';

export interface AnalyzeIO {
  out: (s: string) => void;
  setExitCode: (code: number) => void;
}

const defaultIO: AnalyzeIO = { out: (s) => console.log(s), setExitCode: (c) => (process.exitCode = c) };

type Opts = { filename?: string[]; useKube?: boolean; output?: string; stateDir?: string };

/** Every object of the kinds Ambit knows, across namespaces. */
async function clusterObjects(stateDir: string): Promise<KubeObject[]> {
  const store = await clusterStore(stateDir);
  try {
    const out: KubeObject[] = [];
    for (const k of KINDS) out.push(...(await store.list(kindRef(k))));
    return out;
  } finally {
    await store.close();
  }
}

export function analyzeCommand(io: AnalyzeIO = defaultIO): Command {
  return addStateDir(new Command('analyze'))
    .description('find mistakes in mesh configuration: missing waypoints, L7 rules ztunnel cannot enforce, routes to empty services, …')
    .option('-f, --filename <path...>', 'also analyze these manifests (files, directories)')
    .option('--no-use-kube', 'analyze only the -f manifests, not the cluster')
    .option('-o, --output <format>', 'text (default) or json')
    .action(async (opts: Opts) => {
      if (opts.output && opts.output !== 'json' && opts.output !== 'text') throw new Error(`--output: unknown format ${opts.output}; use text or json`);
      if (opts.useKube === false && !opts.filename) throw new Error('--no-use-kube: give the manifests to analyze with -f');
      const objects: KubeObject[] = [];
      if (opts.useKube !== false) objects.push(...(await clusterObjects(stateDirOf(opts))));
      for (const f of opts.filename ?? []) objects.push(...(await loadManifests(f)));
      // A manifest replaces the cluster's copy of the same object, as it would once applied.
      const byKey = new Map<string, KubeObject>();
      for (const o of objects) {
        const obj = kindInfo(o).namespaced && !o.metadata.namespace ? { ...o, metadata: { ...o.metadata, namespace: 'default' } } : o;
        byKey.set(`${obj.kind}/${obj.metadata.namespace ?? ''}/${obj.metadata.name}`, obj);
      }
      const findings = analyze([...byKey.values()]);
      io.out(opts.output === 'json' ? JSON.stringify(findings, null, 2) : formatFindings(findings));
      if (hasErrors(findings)) io.setExitCode(1);
    });
}
