// The control plane's one composition root: store → informers → model → xDS sources; CA →
// certificate service; one TLS gRPC server on 15012 for both; metrics/debug on 15014; readiness on
// 15021. Returns the addresses actually bound (tests use port 0) and a close() that undoes it all.
import * as grpc from '@grpc/grpc-js';
import { openStore } from '../lib/store/index.js';
import { Closers } from '../lib/sys/closers.js';
import type { ClusterStore, Kind } from '../lib/store/types.js';
import { CONFIG_MAP, DEPLOYMENT } from '../lib/k8s/types.js';
import { createLogger, type Logger } from '../lib/telemetry/log.js';
import { XdsServer, type XdsServerEvents } from '../lib/xds/server.js';
import { TYPE_ADDRESS, TYPE_AUTHORIZATION, XDS_MAX_MESSAGE_BYTES } from '../lib/xds/types.js';
import { FileAuthenticator, type Authenticator } from './ca/authn.js';
import { syncCaSecret } from './ca/ca-secret.js';
import { KubeModeAuthenticator, TokenReviewAuthenticator } from './ca/kube-authn.js';
import { Leadership } from './leader/leadership.js';
import { KubeStore } from '../lib/store/kube.js';
import { reviewToken } from '../lib/store/kube-tokens.js';
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
import { dashboardRoutes } from './monitoring/dashboard.js';
import { PrometheusSource } from './monitoring/prometheus-source.js';
import { ScrapeSource } from './monitoring/scrape-source.js';
import { scrapeTargets } from './monitoring/targets.js';
import type { MeshView } from './monitoring/views.js';
import { IssuedCertificates } from './ca/issued.js';
import { startAdminServer } from '../lib/admin/server.js';
import { formatHostPort } from '../lib/net/host-port.js';
import { ControlMetrics } from './monitoring/metrics.js';
import { traceRoutes } from './traces/routes.js';
import { TraceStore } from './traces/store.js';
import { StatusWriter, type StatusTarget } from './status/writer.js';
import { GatewayController } from './gateway/controller.js';
import { isWaypointAccount } from './xds/admission.js';
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
  /** The dashboard and its JSON API. */
  dashboard: string;
}

export interface ControlPlane {
  addresses: ControlPlaneAddresses;
  rootCertPem: string;
  /** `<caDir>/root-cert.pem`, for node agents. */
  rootCertFile: string;
  /** The SPIFFE id in the serving certificate. */
  servingIdentity: string;
  /** Spans received on `POST /v1/traces` of the monitoring port. */
  traces: TraceStore;
  /** A node credential signed with this control plane's key (what `issue-node-credential` writes). */
  issueNodeCredential(nodeName: string, ttlSeconds?: number): string;
  isReady(): boolean;
  /** Whether this replica writes status and runs the controllers (always, without an election). */
  isLeader(): boolean;
  /** Resolves once queued status writes and root publications are done (tests). */
  settled(): Promise<void>;
  /** `releaseLease: false` leaves the lease to lapse, as a crash would (tests). */
  close(opts?: { releaseLease?: boolean }): Promise<void>;
}

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
  const closers = new Closers(log);
  const closing = { releaseLease: true };
  const closeAll = (): Promise<void> => closers.closeAll();
  try {
    const storeLog = log.child({ sub: 'store' });
    const store = deps.store ?? (config.kube ? openStore({ kube: true, ...(config.kube.kubeconfig ? { kubeconfig: config.kube.kubeconfig } : {}) }, { logger: storeLog, fieldManager: 'ambit-control', forceApply: true }) : openStore(config.storeDir, { logger: storeLog }));
    if (!deps.store) closers.push(() => store.close());

    const openCa = async (): Promise<[CertificateAuthority, FileAuthenticator]> =>
      Promise.all([CertificateAuthority.open({ dir: config.caDir, trustDomain: config.trustDomain, logger: log }), FileAuthenticator.open({ dir: config.caDir, logger: log })]);
    // Replicas share one CA through a Secret; the local files are its copy.
    if (config.kube) await syncCaSecret(store, config.namespace, config.caDir, async () => void (await openCa()), log);
    const [ca, fileAuthenticator] = await openCa();
    const rootCertFile = await writeRootCertFile(config.caDir, ca.rootPem());

    const informers = new Map<ModelKind, Informer>();
    for (const [kind, ref] of Object.entries(MODEL_KINDS) as Array<[ModelKind, Kind]>) informers.set(kind, new Informer(store, ref, log));
    const configMaps = new Informer(store, CONFIG_MAP, log);
    const deployments = config.deploymentController ? new Informer(store, DEPLOYMENT, log) : undefined;
    const all = [...informers.values(), configMaps, ...(deployments ? [deployments] : [])];
    closers.push(() => all.forEach((i) => i.close()));
    const pods = informers.get('pods')!;
    const podIndex = new StorePodIndex(pods);
    closers.push(() => podIndex.close());
    const authenticator = config.kube ? kubeAuthenticator(config, store, pods, fileAuthenticator) : fileAuthenticator;
    const leadership = new Leadership(
      log,
      config.leaderElection.enabled ? { store, namespace: config.namespace, identity: config.controlPlaneId, ...config.leaderElection } : undefined,
    );
    closers.push(() => leadership.close({ release: closing.releaseLease }));

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
        if (info.changes.contextRebuilt && leadership.isLeader) status?.sync([...modelSync.model.policyStatus.values(), ...modelSync.model.serviceStatus.values(), ...modelSync.model.l7Status.values()]);
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

    const live2: { publisher?: RootCertPublisher } = {};
    leadership.add({
      name: 'root certificate ConfigMaps',
      start: () => (live2.publisher = new RootCertPublisher(store, informers.get('namespaces')!, configMaps, ca.rootPem(), log)).start(),
      stop: () => live2.publisher?.close(),
    });
    if (status) {
      const model = modelSync.model;
      leadership.add({ name: 'status write-back', start: () => status.sync([...model.policyStatus.values(), ...model.serviceStatus.values(), ...model.l7Status.values()]), stop: () => undefined });
    }
    if (deployments) {
      // Deployments and Gateway status are writes: the leader's alone, like status write-back.
      leadership.add({
        name: 'waypoint deployments',
        start: () => {
          live.gateways = new GatewayController({
            store,
            gateways: informers.get('gateways')!,
            deployments,
            services: informers.get('services')!,
            serviceAccounts: informers.get('serviceAccounts')!,
            configMaps,
            render: { xdsAddress: config.waypointXdsAddress, caAddress: config.waypointXdsAddress, trustDomain: config.trustDomain, clusterId: config.clusterId, ...(config.waypointOtlpEndpoint ? { otlpEndpoint: config.waypointOtlpEndpoint } : {}) },
            domainSuffix: config.domainSuffix,
            log: log.child({ sub: 'waypoints' }),
          }).start();
        },
        stop: () => {
          const g = live.gateways;
          live.gateways = undefined;
          return g?.close();
        },
      });
    }
    leadership.start();

    const signer = new Signer(ca, { defaultTtlSeconds: config.defaultCertTtlSeconds, maxTtlSeconds: config.maxCertTtlSeconds });
    const certService = new CertificateService({ authenticator, authorizer: new NodeAuthorizer({ podIndex, trustDomain: config.trustDomain }), signer, logger: log });
    const serving = await ServingCertificateManager.start(
      ca,
      { trustDomain: config.trustDomain, namespace: config.namespace, serviceAccount: config.serviceAccount, listenHost: config.grpc.host },
      SERVING_TTL_SECONDS,
      log,
    );
    closers.push(() => serving.close());

    const gateways = informers.get('gateways')!;
    const admission = { isWaypointAccount: (ns: string, sa: string) => isWaypointAccount(gateways.items.values(), ns, sa) };
    const gate = new AdsGate({ authenticator, admission, logger: log, maxConcurrentSyncs: config.maxConcurrentSyncs, onRefused: (r) => metrics.xdsRefusedStream(r) });
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
    const issued = new IssuedCertificates();
    registerCertificateService(grpcServer, certService, {
      onResult: (r) => {
        metrics.certificateResult(r);
        issued.record(r);
      },
    });
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

    // The embedded OTLP receiver's spans: what `ambit up` points ztunnels and waypoints at.
    const traces = new TraceStore();
    const monitoring = await startAdminServer({
      name: 'monitoring',
      host: config.monitoring.host,
      port: config.monitoring.port,
      routes: { ...debugRoutes({ metrics, model: modelSync, xds: xdsServer, callerOf: (id) => gate.callerOf(id), ready, config }), ...traceRoutes(traces) },
      log,
      inUseHint: IN_USE,
    });
    closers.push(() => monitoring.close());

    // The dashboard's numbers: a Prometheus server when given, else scrapes of the connected proxies.
    const scrapes = config.prometheusUrl ? undefined : new ScrapeSource({ targets: () => scrapeTargets(xdsServer.streams()), intervalMs: config.scrapeIntervalMs });
    const signals = scrapes ?? new PrometheusSource({ url: config.prometheusUrl! });
    if (scrapes) {
      scrapes.start();
      closers.push(() => scrapes.stop());
    }
    const mesh = (): MeshView => {
      const model = modelSync.model;
      return {
        ...model.view(),
        status: [...model.policyStatus.values(), ...model.serviceStatus.values(), ...model.l7Status.values()],
        policyObjects: [...informers.get('authorizationPolicies')!.items.values()],
        certificates: issued.all,
        trustDomain: config.trustDomain,
        rootNamespace: config.rootNamespace,
      };
    };
    const dashboard = await startAdminServer({
      name: 'dashboard',
      host: config.dashboard.host,
      port: config.dashboard.port,
      routes: dashboardRoutes({ signals, mesh, traces, sourceName: scrapes ? `embedded: scrapes of the ztunnels and waypoints every ${config.scrapeIntervalMs / 1000}s` : `Prometheus ${config.prometheusUrl}` }),
      log,
      inUseHint: `${IN_USE} --dashboard-address moves it`,
    });
    closers.push(() => dashboard.close());

    const addresses = { grpc: formatHostPort(config.grpc.host, grpcPort), monitoring: monitoring.address, readiness: readiness.address, dashboard: dashboard.address };
    log.info({ ...addresses, rootCertFile, servingIdentity: serving.certificate.identity }, 'control plane ready');
    return {
      addresses,
      rootCertPem: ca.rootPem(),
      rootCertFile,
      traces,
      servingIdentity: serving.certificate.identity,
      issueNodeCredential: (node, ttl) => fileAuthenticator.issueNodeCredential(node, ttl),
      isReady: ready,
      isLeader: () => leadership.isLeader,
      settled: async () => {
        await live2.publisher?.idle();
        await status?.idle();
        await live.gateways?.idle();
      },
      close: async (opts = {}) => {
        closing.releaseLease = opts.releaseLease ?? true;
        await closeAll();
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** TokenReview for service-account tokens, this control plane's own signature for node credentials. */
function kubeAuthenticator(config: Config, store: ClusterStore, pods: Informer, own: FileAuthenticator): Authenticator {
  const kube = config.kube!;
  if (!(store instanceof KubeStore)) throw new Error('Kubernetes mode needs the Kubernetes store to review tokens; pass no store, or a KubeStore');
  const review = new TokenReviewAuthenticator({
    review: (token, audiences) => reviewToken(store.client, token, audiences),
    // A ztunnel that just started may not be in the informer yet.
    pod: async (namespace, name) => pods.items.get(`${namespace}/${name}`) ?? (await store.get({ apiVersion: 'v1', kind: 'Pod', namespace, name })),
    audience: kube.tokenAudience,
    trustDomain: config.trustDomain,
    nodeAccounts: kube.nodeAccounts,
  });
  return new KubeModeAuthenticator(own, review);
}
