// `ambit ztunnel-config workloads|services|policies|certificates|connections`, like `istioctl
// ztunnel-config`: reads the ztunnels' admin `/config_dump` through the port-forwards `ambit up`
// made and prints Istio's tables (cli/commands/ztunnel-config-view.ts).
import { Command } from 'commander';
import { table } from '../format.js';
import { addStateDir, readClusterInfo, stateDirOf } from './common.js';
import { PER_NODE, SECTIONS, mergeNodes, parseSection, sectionTable, ztunnelAdmins, type ConfigDump, type Section } from './ztunnel-config-view.js';

export interface InspectIO {
  out: (s: string) => void;
}

const defaultIO: InspectIO = { out: (s) => console.log(s) };

/** GETs JSON from a loopback forward, with an error that says which component did not answer. */
export async function getJson<T>(what: string, url: string): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch (e) {
    throw new Error(`${what} did not answer at ${url}: ${(e as Error).message}; is the cluster running (ambit up)?`);
  }
  if (!res.ok) throw new Error(`${what} answered ${res.status} at ${url}`);
  return (await res.json()) as T;
}

/** The forwards of the running cluster of a state directory. */
export function clusterForwards(stateDir: string): Record<string, string> {
  const info = readClusterInfo(stateDir);
  if (!info) throw new Error(`no cluster in ${stateDir}: run \`ambit up --state-dir ${stateDir}\` first`);
  return info.forwards;
}

type Opts = { node?: string; output?: string; stateDir?: string };

/** The nodes whose ztunnels a section is read from: `--node`, else the first (per-node sections: all). */
function nodesFor(section: Section, admins: Map<string, string>, node: string | undefined): string[] {
  if (node) return [node];
  return PER_NODE.has(section) ? [...admins.keys()] : [[...admins.keys()][0]!];
}

export function ztunnelConfigCommand(io: InspectIO = defaultIO): Command {
  return addStateDir(new Command('ztunnel-config'))
    .description(`show what a ztunnel knows, from its /config_dump: ${SECTIONS.join(', ')} or all`)
    .argument('<type>', `${SECTIONS.join('|')}|all`)
    .option('--node <name>', 'the node whose ztunnel to read (default: the first; certificates and connections: every node)')
    .option('-o, --output <format>', 'table (default) or json')
    .action(async (type: string, opts: Opts) => {
      const sections: Section[] = type === 'all' ? [...SECTIONS] : [parseSection(type)];
      if (opts.output && opts.output !== 'json' && opts.output !== 'table') throw new Error(`--output: unknown format ${opts.output}; use table or json`);
      const admins = ztunnelAdmins(clusterForwards(stateDirOf(opts)));
      if (admins.size === 0) throw new Error('this cluster runs no ztunnel (started with --no-mesh, or --kubernetes where the Helm chart runs it)');
      if (opts.node && !admins.has(opts.node)) throw new Error(`--node: no ztunnel on node "${opts.node}"; nodes: ${[...admins.keys()].join(', ')}`);
      const wanted = [...new Set(sections.flatMap((s) => nodesFor(s, admins, opts.node)))];
      const dumps = new Map(await Promise.all(wanted.map(async (node) => [node, await getJson<ConfigDump>(`ztunnel on ${node}`, `http://${admins.get(node)!}/config_dump`)] as const)));
      const json: Record<string, unknown> = {};
      const text: string[] = [];
      for (const section of sections) {
        const nodes = nodesFor(section, admins, opts.node);
        if (opts.output === 'json') {
          json[section] = nodes.length === 1 ? dumps.get(nodes[0]!)![section] ?? [] : nodes.flatMap((n) => (dumps.get(n)![section] ?? []).map((x) => ({ node: n, ...x })));
          continue;
        }
        const tables = nodes.map((n) => ({ node: n, table: sectionTable(section, dumps.get(n)!) }));
        const t = tables.length === 1 ? tables[0]!.table : mergeNodes(tables);
        text.push((sections.length > 1 ? `${section.toUpperCase()}\n` : '') + table(t.header, t.rows));
      }
      if (opts.output === 'json') io.out(JSON.stringify(sections.length === 1 ? json[sections[0]!] : json, null, 2));
      else io.out(text.join('\n\n'));
    });
}
