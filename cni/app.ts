// The node agent's composition root: probe SNAT, recovery of the pods a previous agent enrolled,
// the ZDS server for ztunnel, the CNI event server for the plugin, the watches, and the metrics
// endpoint. close() stops serving but leaves every pod's redirection in place: pods stay
// protected while the agent restarts, and the next agent takes them over.
import { openStore } from '../lib/store/index.js';
import { Closers } from '../lib/sys/closers.js';
import type { ClusterStore } from '../lib/store/types.js';
import { silentLogger, type Logger } from '../lib/telemetry/log.js';
import { ZdsServer } from '../lib/zds/index.js';
import { NodeAgent } from './agent/agent.js';
import { PodController, type RecoveryReport } from './agent/controller.js';
import { findPodNetns } from './agent/netns-finder.js';
import { chainCniConfig } from './agent/chain.js';
import { installPlugin, PLUGIN_BINARY, uninstallPlugin } from '../lib/cni-plugin/install.js';
import type { KubeStore } from '../lib/store/kube.js';
import { detectUninstall, unchainCniConfig } from './agent/uninstall.js';
import { cniHandlers } from './agent/events.js';
import { AgentMetrics } from './agent/metrics.js';
import { startAdminServer, type AdminServer } from '../lib/admin/server.js';
import { monitoringRoutes } from './agent/monitoring.js';
import { PodRedirector, ProbeSnat, describeBackend } from './agent/rules/index.js';
import type { Config } from './config.js';
import { startEventServer, type EventServer } from './plugin/server.js';
import type { StatusReply } from './plugin/protocol.js';

export interface CniAgentDeps {
  logger?: Logger;
  /** A store to use instead of opening config.storeDir (not closed by close()). */
  store?: ClusterStore;
  /** Node.js process metrics in the registry (default true; tests running several agents turn it off). */
  defaultMetrics?: boolean;
}

export interface CniAgent {
  cniSocket: string;
  zdsSocket: string;
  /** host:port of /metrics, /readyz, /healthz/ready, /debug/pods as bound. */
  metricsAddress: string;
  metricsPort: number;
  recovery: RecoveryReport;
  agent: NodeAgent;
  controller: PodController;
  zds: ZdsServer;
  metrics: AgentMetrics;
  readiness(): StatusReply;
  close(): Promise<void>;
}

const DRAIN_MS = 10_000;

export async function startCniAgent(config: Config, deps: CniAgentDeps = {}): Promise<CniAgent> {
  const log = deps.logger ?? silentLogger();
  const storeLog = log.child({ part: 'store' });
  const store = deps.store ?? (config.kube ? openStore({ kube: true, ...config.kube }, { logger: storeLog, fieldManager: 'ambit-cni-agent' }) : openStore(config.storeDir, { logger: storeLog }));
  const metrics = new AgentMetrics({ defaultMetrics: deps.defaultMetrics ?? true });
  const state = { probe: false, listed: false, cni: false, accepting: true };
  const readiness = (): StatusReply => {
    const missing = [!state.probe && 'probe SNAT not set up', !state.listed && 'cluster store not listed yet', !state.cni && 'CNI socket not listening'].filter(Boolean);
    if (!state.accepting) missing.push('shutting down');
    return missing.length === 0 ? { ready: true } : { ready: false, message: missing.join(', ') };
  };
  const closers = new Closers(log);
  const closeAll = (): Promise<void> => closers.closeAll();
  if (!deps.store) closers.push(() => store.close());
  try {
    // Filled in as they are built: the endpoint answers (not ready) from the start.
    const live: { agent?: NodeAgent; controller?: PodController } = {};
    const monitoring: AdminServer = await startAdminServer({
      name: 'metrics',
      host: config.metrics.host,
      port: config.metrics.port,
      routes: monitoringRoutes({
        registry: metrics.registry,
        readiness,
        pods: () => ({ node: config.node, pods: live.agent?.list() ?? [], retrying: live.controller?.reconciler.failing ?? [] }),
      }),
      log,
      inUseHint: 'is another cni-agent running in this namespace? use --metrics-address',
    });
    closers.push(() => monitoring.close());

    const redirector = new PodRedirector({ backend: config.redirectBackend, log });
    const probe = new ProbeSnat({
      backend: config.probeBackend, ipv6: config.probeIpv6, log,
      ...(config.nodeNetns ? { netns: config.nodeNetns } : {}),
    });
    await probe.setup();
    state.probe = true;
    log.info({ redirect: describeBackend(redirector.backend), probe: probe.kind }, 'redirection back ends');

    const zds = new ZdsServer({ socketPath: config.zdsSocket, ackTimeoutMs: config.zdsAckTimeoutMs, logger: log.child({ part: 'zds' }) });
    const agent = new NodeAgent({
      store, redirector, probe, zds, metrics, log,
      settings: { node: config.node, excludeNamespaces: config.excludeNamespaces, dnsCapture: config.dnsCapture, probeIpv6: config.probeIpv6 },
    });
    // In Kubernetes nothing annotates a pod's netns: running pods are found through /proc.
    const ctl = new PodController({ agent, store, metrics, log, ...(config.kube ? { findNetns: (uid: string) => findPodNetns(uid) } : {}) });
    Object.assign(live, { agent, controller: ctl });
    const recovery = await ctl.recover();
    state.listed = true;

    const countZtunnels = (): void => metrics.ztunnels.set(zds.status().length);
    zds.on('ready', countZtunnels);
    zds.on('disconnect', countZtunnels);
    // A ztunnel that just took its snapshot can take the pods that failed for want of one.
    zds.on('snapshotSent', () => ctl.reconciler.retryNow());
    await zds.start();
    closers.push(() => zds.close());

    const cni: EventServer = await startEventServer(config.cniSocket, cniHandlers({
      agent, store, metrics, log, readiness, accepting: () => state.accepting,
    }), log);
    closers.push(() => cni.close());
    state.cni = true;
    // Only now: once chained, every new pod's ADD asks this agent, which must already answer.
    if (config.cniBinDir) log.info({ plugin: await installPlugin(config.cniBinDir) }, 'installed the CNI plugin');
    if (config.cniConfDir) {
      const chained = await chainCniConfig(config.cniConfDir, { type: PLUGIN_BINARY, agentSocket: cni.socketPath, excludeNamespaces: config.excludeNamespaces });
      log.info({ file: chained.file, changed: chained.changed }, 'ambit-cni chained into the node CNI configuration');
    }
    /** Uninstall: new pods get no redirection, then every enrolled pod leaves the mesh. */
    const leaveMesh = async (): Promise<void> => {
      if (config.cniConfDir) {
        const file = await unchainCniConfig(config.cniConfDir).catch((err: Error) => log.warn({ err: err.message }, 'unchaining ambit-cni failed'));
        log.info({ file }, 'ambit-cni unchained from the node CNI configuration');
      }
      if (config.cniBinDir) await uninstallPlugin(config.cniBinDir).catch((err: Error) => log.warn({ err: err.message }, 'removing the plugin failed'));
      for (const entry of agent.list()) {
        await agent.unenrol(entry, 'uninstall', true).catch((err: Error) => log.warn({ pod: entry.key, err: err.message }, 'unenrolling failed'));
      }
    };
    ctl.start();
    log.info({ node: config.node, cniSocket: config.cniSocket, zdsSocket: config.zdsSocket, metrics: monitoring.address }, 'cni-agent ready');

    return {
      cniSocket: cni.socketPath,
      zdsSocket: config.zdsSocket,
      metricsAddress: monitoring.address,
      metricsPort: monitoring.port,
      recovery, agent, controller: ctl, zds, metrics, readiness,
      close: async () => {
        if (!state.accepting) return;
        state.accepting = false;
        ctl.stop();
        // Let operations in flight finish (a CNI ADD answers), but do not wait forever.
        await Promise.race([agent.queue.idle(), new Promise((r) => setTimeout(r, DRAIN_MS).unref())]);
        const uninstall = config.kube && config.pod ? await detectUninstall(store as KubeStore, config.pod.namespace, config.pod.name).catch((err: Error) => {
          log.warn({ err: err.message }, 'cannot tell an uninstall from a restart; leaving the pods in the mesh');
          return false;
        }) : false;
        if (uninstall) await leaveMesh();
        await closeAll();
        log.info(uninstall ? 'cni-agent uninstalled: the node left the mesh' : 'cni-agent stopped; pod redirection left in place');
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
