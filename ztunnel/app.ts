// ztunnel's one composition root: state ← xDS; certificates ← CA; pods ← ZDS, each with its proxy
// listening inside the pod's namespace; admin, metrics and readiness in ztunnel's own namespace.
// Returns the addresses actually bound (tests use port 0) and close(), which drains.
import * as grpc from '@grpc/grpc-js';
import { getOriginalDst } from '../lib/native/index.js';
import { Closers } from '../lib/sys/closers.js';
import type { SockAddr } from '../lib/native/types.js';
import type net from 'node:net';
import { AccessLog } from '../lib/telemetry/access-log.js';
import { createLogger, type Logger } from '../lib/telemetry/log.js';
import { createMetricsRegistry, HboneMetrics, TcpMetrics } from '../lib/telemetry/metrics.js';
import { createTracer } from '../lib/telemetry/tracing.js';
import type { BackoffOptions } from '../lib/xds/types.js';
import { healthzRoutes, proxyMetricsRoutes } from '../lib/admin/routes.js';
import { adminRoutes } from './admin/admin.js';
import type { Routes } from '../lib/admin/routes.js';
import { startAdminServer, type AdminServer } from '../lib/admin/server.js';
import type { Config } from './config.js';
import { GrpcCaClient, type CaClient } from '../lib/ca-client/ca-client.js';
import { SecretManager } from '../lib/ca-client/secret-manager.js';
import { podListenerFactory, type ListenerFactory } from './inpod/listeners.js';
import { registerInPodMetrics } from './inpod/metrics.js';
import { InPodRegistry } from './inpod/registry.js';
import { ZtunnelZds } from './inpod/zds-client.js';
import { ConnectionManager } from './proxy/connection-manager.js';
import type { ProxyInputs } from './proxy/context.js';
import { LocalPods } from './proxy/local-pods.js';
import { PodProxy, type PodProxyOptions } from './proxy/pod-proxy.js';
import { netnsPodNet, type PodNet } from './proxy/sockets.js';
import { ProxyState } from './state/state.js';
import { createXdsClient } from './xds/client.js';
import { readMeshRoot, tokenSource } from '../lib/ca-client/control-plane-auth.js';

export interface ZtunnelDeps {
  logger?: Logger;
  /** Default: gRPC over TLS to config.caAddress, trusting config.caRootPath. */
  caClient?: CaClient;
  /** Default: TLS trusting config.caRootPath. Tests pass insecure credentials for a fake server. */
  xdsCredentials?: grpc.ChannelCredentials;
  /** Default: listeners inside each pod's namespace on 15001/15006/15008. */
  listeners?: ListenerFactory;
  /** Default: sockets inside the pod's namespace with mark 0x539. */
  podNet?: (netnsFd: number) => PodNet;
  originalDst?: (socket: net.Socket) => SockAddr;
  proxy?: PodProxyOptions;
  xdsBackoff?: Partial<BackoffOptions>;
  zdsBackoff?: BackoffOptions;
  /** Retry period of pods whose proxy failed to start (default 5 s). */
  podRetryMs?: number;
}

export interface ZtunnelAddresses {
  admin: string;
  metrics: string;
  readiness: string;
}

export interface Ztunnel {
  addresses: ZtunnelAddresses;
  state: ProxyState;
  pods: InPodRegistry;
  secrets: SecretManager;
  /** Why readiness says no (empty: ready). */
  notReady(): string[];
  /** Resolves once the first ZDS snapshot and the first xDS sync have arrived. */
  whenReady(): Promise<void>;
  /** Stops taking pods and connections, lets live ones finish for up to `drainMs` (default config.drainMs), then closes everything. */
  close(drainMs?: number): Promise<void>;
}

export async function startZtunnel(config: Config, deps: ZtunnelDeps = {}): Promise<Ztunnel> {
  const log = deps.logger ?? createLogger('ztunnel', config.logLevel);
  const closers = new Closers(log);
  const drainBudget = { ms: config.drainMs };
  const closeAll = (): Promise<void> => closers.closeAll();
  try {
    const registry = createMetricsRegistry({ component: 'ztunnel' });
    const state = new ProxyState({ network: config.network, logger: log.child({ subsystem: 'state' }) });
    const token = tokenSource({ file: config.credentialPath, value: config.credential, hint: 'did `ambit control issue-node-credential` write it? (--credential-file, AMBIT_NODE_CREDENTIAL_FILE)' });
    const rootPem = deps.caClient && deps.xdsCredentials ? undefined : await readMeshRoot(config.caRootPath, "pass --ca-root (XDS_ROOT_CA) pointing at the control plane's root-cert.pem");

    const ca =
      deps.caClient ??
      new GrpcCaClient({
        address: config.caAddress,
        rootsPem: rootPem!,
        credential: async () => (await token()) ?? '',
        clusterId: config.clusterId,
        ...(config.controlPlaneServerName ? { serverName: config.controlPlaneServerName } : {}),
      });
    if (ca instanceof GrpcCaClient) closers.push(() => ca.close());
    const secrets = new SecretManager({ ca, ttlSeconds: config.certTtlSeconds, logger: log.child({ subsystem: 'identity' }) });
    closers.push(() => secrets.close());

    const connections = new ConnectionManager(state, log.child({ subsystem: 'connections' }));
    closers.push(() => connections.close());
    const tracer = createTracer({ settings: config, resource: { service: 'ztunnel', attributes: { 'k8s.node.name': config.nodeName } }, log, registry });
    if (tracer) closers.push(() => tracer.close());
    const inputs: ProxyInputs = {
      state,
      certs: secrets,
      telemetry: { metrics: new TcpMetrics(registry), hbone: new HboneMetrics(registry), accessLog: new AccessLog(log) },
      connections,
      logger: log.child({ subsystem: 'proxy' }),
      originalDst: deps.originalDst ?? getOriginalDst,
      sourceWaitMs: 5_000,
      connectTimeoutMs: config.connectTimeoutMs,
      localPods: new LocalPods(config.sameNodeHandoff),
      ...(tracer ? { tracer } : {}),
    };
    const podNet = deps.podNet ?? ((fd: number) => netnsPodNet(fd));
    const pods = new InPodRegistry({
      createProxy: (info, fd) => new PodProxy(inputs, info, podNet(fd), deps.proxy),
      listeners: deps.listeners ?? podListenerFactory(),
      certs: secrets,
      trustDomain: config.trustDomain,
      drainMs: config.drainMs,
      ...(deps.podRetryMs !== undefined ? { retryMs: deps.podRetryMs } : {}),
      logger: log.child({ subsystem: 'inpod' }),
    });
    registerInPodMetrics(registry, pods);

    const xds = createXdsClient(state, {
      address: config.xdsAddress,
      credentials: deps.xdsCredentials ?? grpc.credentials.createSsl(Buffer.from(rootPem!)),
      token,
      node: { nodeName: config.nodeName, podName: config.podName, podNamespace: config.podNamespace, instanceIp: config.instanceIp, clusterId: config.clusterId },
      ...(config.controlPlaneServerName ? { serverName: config.controlPlaneServerName } : {}),
      ...(deps.xdsBackoff ? { backoff: deps.xdsBackoff } : {}),
      logger: log.child({ subsystem: 'xds' }),
    });
    let xdsSynced = false;
    void xds.synced.then(() => (xdsSynced = true), () => undefined);
    closers.push(() => xds.close());

    const zds = new ZtunnelZds({ socketPath: config.zdsSocket, registry: pods, logger: log.child({ subsystem: 'zds' }), ...(deps.zdsBackoff ? { backoff: deps.zdsBackoff } : {}) });
    // Pods drain after ZDS stops handing new ones over (closers run in reverse).
    closers.push(() => pods.close(drainBudget.ms));
    closers.push(() => zds.close());

    const notReady = (): string[] => {
      const r: string[] = [];
      if (!zds.ready) r.push(`no ZDS snapshot yet from the node agent at ${config.zdsSocket}`);
      else if (!pods.ready) r.push('some pods have no proxy yet (see /config_dump pods)');
      if (!xdsSynced) r.push(`no xDS sync yet from ${config.xdsAddress}`);
      return r;
    };
    // The ports first: a port in use must stop startup before anything connects anywhere.
    const servers: AdminServer[] = [];
    closers.push(() => Promise.all(servers.map((s) => s.close())));
    const listen = (name: string, at: { host: string; port: number }, routes: Routes): Promise<AdminServer> =>
      startAdminServer({ name, host: at.host, port: at.port, routes, log, inUseHint: 'is another ztunnel running in this network namespace?' });
    const admin = await listen('admin', config.admin, adminRoutes({
      workloads: () => state.workloads(),
      services: () => state.services(),
      policies: () => state.policies(),
      certificates: () => secrets.snapshot(),
      pods: () => pods.status(),
      connections: () => connections.list(),
      status: () => ({ ready: notReady().length === 0, notReady: notReady(), xds: xds.state, zds: { connected: zds.connected, snapshotReceived: zds.ready } }),
      config: { ...config, credential: config.credential ? '<redacted>' : undefined },
    }, log));
    servers.push(admin);
    const metrics = await listen('metrics', config.metrics, proxyMetricsRoutes(registry));
    servers.push(metrics);
    const readiness = await listen('readiness', config.readiness, healthzRoutes(() => {
      const reasons = notReady();
      return { ready: reasons.length === 0, reasons };
    }));
    servers.push(readiness);

    xds.start();
    zds.start();
    const addresses = { admin: admin.address, metrics: metrics.address, readiness: readiness.address };
    log.info({ ...addresses, node: config.nodeName, xds: config.xdsAddress, zds: config.zdsSocket }, 'ztunnel started; waiting for the node agent and the control plane');
    let closing: Promise<void> | undefined;
    return {
      addresses,
      state,
      pods,
      secrets,
      notReady,
      whenReady: async () => {
        await Promise.all([zds.whenReady(), xds.synced]);
      },
      close: (drainMs?: number) => {
        drainBudget.ms = drainMs ?? config.drainMs;
        closing ??= closeAll().then(() => log.info('ztunnel stopped'));
        return closing;
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
