// The waypoint's one composition root: state ← xDS; its certificate ← the CA; the policy engines;
// the HBONE listener on 15008 with the HTTP pipeline behind it; admin, metrics and readiness.
// Returns the addresses actually bound (tests use port 0) and close(), which drains.
import * as grpc from '@grpc/grpc-js';
import { GrpcCaClient, type CaClient } from '../lib/ca-client/ca-client.js';
import { Closers } from '../lib/sys/closers.js';
import { createTracer } from '../lib/telemetry/tracing.js';
import { SecretManager } from '../lib/ca-client/secret-manager.js';
import { startAdminServer, type AdminServer } from '../lib/admin/server.js';
import type { Routes } from '../lib/admin/routes.js';
import { HbonePool } from '../lib/hbone/pool.js';
import type { Credentials } from '../lib/hbone/tls.js';
import { formatHostPort } from '../lib/net/host-port.js';
import { createLogger, type Logger } from '../lib/telemetry/log.js';
import { createMetricsRegistry, HboneMetrics } from '../lib/telemetry/metrics.js';
import { RequestMetrics } from '../lib/telemetry/request-metrics.js';
import type { BackoffOptions } from '../lib/xds/types.js';
import { healthzRoutes, proxyMetricsRoutes } from '../lib/admin/routes.js';
import { adminRoutes } from './admin/admin.js';
import { waypointIdentity, waypointKey, type Config } from './config.js';
import type { PolicyEngines } from './engines.js';
import { evaluateL7 } from './filters/authz.js';
import { RateLimits } from './filters/rate-limit.js';
import { WaypointListener } from './listener/listener.js';
import { RequestHandler } from './listener/request-handler.js';
import { WaypointState } from './state/state.js';
import { requestTelemetry } from './telemetry/request-telemetry.js';
import { createBalancer } from './upstream/balancer.js';
import { CircuitBreaker } from './upstream/circuit-breaker.js';
import { UpstreamClient } from './upstream/client.js';
import { ClusterManager } from './upstream/cluster.js';
import { TunnelConnector } from './upstream/connector.js';
import { OutlierDetector } from './upstream/outlier.js';
import { createXdsClient } from './xds/client.js';
import { readMeshRoot, tokenSource } from '../lib/ca-client/control-plane-auth.js';

export interface WaypointDeps {
  logger?: Logger;
  /** Default: gRPC over TLS to config.caAddress, trusting config.caRootPath. */
  caClient?: CaClient;
  /** Default: TLS trusting config.caRootPath. Tests pass insecure credentials for a fake server. */
  xdsCredentials?: grpc.ChannelCredentials;
  /** The mesh roots the waypoint trusts for HBONE peers; default: those in its certificate response. */
  rootsPem?: string[];
  xdsBackoff?: Partial<BackoffOptions>;
  /** Uniform in [0, 1): route splits, fault and mirror percentages, balancers, back-off jitter. */
  random?: () => number;
  /** How long to wait for a tunnel's first bytes before treating it as TCP (default 1 s). */
  sniffTimeoutMs?: number;
}

export interface WaypointAddresses {
  hbone: string;
  admin: string;
  metrics: string;
  readiness: string;
}

export interface Waypoint {
  addresses: WaypointAddresses;
  state: WaypointState;
  identity: string;
  notReady(): string[];
  /** Resolves once the certificate and the first configuration have arrived. */
  whenReady(): Promise<void>;
  close(drainMs?: number): Promise<void>;
}

export async function startWaypoint(config: Config, deps: WaypointDeps = {}): Promise<Waypoint> {
  const log = deps.logger ?? createLogger('waypoint', config.logLevel);
  const random = deps.random ?? Math.random;
  const closers = new Closers(log);
  const drainBudget = { ms: config.drainMs };
  const closeAll = (): Promise<void> => closers.closeAll();
  try {
    const key = waypointKey(config);
    const identity = waypointIdentity(config);
    const registry = createMetricsRegistry({ component: 'waypoint' });
    const state = new WaypointState(key);
    const token = tokenSource({ file: config.tokenPath, hint: 'pass --token-file (AMBIT_TOKEN_FILE) naming the node credential' });
    const rootPem = deps.caClient && deps.xdsCredentials ? undefined : await readMeshRoot(config.caRootPath, "pass --ca-root (AMBIT_CA_ROOT) pointing at the control plane's root-cert.pem");

    const ca = deps.caClient ?? new GrpcCaClient({ address: config.caAddress, rootsPem: rootPem!, credential: async () => (await token()) ?? '', clusterId: config.clusterId });
    if (ca instanceof GrpcCaClient) closers.push(() => ca.close());
    const secrets = new SecretManager({ ca, ttlSeconds: config.certTtlSeconds, logger: log.child({ subsystem: 'identity' }) });
    closers.push(() => secrets.close());
    let certReady = false;
    secrets.once('fetched', () => (certReady = true));
    secrets.prefetch(identity);
    const credentials = async (): Promise<Credentials> => {
      const c = await secrets.get(identity);
      return { certChainPem: [...c.certChainPem], keyPem: c.keyPem, rootsPem: deps.rootsPem ?? [...c.rootsPem] };
    };

    const rateLimits = new RateLimits({ waypoint: key, ...(config.redisAddress ? { redisAddress: config.redisAddress } : {}) });
    closers.push(() => rateLimits.close());
    state.onChange(() => rateLimits.update(state.allRateLimits()));
    const clock = { now: () => Date.now() };
    const engines: PolicyEngines = {
      balancer: (lb) => createBalancer(lb, { random }),
      outlier: (settings) => new OutlierDetector(settings, clock),
      breaker: (limits) => new CircuitBreaker(limits),
      authorize: (policies, req) => evaluateL7(policies, req),
      limiter: (hostname) => rateLimits.limiter(hostname),
    };

    const pool = new HbonePool({ connectTimeoutMs: config.connectTimeoutMs, logger: log });
    closers.push(() => pool.close());
    const connector = new TunnelConnector(pool, { identity, credentials }, config.connectTimeoutMs);
    const client = new UpstreamClient(connector);
    closers.push(() => client.close());
    const clusters = new ClusterManager(state, engines);
    // Istio names a waypoint's spans' service `<gateway>.<namespace>`.
    const tracer = createTracer({ settings: config, resource: { service: `${config.gatewayName}.${config.namespace}`, attributes: { 'k8s.namespace.name': config.namespace, 'k8s.pod.name': config.podName } }, log, registry });
    if (tracer) closers.push(() => tracer.close());
    const handler = new RequestHandler({
      view: state,
      clusters,
      client,
      engines,
      telemetry: requestTelemetry(new RequestMetrics(registry), log),
      random,
      log: log.child({ subsystem: 'http' }),
      replayLimitBytes: 1024 * 1024,
      ...(tracer ? { tracer } : {}),
    });
    const listener = new WaypointListener({ view: state, credentials, handler, clusters, connector, log: log.child({ subsystem: 'listener' }), hboneMetrics: new HboneMetrics(registry), ...(deps.sniffTimeoutMs !== undefined ? { sniffTimeoutMs: deps.sniffTimeoutMs } : {}) });

    const xds = createXdsClient(state, {
      address: config.xdsAddress,
      credentials: deps.xdsCredentials ?? grpc.credentials.createSsl(Buffer.from(rootPem!)),
      token,
      node: { gatewayName: config.gatewayName, podName: config.podName, namespace: config.namespace, instanceIp: config.instanceIp, nodeName: config.nodeName, clusterId: config.clusterId },
      ...(deps.xdsBackoff ? { backoff: deps.xdsBackoff } : {}),
      logger: log.child({ subsystem: 'xds' }),
    });
    let xdsSynced = false;
    void xds.synced.then(() => (xdsSynced = true), () => undefined);
    closers.push(() => xds.close());

    const notReady = (): string[] => {
      const r: string[] = [];
      if (!certReady) r.push(`no certificate yet for ${identity} from ${config.caAddress}`);
      if (!xdsSynced) r.push(`no configuration yet from ${config.xdsAddress}`);
      return r;
    };

    // The ports first: a port in use must stop startup before anything connects anywhere.
    const servers: AdminServer[] = [];
    closers.push(() => Promise.all(servers.map((s) => s.close())));
    const listen = (name: string, at: { host: string; port: number }, routes: Routes): Promise<AdminServer> =>
      startAdminServer({ name, host: at.host, port: at.port, routes, log, inUseHint: 'is another waypoint running in this network namespace?' });
    const hboneAddr = await listener.listen(config.hbone.host, config.hbone.port);
    closers.push(() => listener.drain(drainBudget.ms));
    const admin = await listen('admin', config.admin, adminRoutes({
      status: () => ({ ready: notReady().length === 0, notReady: notReady(), xds: xds.state, listener: listener.stats(), pool: pool.stats(), upstream: client.stats(), rateLimitRedis: rateLimits.redisStatus() }),
      config,
      state: () => state.dump(),
      certificates: () => secrets.snapshot(),
      clusters: () => clusters.list().map((c) => ({ service: c.service.hostname, port: c.port, subsetLabels: c.subsetLabels, policy: c.policy, ejected: c.ejected(), breaker: (c.breaker as CircuitBreaker).stats?.() })),
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
    const addresses = { hbone: formatHostPort(hboneAddr.address, hboneAddr.port), admin: admin.address, metrics: metrics.address, readiness: readiness.address };
    log.info({ ...addresses, waypoint: key, identity, xds: config.xdsAddress }, 'waypoint started; waiting for its certificate and configuration');
    let closing: Promise<void> | undefined;
    return {
      addresses,
      state,
      identity,
      notReady,
      whenReady: async () => {
        await Promise.all([secrets.get(identity), xds.synced]);
      },
      close: (drainMs?: number) => {
        drainBudget.ms = drainMs ?? config.drainMs;
        closing ??= closeAll().then(() => log.info('waypoint stopped'));
        return closing;
      },
    };
  } catch (e) {
    await closeAll();
    throw e;
  }
}
