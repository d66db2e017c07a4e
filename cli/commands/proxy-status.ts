// `ambit proxy-status [NAME]`, like `istioctl proxy-status`: the proxies connected to the control
// plane and their sync state per resource type; with NAME, that proxy's versions per type.
import { Command } from 'commander';
import { table } from '../format.js';
import { stateDirOf, addStateDir } from './common.js';
import { clusterForwards, getJson, type InspectIO } from './ztunnel-config.js';
import { controlForward, findProxy, proxyDetailTable, proxyName, proxyStatusTable, type DebugConnection } from './proxy-status-view.js';

const defaultIO: InspectIO = { out: (s) => console.log(s) };

export function proxyStatusCommand(io: InspectIO = defaultIO): Command {
  return addStateDir(new Command('proxy-status'))
    .description('which proxies are connected to the control plane, and whether each type is SYNCED, STALE or NACKED')
    .argument('[name]', "one proxy (pod.namespace, or a prefix): its versions sent, ACKed and NACKed per type")
    .option('-o, --output <format>', 'table (default) or json')
    .action(async (name: string | undefined, opts: { output?: string; stateDir?: string }) => {
      if (opts.output && opts.output !== 'json' && opts.output !== 'table') throw new Error(`--output: unknown format ${opts.output}; use table or json`);
      const at = controlForward(clusterForwards(stateDirOf(opts)));
      if (!at) throw new Error('this cluster has no forward to the control plane (started with --kubernetes? the Helm chart runs it)');
      let conns = await getJson<DebugConnection[]>('the control plane', `http://${at}/debug/connections`);
      if (name !== undefined) {
        conns = findProxy(conns, name);
        if (conns.length === 0) throw new Error(`proxy "${name}" is not connected to the control plane; \`ambit proxy-status\` lists those that are`);
      }
      if (opts.output === 'json') return io.out(JSON.stringify(conns, null, 2));
      if (name === undefined) {
        const t = proxyStatusTable(conns);
        return io.out(conns.length ? table(t.header, t.rows) : 'No proxies are connected to the control plane.');
      }
      io.out(conns.map((c) => `${proxyName(c)} (stream ${c.id} from ${c.peer}${c.connectedAt ? `, since ${c.connectedAt}` : ''})\n${table(proxyDetailTable(c).header, proxyDetailTable(c).rows)}`).join('\n\n'));
    });
}
