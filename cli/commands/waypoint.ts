// `ambit waypoint apply|list|delete`, behaving like `istioctl waypoint`: apply writes a Gateway of
// class istio-waypoint (the control plane deploys it), optionally waits for Programmed=True and
// labels the namespace `istio.io/use-waypoint=NAME`; list shows the waypoints and their state;
// delete removes their Gateways (the control plane removes what it deployed). They are added to
// the `ambit waypoint` command, whose own action runs the waypoint proxy.
import { Command } from 'commander';
import type { ClusterStore, KubeObject } from '../../lib/store/types.js';
import { NAMESPACE } from '../../lib/k8s/types.js';
import { DEFAULT_WAYPOINT_NAME, GATEWAY, GATEWAY_LABELS, gatewayAddresses } from '../../lib/k8s/gateway.js';
import { parseDuration } from '../../lib/config/duration.js';
import { table } from '../format.js';
import { addStateDir, clusterStore, stateDirOf } from './common.js';
import { checkWaypointName, isProgrammed, isWaypoint, mergeForApply, parseTrafficType, waitTimeoutMessage, waypointGateway, waypointRow } from './waypoint-view.js';

export interface WaypointIO {
  out: (line: string) => void;
  err: (line: string) => void;
  /** Poll interval of --wait (1 s, as istioctl). */
  pollMs?: number;
}

const defaultIO: WaypointIO = { out: (l) => console.log(l), err: (l) => console.error(l) };

type Common = { namespace: string; stateDir?: string };

async function withStore<T>(opts: { stateDir?: string }, fn: (s: ClusterStore) => Promise<T>): Promise<T> {
  const store = await clusterStore(stateDirOf(opts));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

const nsKey = (name: string) => ({ ...NAMESPACE, name });
const gwKey = (namespace: string, name: string) => ({ ...GATEWAY, namespace, name });

async function waitProgrammed(store: ClusterStore, namespace: string, name: string, timeout: string, pollMs: number): Promise<KubeObject> {
  const deadline = Date.now() + parseDuration(timeout, '--waypoint-timeout');
  for (;;) {
    const gw = await store.get(gwKey(namespace, name));
    if (gw && isProgrammed(gw)) return gw;
    if (Date.now() >= deadline) throw new Error(waitTimeoutMessage(gw, namespace, name, timeout));
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(0, deadline - Date.now()))));
  }
}

function applyCommand(io: WaypointIO): Command {
  return addStateDir(new Command('apply'))
    .description('deploy a waypoint: write Gateway NAME of class istio-waypoint in the namespace')
    .option('-n, --namespace <ns>', 'namespace of the waypoint', 'default')
    .option('--name <name>', 'name of the waypoint', DEFAULT_WAYPOINT_NAME)
    .option('--for <type>', 'traffic the waypoint serves: service, workload, all or none (default service)', parseTrafficType)
    .option('--enroll-namespace', 'label the namespace istio.io/use-waypoint=NAME, so its services use the waypoint')
    .option('--overwrite', 'with --enroll-namespace: replace a different istio.io/use-waypoint label')
    .option('-w, --wait', 'wait until the waypoint is programmed (Programmed=True)')
    .option('--waypoint-timeout <duration>', 'how long --wait waits', '90s')
    .action(async (o: Common & { name: string; for?: ReturnType<typeof parseTrafficType>; enrollNamespace?: boolean; overwrite?: boolean; wait?: boolean; waypointTimeout: string }) => {
      checkWaypointName(o.name);
      parseDuration(o.waypointTimeout, '--waypoint-timeout');
      await withStore(o, async (store) => {
        const ns = await store.get(nsKey(o.namespace));
        if (!ns) throw new Error(`namespace "${o.namespace}" not found; create it first, or pick another with -n`);
        if (o.enrollNamespace) {
          const current = ns.metadata.labels?.[GATEWAY_LABELS.useWaypoint];
          if (current !== undefined && current !== o.name && !o.overwrite) {
            io.err(`⚠️ namespace ${o.namespace} already uses waypoint "${current}" (label ${GATEWAY_LABELS.useWaypoint}); nothing done. Use --overwrite to switch it to "${o.name}".`);
            return;
          }
          if (ns.metadata.labels?.[GATEWAY_LABELS.dataplaneMode] !== 'ambient') {
            io.err(`⚠️ namespace ${o.namespace} is not in the ambient mesh, so its traffic does not reach the waypoint; enroll it with: ambit label namespace ${o.namespace} ${GATEWAY_LABELS.dataplaneMode}=ambient`);
          }
        }
        const existing = await store.get(gwKey(o.namespace, o.name));
        if (existing && !isWaypoint(existing)) throw new Error(`gateway ${o.namespace}/${o.name} exists and is not a waypoint (class ${String((existing.spec as { gatewayClassName?: unknown }).gatewayClassName)}); choose another --name`);
        const gw = mergeForApply(waypointGateway(o.namespace, o.name, o.for), existing);
        if (existing) await store.apply(gw);
        else await store.create(gw);
        io.out(`✅ waypoint ${o.namespace}/${o.name} applied`);
        if (o.wait) {
          const ready = await waitProgrammed(store, o.namespace, o.name, o.waypointTimeout, io.pollMs ?? 1000);
          const addr = gatewayAddresses(ready).map((a) => a.value).join(', ');
          io.out(`✅ waypoint ${o.namespace}/${o.name} programmed${addr ? ` (${addr})` : ''}`);
        }
        if (o.enrollNamespace) {
          await store.patch(nsKey(o.namespace), { metadata: { labels: { [GATEWAY_LABELS.useWaypoint]: o.name } } });
          io.out(`✅ namespace ${o.namespace} labeled with "${GATEWAY_LABELS.useWaypoint}: ${o.name}"`);
        }
      });
    });
}

function listCommand(io: WaypointIO): Command {
  return addStateDir(new Command('list'))
    .description('list waypoints: namespace, name, traffic type, programmed, address')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'waypoints of every namespace')
    .action(async (o: Common & { allNamespaces?: boolean }) => {
      const gws = await withStore(o, (store) => store.list(GATEWAY, o.allNamespaces ? {} : { namespace: o.namespace }));
      const rows = gws.filter(isWaypoint).map(waypointRow);
      if (rows.length === 0) {
        io.out(o.allNamespaces ? 'No waypoints found.' : `No waypoints found in namespace ${o.namespace}.`);
        return;
      }
      rows.sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
      io.out(table(['NAMESPACE', 'NAME', 'TRAFFIC-TYPE', 'PROGRAMMED', 'ADDRESS'], rows.map((r) => [r.namespace, r.name, r.trafficType, r.programmed, r.address])));
    });
}

function deleteCommand(io: WaypointIO): Command {
  return addStateDir(new Command('delete'))
    .description(`delete waypoints by name (default: ${DEFAULT_WAYPOINT_NAME}), or --all of the namespace`)
    .argument('[names...]', 'waypoint names')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('--all', 'delete every waypoint of the namespace')
    .action(async (names: string[], o: Common & { all?: boolean }) => {
      if (o.all && names.length > 0) throw new Error('delete: give waypoint names or --all, not both');
      let missing = 0;
      let total = 0;
      await withStore(o, async (store) => {
        const targets = o.all ? (await store.list(GATEWAY, { namespace: o.namespace })).filter(isWaypoint).map((g) => g.metadata.name) : names.length ? names : [DEFAULT_WAYPOINT_NAME];
        total = targets.length;
        if (o.all && targets.length === 0) io.out(`No waypoints found in namespace ${o.namespace}.`);
        const ns = await store.get(nsKey(o.namespace));
        for (const name of targets) {
          const gw = await store.get(gwKey(o.namespace, name));
          if (!gw) {
            missing++;
            io.err(`waypoint ${o.namespace}/${name} not found`);
            continue;
          }
          if (!isWaypoint(gw)) {
            missing++;
            io.err(`gateway ${o.namespace}/${name} is not a waypoint (class ${String((gw.spec as { gatewayClassName?: unknown }).gatewayClassName)}); delete it with: ambit delete gateway ${name} -n ${o.namespace}`);
            continue;
          }
          await store.delete(gwKey(o.namespace, name));
          io.out(`waypoint ${o.namespace}/${name} deleted`);
          if (ns?.metadata.labels?.[GATEWAY_LABELS.useWaypoint] === name) {
            io.err(`⚠️ namespace ${o.namespace} still has ${GATEWAY_LABELS.useWaypoint}=${name}; its services report WaypointNotFound until you remove it: ambit label namespace ${o.namespace} ${GATEWAY_LABELS.useWaypoint}-`);
          }
        }
      });
      if (missing) throw new Error(`delete: ${missing} of ${total} waypoint(s) not deleted`);
    });
}

/**
 * Adds apply, list and delete to `parent` (the `ambit waypoint` command). Its options are only
 * read before a subcommand's name, so `--name`/`--namespace` after `apply` are apply's.
 */
export function addWaypointCommands(parent: Command, io: WaypointIO = defaultIO): Command {
  parent.enablePositionalOptions();
  for (const c of [applyCommand(io), listCommand(io), deleteCommand(io)]) parent.addCommand(c);
  return parent;
}
