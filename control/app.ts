// The control plane's one composition root: store → informers → model → xDS sources; CA →
// certificate service; one TLS gRPC server on 15012 for both; metrics/debug on 15014; readiness on
// 15021. Returns the addresses actually bound (tests use port 0) and a close() that undoes it all.
import * as grpc from '@grpc/grpc-js';
import { openStore } from '../lib/store/index.js';
import type { ClusterStore, Kind } from '../lib/store/types.js';
import { createLogger, type Logger } from '../lib/telemetry/log.js';
import { XdsServer, type XdsServerEvents } from '../lib/xds/server.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION, XDS_MAX_MESSAGE_BYTES } from '../lib/xds/types.js';
import { FileAuthenticator } from './ca/authn.js';
import { CertificateAuthority } from './ca/authority.js';
import { NodeAuthorizer } from './ca/node-auth.js';
import { CertificateService } from './ca/service.js';
import { Signer } from './ca/signer.js';
import { registerCertificateService } from './certs/grpc.js';
import { StorePodIndex } from './certs/pod-index.js';
import { RootCertPublisher, writeRootCertFile } from './certs/root-cert.js';
import { ServingCertificateManager } from './certs/serving.js';
import type { Config } from './config.js';
import type { ModelKind } from './model/incremental.js';
import { debugRoutes, readinessRoutes } from './monitoring/routes.js';
import { startAdminServer } from '../lib/admin/server.js';
import { formatHostPort } from '../lib/net/host-port.js';
import { ControlMetrics } from './monitoring/metrics.js';
import { StatusWriter, type StatusTarget } from './status/writer.js';
import { GatewayController } from './gateway/controller.js';
import { AdsGate } from './xds/ads.js';
import { Informer } from './xds/informer.js';
import { MODEL_KINDS, ModelSync } from './xds/model-sync.js';

export interface ControlPlaneDeps {
  /** Default: the File back end at config.storeDir (closed by close()). A given store is left open. */
  store?: ClusterStore;
  logger?: Logger;
  /** More observers of the xDS server (tests, benchmarks), besides the metrics. */
  xdsEvents?: XdsServerEvents;
}

export interface ControlPlaneAddresses {
  grpc: string;
  monitoring: string;
  readiness: string;
}

export interface ControlPlane {
  addresses: ControlPlaneAddresses;
  rootCertPem: string;
  /** `<caDir>/root-cert.pem`, for node agents. */
  rootCertFile: string;
  /** The SPIFFE id in the serving certificate. */
  servingIdentity: string;
  /** A node credential signed with this control plane's key (what `issue-node-credential` writes). */
  issueNodeCredential(nodeName: string, ttlSeconds?: number): string;
  isReady(): boolean;
  /** Resolves once queued status writes and root publications are done (tests). */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const CONFIGMAP: Kind = { apiVersion: 'v1', kind: 'ConfigMap' };
const DEPLOYMENT: Kind = { apiVersion: 'apps/v1', kind: 'Deployment' };
/** The serving certificate's lifetime; it is renewed at half of it. */
const SERVING_TTL_SECONDS = 24 * 3600;
const IN_USE = 'is another control plane running?';

function mergeEvents(list: Array<XdsServerEvents | undefined>): XdsServerEvents {
  const hooks = list.filter((e): e is XdsServerEvents => e !== undefined);
  return {
    streamOpened: (s) => hooks.forEach((h) => h.streamOpened?.(s)),
    streamClosed: (s) => hooks.forEach((h) => h.streamClosed?.(s)),
    pushed: (s, p) => hooks.forEach((h) => h.pushed?.(s, p)),
    acked: (s, a) => hooks.forEach((h) => h.acked?.(s, a)),
    nacked: (s, n) => hooks.forEach((h) => h.nacked?.(s, n)),
  };
}

function bindGrpc(server: grpc.Server, address: string, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(address, creds, (err, port) => (err ? reject(new Error(`cannot listen on ${address} for gRPC: ${err.message}`)) : resolve(port))),
  );
}

export async function startControlPlane(config: Config, deps: ControlPlaneDeps = {}): Promise<ControlPlane> {
  const log = deps.logger ?? createLogger('control', config.logLevel);
  const closers: Array<() => unknown> = [];
  const closeAll = async (): Promise<void> => {
    for (const c of closers.splice(0).reverse()) {
      try {
        await c();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'error while shutting down');
      }
    }
  };
  try {
    const store = deps.store ?? openStore(config.storeDir, { logger: log.child({ sub: 'store' }) });
    if (!deps.store) closers.push(() => store.close());

    const ca = await CertificateAuthority.open({ dir: config.caDir, trustDomain: config.trustDomain, logger: log });
    const authenticator = await FileAuthenticator.open({ dir: config.caDir, logger: log });
    const rootCertFile = await writeRootCertFile(config.caDir, ca.rootPem());

    const informers = new Map<ModelKind, Informer>();
    for (const [kind, ref] of Object.entries(MODEL_KINDS) as Array<[ModelKind, Kind]>) informers.set(kind, new Informer(store, ref, log));
    const configMaps = new Informer(store, CONFIGMAP, log);
    const deployments = config.deploymentController ? new Informer(store, DEPLOYMENT, log) : undefined;
    const all = [...informers.values(), configMaps, ...(deployments ? [deployments] : [])];
    closers.push(() => all.forEach((i) => i.close()));
    const pods = informers.get('pods')!;
    const podIndex = new StorePodIndex(pods);
    closers.push(() => podIndex.close());

    // Created once the model is loaded; the metrics read it lazily.
    const live: { xds?: XdsServer; grpcListening: boolean; gateways?: GatewayController } = { grpcListening: false };
    const metrics = new ControlMetrics(() => live.xds?.connectedClients ?? 0);
    const statusTargets = new Map<string, StatusTarget>([
      // Selector policies get ZtunnelAccepted, targeted ones (enforced by waypoints) WaypointAccepted.
      ['AuthorizationPolicy', { kind: MODEL_KINDS.authorizationPolicies, informer: informers.get('authorizationPolicies')!, owned: ['ZtunnelAccepted', 'WaypointAccepted'] }],
      ['PeerAuthentication', { kind: MODEL_KINDS.peerAuthentications, informer: informers.get('peerAuthentications')!, owned: ['ZtunnelAccepted'] }],
      ['Service', { kind: MODEL_KINDS.services, informer: informers.get('services')!, owned: ['istio.io/WaypointBound'] }],
      ['HTTPRoute', { kind: MODEL_KINDS.httpRoutes, informer: informers.get('httpRoutes')!, owned: ['Accepted', 'ResolvedRefs'] }],
      ['GRPCRoute', { kind: MODEL_KINDS.grpcRoutes, informer: informers.get('grpcRoutes')!, owned: ['Accepted', 'ResolvedRefs'] }],
      ['VirtualService', { kind: MODEL_KINDS.virtualServices, informer: informers.get('virtualServices')!, owned: ['WaypointAccepted'] }],
      ['DestinationRule', { kind: MODEL_KINDS.destinationRules, informer: informers.get('destinationRules')!, owned: ['WaypointAccepted'] }],
      ['RateLimitPolicy', { kind: MODEL_KINDS.rateLimitPolicies, informer: informers.get('rateLimitPolicies')!, owned: ['Accepted'] }],
    ]);
    const status = config.writeStatus ? new StatusWriter(store, statusTargets, log) : undefined;
    if (status) closers.push(() => status.close());
    const modelSync = new ModelSync({
      informers,
      model: { clusterId: config.clusterId, trustDomain: config.trustDomain, rootNamespace: config.rootNamespace, network: config.network, domainSuffix: config.domainSuffix },
      debounce: config.debounce,
      logger: log,
      onCommit: (info) => {
        metrics.modelCommitted(info);
        if (info.changes.contextRebuilt) status?.sync([...modelSync.model.policyStatus.values(), ...modelSync.model.serviceStatus.values(), ...modelSync.model.l7Status.values()]);
      },
    });
    closers.push(() => modelSync.close());

    const ready = (): boolean => live.grpcListening && all.every((i) => i.hasSynced);
    const readiness = await startAdminServer({ name: 'readiness', host: config.readiness.host, port: config.readiness.port, routes: readinessRoutes({ ready, informers: all }), log, inUseHint: IN_USE });
    closers.push(() => readiness.close());

    for (const i of all) i.start();
    const started = performance.now();
    await Promise.all(all.map((i) => i.synced));
    modelSync.initialize();
    log.info({ ms: Math.round(performance.now() - started), objects: Object.fromEntries([...informers].map(([k, i]) => [k, i.items.size])), addresses: modelSync.addresses.size, authorizations: modelSync.authorizations.size }, 'cluster state loaded; model built');

    if (deployments) {
      const gateways = new GatewayController({
        store,
        gateways: informers.get('gateways')!,
        deployments,
        services: informers.get('services')!,
        serviceAccounts: informers.get('serviceAccounts')!,
        render: { xdsAddress: config.waypointXdsAddress, caAddress: config.waypointXdsAddress, trustDomain: config.trustDomain, clusterId: config.clusterId },
        domainSuffix: config.domainSuffix,
        log: log.child({ sub: 'waypoints' }),
      }).start();
      closers.push(() => gateways.close());
      live.gateways = gateways;
    }

    const publisher = new RootCertPublisher(store, informers.get('namespaces')!, configMaps, ca.rootPem(), log);
    publisher.start();
    closers.push(() => publisher.close());

    const signer = new Signer(ca, { defaultTtlSeconds: config.defaultCertTtlSeconds, maxTtlSeconds: config.maxCertTtlSeconds });
    const certService = new CertificateService({ authenticator, authorizer: new NodeAuthorizer({ podIndex, trustDomain: config.trustDomain }), signer, logger: log });
    const serving = await ServingCertificateManager.start(
      ca,
      { trustDomain: config.trustDomain, namespace: config.namespace, serviceAccount: config.serviceAccount, listenHost: config.grpc.host },
      SERVING_TTL_SECONDS,
      log,
    );
    closers.push(() => serving.close());

    const gate = new AdsGate({ authenticator, logger: log, maxConcurrentSyncs: config.maxConcurrentSyncs, onRefused: (r) => metrics.xdsRefusedStream(r) });
    const xdsServer = new XdsServer({
      sources: { [TYPE_ADDRESS]: modelSync.addresses, [TYPE_AUTHORIZATION]: modelSync.authorizations, ...modelSync.l7Sources() },
      // The model is already debounced; the server only coalesces what one commit wrote.
      debounce: { quietMs: 0, maxMs: 0 },
      logger: log,
      events: mergeEvents([gate.events, metrics.xdsEvents(), deps.xdsEvents]),
      controlPlaneId: config.controlPlaneId,
    });
    live.xds = xdsServer;
    const grpcServer = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024, 'grpc.max_send_message_length': XDS_MAX_MESSAGE_BYTES });
    gate.register(grpcServer, xdsServer);
    registerCertificateService(grpcServer, certService, { onResult: (r) => metrics.certificateResult(r) });
    closers.push(async () => {
      gate.close();
      xdsServer.close('control plane is shutting down');
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          grpcServer.forceShutdown();
          resolve();
        }, 2000);
        grpcServer.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    });
    const grpcPort = await bindGrpc(grpcServer, formatHostPort(config.grpc.host, config.grpc.port), serving.credentials);
    live.grpcListening = true;

    const monitoring = await startAdminServer({
      name: 'monitoring',
      host: config.monitoring.host,
      port: config.monitoring.port,
      routes: debugRoutes({ metrics, model: modelSync, xds: xdsServer, callerOf: (id) => gate.callerOf(id), ready, config }),
      log,
      inUseHint: IN_USE,
    });
    closers.push(() => monitoring.close());

    const addresses = { grpc: formatHostPort(config.grpc.host, grpcPort), monitoring: monitoring.address, readiness: readiness.address };
    log.info({ ...addresses, rootCertFile, servingIdentity: serving.certificate.identity }, 'control plane ready');
    return {
      addresses,
      rootCertPem: ca.rootPem(),
      rootCertFile,
      servingIdentity: serving.certificate.identity,
      issueNodeCredential: (node, ttl) => authenticator.issueNodeCredential(node, ttl),
      isReady: ready,
      settled: async () => {
        await publisher.idle();
        await status?.idle();
        await live.gateways?.idle();
      },
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
