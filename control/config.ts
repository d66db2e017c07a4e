// The control plane's configuration: flags and environment in, one validated Config out. Pure, so
// every rule is tested in tables; main.ts only collects the inputs and logs the result.
import os from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import { listenAddressSchema, otlpEndpointSchema, trustDomainSchema } from '../lib/config/schemas.js';
import { LOG_LEVELS } from '../lib/config/log-level.js';
import { SettingsReader, type Env } from '../lib/config/settings.js';
import { formatHostPort } from '../lib/net/host-port.js';

export { ConfigError } from '../lib/config/errors.js';
export type { ListenAddress } from '../lib/config/address.js';

const k8sName = z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS label (a-z, 0-9, -)').max(63);

export const ConfigSchema = z
  .object({
    /** The cluster state directory of the File back end (`ambit up --state-dir`). */
    stateDir: z.string().min(1),
    storeDir: z.string().min(1),
    /** CA state: self-signed root (or cacerts/), node credential key, the published root-cert.pem. */
    caDir: z.string().min(1),
    /** Where issue-node-credential writes `<node>.token`. */
    credentialsDir: z.string().min(1),
    trustDomain: trustDomainSchema,
    clusterId: z.string().min(1),
    /** The control plane's own namespace: its serving identity and DNS names live there. */
    namespace: k8sName,
    /** Policies here without a selector are mesh-wide (Istio's root namespace). */
    rootNamespace: k8sName,
    serviceAccount: k8sName,
    network: z.string(),
    domainSuffix: z.string().min(1),
    grpc: listenAddressSchema,
    monitoring: listenAddressSchema,
    readiness: listenAddressSchema,
    /** The dashboard and its JSON API (`ambit dashboard`); loopback unless dashboardAllowRemote. */
    dashboard: listenAddressSchema,
    dashboardAllowRemote: z.boolean(),
    /** How often the embedded metrics source scrapes the ztunnels and waypoints. */
    scrapeIntervalMs: z.number().int().min(100),
    /** Answer the dashboard from this Prometheus server (PromQL) instead of the control plane's own scrapes. */
    prometheusUrl: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//.test(u), 'must be an http:// or https:// URL')
      .optional(),
    /** Model rebuilds wait this long without change, but never longer than maxMs. */
    debounce: z.object({ quietMs: z.number().int().min(0), maxMs: z.number().int().min(0) }),
    /** Streams receiving their initial (full) push at once; more wait (istiod's PILOT_PUSH_THROTTLE). */
    maxConcurrentSyncs: z.number().int().min(1),
    defaultCertTtlSeconds: z.number().int().positive(),
    maxCertTtlSeconds: z.number().int().positive(),
    /** Write ZtunnelAccepted / WaypointBound conditions back to the objects. */
    writeStatus: z.boolean(),
    /** Deploy waypoints for Gateways of class istio-waypoint and write their status. */
    deploymentController: z.boolean(),
    /** host:port of this control plane as waypoint pods dial it (their XDS_ADDRESS and CA_ADDRESS). */
    waypointXdsAddress: z.string().min(1),
    /** Handed to the waypoints it deploys as their --otlp-endpoint; none = they do not trace. */
    waypointOtlpEndpoint: otlpEndpointSchema.optional(),
    /** Sent to xDS clients as control_plane.identifier. */
    controlPlaneId: z.string().min(1),
    logLevel: z.enum(LOG_LEVELS),
    /**
     * Kubernetes mode: the cluster state is an API server's (a kubeconfig file, or the pod's
     * service account when `kubeconfig` is absent), callers present service-account tokens.
     * Absent: File mode.
     */
    kube: z
      .object({
        kubeconfig: z.string().min(1).optional(),
        /** The audience callers' tokens must be issued for (TokenReview). */
        tokenAudience: z.string().min(1),
        /** `namespace/serviceAccount` of node agents, which may ask for their node's pods' identities. */
        nodeAccounts: z.array(z.string().regex(/^[a-z0-9-]+\/[a-z0-9.-]+$/, 'must be namespace/serviceAccount')),
      })
      .optional(),
    /** One replica at a time writes status and runs controllers; the others serve xDS and the CA. */
    leaderElection: z.object({
      enabled: z.boolean(),
      leaseName: k8sName,
      leaseDurationMs: z.number().int().min(1000),
      renewDeadlineMs: z.number().int().min(1),
      retryPeriodMs: z.number().int().min(1),
    }),
  })
  .superRefine((c, ctx) => {
    if (c.debounce.maxMs < c.debounce.quietMs) ctx.addIssue({ code: 'custom', path: ['debounce', 'maxMs'], message: `must be >= the quiet period (${c.debounce.quietMs} ms)` });
    if (!c.dashboardAllowRemote && !isLoopbackHost(c.dashboard.host)) {
      ctx.addIssue({ code: 'custom', path: ['dashboard'], message: `${formatHostPort(c.dashboard.host, c.dashboard.port)} is not a loopback address; the dashboard has no authentication, so listen on 127.0.0.1 (and reach it with \`ambit dashboard\`) or pass --dashboard-allow-remote` });
    }
    if (c.defaultCertTtlSeconds > c.maxCertTtlSeconds) ctx.addIssue({ code: 'custom', path: ['defaultCertTtlSeconds'], message: `must not exceed the maximum certificate lifetime (${c.maxCertTtlSeconds} s)` });
  });

export type Config = z.infer<typeof ConfigSchema>;

/** What the command line gives (all strings, as commander hands them over). */
export interface ControlFlags {
  stateDir?: string;
  storeDir?: string;
  caDir?: string;
  trustDomain?: string;
  clusterId?: string;
  namespace?: string;
  rootNamespace?: string;
  network?: string;
  domainSuffix?: string;
  grpcAddress?: string;
  monitoringAddress?: string;
  readinessAddress?: string;
  dashboardAddress?: string;
  dashboardAllowRemote?: boolean;
  scrapeInterval?: string;
  prometheusUrl?: string;
  debounceQuiet?: string;
  debounceMax?: string;
  defaultCertTtl?: string;
  maxCertTtl?: string;
  maxConcurrentSyncs?: string;
  status?: boolean;
  deploymentController?: boolean;
  waypointXdsAddress?: string;
  waypointOtlpEndpoint?: string;
  logLevel?: string;
  kubeconfig?: string;
  tokenAudience?: string;
}

/** What callers' tokens are requested for unless --token-audience says otherwise. */
export const DEFAULT_KUBE_TOKEN_AUDIENCE = 'ambit-control';

/**
 * Kubernetes mode when --kubeconfig is given, or when KUBECONFIG or KUBERNETES_SERVICE_HOST (a
 * pod) is set and no File store was named on the command line: `ambit up` names its state
 * directory, so a KUBECONFIG in the user's shell does not pull it off its File store.
 */
function kubeMode(r: SettingsReader, flags: ControlFlags, env: Env, namespace: string | undefined): Config['kube'] {
  const fileNamed = flags.stateDir !== undefined || flags.storeDir !== undefined;
  const fromFlag = flags.kubeconfig !== undefined && flags.kubeconfig !== '';
  if (!fromFlag && (fileNamed || (!env.KUBECONFIG && !env.KUBERNETES_SERVICE_HOST))) return undefined;
  // From the environment it is left to the store, which reads KUBECONFIG (one or more files) or
  // the pod's service account as kubectl does.
  const kubeconfig = r.string('kube.kubeconfig', { flag: '--kubeconfig', env: ['KUBECONFIG'] });
  return {
    ...(fromFlag && kubeconfig ? { kubeconfig } : {}),
    tokenAudience: r.string('kube.tokenAudience', { flag: '--token-audience', env: ['AMBIT_TOKEN_AUDIENCE'], default: DEFAULT_KUBE_TOKEN_AUDIENCE }),
    nodeAccounts: (r.string('kube.nodeAccounts', { flag: '--node-accounts', env: ['CA_TRUSTED_NODE_ACCOUNTS'], default: `${namespace ?? 'istio-system'}/ztunnel` }) ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  };
}

/** 127.0.0.0/8, ::1 and localhost; an empty host (every interface) is not. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127\.\d+\.\d+\.\d+$/.test(h);
}

const optional = <K extends string>(key: K, v: string | undefined): Partial<Record<K, string>> => (v ? ({ [key]: v } as Record<K, string>) : {});

/**
 * Where pods reach the xDS server when not told: the listen address when it names one host, else
 * the control plane's Service name in its namespace (as istiod's `istiod.istio-system.svc:15012`).
 */
function advertised(grpc: { host: string; port: number }, namespace: string): string {
  const any = ['', '0.0.0.0', '::', '[::]'].includes(grpc.host);
  const port = grpc.port || 15012;
  if (any) return `istiod.${namespace}.svc:${port}`;
  return formatHostPort(grpc.host, port);
}

/**
 * Builds the Config: flag, then environment variable (Istio's name where it has one), then default.
 * Every problem is reported at once, each naming the flag or variable the value came from, e.g.
 * `environment PILOT_DEBOUNCE_MAX: "soon" is not a duration; …`.
 */
export function resolveConfig(flags: ControlFlags, env: Env = process.env): Config {
  const r = new SettingsReader(flags, env);
  const stateDir = path.resolve(r.string('stateDir', { flag: '--state-dir', env: ['AMBIT_STATE_DIR'], default: '/var/lib/ambit' }));
  const namespace = r.string('namespace', { flag: '--namespace', env: ['POD_NAMESPACE'], default: 'istio-system' });
  r.sourceOf('credentialsDir', { kind: 'default', flag: '--state-dir' });
  const grpc = r.listenAddress('grpc', { flag: '--grpc-address', env: ['AMBIT_GRPC_ADDRESS'], default: ':15012' });
  r.sourceOf('controlPlaneId', { kind: 'env', env: 'POD_NAME' });
  const raw = {
    stateDir,
    storeDir: path.resolve(r.string('storeDir', { flag: '--store-dir', env: ['AMBIT_STORE_DIR'], default: path.join(stateDir, 'store') })),
    caDir: path.resolve(r.string('caDir', { flag: '--ca-dir', env: ['AMBIT_CA_DIR'], default: path.join(stateDir, 'ca') })),
    credentialsDir: path.join(stateDir, 'credentials'),
    trustDomain: r.string('trustDomain', { flag: '--trust-domain', env: ['TRUST_DOMAIN'], default: 'cluster.local' }),
    clusterId: r.string('clusterId', { flag: '--cluster-id', env: ['CLUSTER_ID'], default: 'Kubernetes' }),
    namespace,
    rootNamespace: r.string('rootNamespace', { flag: '--root-namespace', env: ['AMBIT_ROOT_NAMESPACE'], default: namespace }),
    serviceAccount: 'istiod',
    network: r.string('network', { flag: '--network', env: ['NETWORK'], default: '' }),
    domainSuffix: r.string('domainSuffix', { flag: '--domain-suffix', env: ['DOMAIN_SUFFIX'], default: 'cluster.local' }),
    grpc,
    monitoring: r.listenAddress('monitoring', { flag: '--monitoring-address', env: ['AMBIT_MONITORING_ADDRESS'], default: ':15014' }),
    readiness: r.listenAddress('readiness', { flag: '--readiness-address', env: ['AMBIT_READINESS_ADDRESS'], default: ':15021' }),
    dashboard: r.listenAddress('dashboard', { flag: '--dashboard-address', env: ['AMBIT_DASHBOARD_ADDRESS'], default: '127.0.0.1:20001' }),
    dashboardAllowRemote: r.boolean('dashboardAllowRemote', { flag: '--dashboard-allow-remote', env: ['AMBIT_DASHBOARD_ALLOW_REMOTE'] }, false),
    scrapeIntervalMs: Math.round(r.duration('scrapeIntervalMs', { flag: '--scrape-interval', env: ['AMBIT_SCRAPE_INTERVAL'], default: '5s' })),
    ...optional('prometheusUrl', r.string('prometheusUrl', { flag: '--prometheus-url', env: ['AMBIT_PROMETHEUS_URL'] })),
    debounce: {
      quietMs: Math.ceil(r.duration('debounce.quietMs', { flag: '--debounce-quiet', env: ['PILOT_DEBOUNCE_AFTER'], default: '50ms' })),
      maxMs: Math.ceil(r.duration('debounce.maxMs', { flag: '--debounce-max', env: ['PILOT_DEBOUNCE_MAX'], default: '500ms' })),
    },
    maxConcurrentSyncs: r.integer('maxConcurrentSyncs', { flag: '--max-concurrent-syncs', env: ['PILOT_PUSH_THROTTLE'], default: '8' }),
    defaultCertTtlSeconds: Math.round(r.duration('defaultCertTtlSeconds', { flag: '--default-cert-ttl', env: ['DEFAULT_WORKLOAD_CERT_TTL'], default: '24h' }) / 1000),
    maxCertTtlSeconds: Math.round(r.duration('maxCertTtlSeconds', { flag: '--max-cert-ttl', env: ['MAX_WORKLOAD_CERT_TTL'], default: '90d' }) / 1000),
    writeStatus: r.boolean('writeStatus', { flag: '--no-status', env: ['AMBIENT_ENABLE_STATUS'] }, true),
    deploymentController: r.boolean('deploymentController', { flag: '--no-deployment-controller', env: ['PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER'] }, true),
    waypointXdsAddress: r.string('waypointXdsAddress', { flag: '--waypoint-xds-address', env: ['AMBIT_WAYPOINT_XDS_ADDRESS'], default: advertised(grpc, namespace) }),
    waypointOtlpEndpoint: r.string('waypointOtlpEndpoint', { flag: '--waypoint-otlp-endpoint', env: ['AMBIT_WAYPOINT_OTLP_ENDPOINT'] }),
    controlPlaneId: env.POD_NAME || os.hostname() || 'ambit-control',
    logLevel: r.logLevel(),
    kube: kubeMode(r, flags, env, namespace),
    leaderElection: { enabled: false, leaseName: 'ambit-control-leader', leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
  };
  raw.leaderElection.enabled = raw.kube !== undefined;
  return r.validate('control plane', ConfigSchema, raw);
}
