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

export function ztunnelConfigCommand(io: InspectIO = defaultIO): Command {
  return addStateDir(new Command('ztunnel-config'))
    .description(`show what a ztunnel knows, from its /config_dump: ${SECTIONS.join(', ')}`)
    .argument('<type>', SECTIONS.join('|'))
    .option('--node <name>', 'the node whose ztunnel to read (default: the first; certificates and connections: every node)')
    .option('-o, --output <format>', 'table (default) or json')
    .action(async (type: string, opts: Opts) => {
      const section: Section = parseSection(type);
      if (opts.output && opts.output !== 'json' && opts.output !== 'table') throw new Error(`--output: unknown format ${opts.output}; use table or json`);
      const admins = ztunnelAdmins(clusterForwards(stateDirOf(opts)));
      if (admins.size === 0) throw new Error('this cluster runs no ztunnel (started with --no-mesh, or --kubernetes where the Helm chart runs it)');
      let nodes: string[];
      if (opts.node) {
        if (!admins.has(opts.node)) throw new Error(`--node: no ztunnel on node "${opts.node}"; nodes: ${[...admins.keys()].join(', ')}`);
        nodes = [opts.node];
      } else {
        nodes = PER_NODE.has(section) ? [...admins.keys()] : [[...admins.keys()][0]!];
      }
      const dumps = await Promise.all(nodes.map(async (node) => ({ node, dump: await getJson<ConfigDump>(`ztunnel on ${node}`, `http://${admins.get(node)!}/config_dump`) })));
      if (opts.output === 'json') {
        const out = nodes.length === 1 ? dumps[0]!.dump[section] ?? [] : dumps.flatMap((d) => (d.dump[section] ?? []).map((x) => ({ node: d.node, ...x })));
        io.out(JSON.stringify(out, null, 2));
        return;
      }
      const tables = dumps.map((d) => ({ node: d.node, table: sectionTable(section, d.dump) }));
      const t = tables.length === 1 ? tables[0]!.table : mergeNodes(tables);
      io.out(table(t.header, t.rows));
    });
}
