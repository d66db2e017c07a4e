// The waypoint's configuration: flags, then environment (the variables the control plane puts in
// the waypoint Deployment's pod, ARCHITECTURE.md §1), then defaults, read through lib/config.
// Pure, so every rule is tested in tables; main.ts only collects inputs.
import { z } from 'zod';
import { hostPortSchema, listenAddressSchema, otlpEndpointSchema, samplingPercentSchema, trustDomainSchema } from '../lib/config/schemas.js';
import { readTracingSettings } from '../lib/telemetry/tracing.js';
import { LOG_LEVELS } from '../lib/config/log-level.js';
import { SettingsReader, type Env } from '../lib/config/settings.js';

export { ConfigError } from '../lib/config/errors.js';

const dnsLabel = z.string().regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, 'must be a Kubernetes name (lower-case letters, digits, "-" and ".")');

export const ConfigSchema = z.object({
  /** The waypoint Gateway this instance serves (GATEWAY_NAME); resources name it `<namespace>/<name>`. */
  gatewayName: dnsLabel,
  namespace: dnsLabel,
  podName: z.string().min(1),
  serviceAccount: dnsLabel,
  nodeName: z.string(),
  instanceIp: z.string(),
  xdsAddress: hostPortSchema,
  caAddress: hostPortSchema,
  /** PEM file of the mesh root: it signs the control plane's serving certificate and every workload's. */
  caRootPath: z.string().min(1),
  /** The bearer credential for xDS and the CA, re-read on every use (it may be rotated on disk). */
  tokenPath: z.string().min(1),
  trustDomain: trustDomainSchema,
  clusterId: z.string().min(1),
  /** `host:port` of a Redis for global rate limits that name none themselves. */
  redisAddress: hostPortSchema.optional(),
  hbone: listenAddressSchema,
  admin: listenAddressSchema,
  metrics: listenAddressSchema,
  readiness: listenAddressSchema,
  certTtlSeconds: z.number().int().positive(),
  drainMs: z.number().int().min(0),
  connectTimeoutMs: z.number().int().positive(),
  /** OTLP/HTTP collector for spans; none = no tracing. */
  otlpEndpoint: otlpEndpointSchema.optional(),
  traceSamplingPercent: samplingPercentSchema,
  logLevel: z.enum(LOG_LEVELS),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Flags as commander hands them over (strings). */
export interface WaypointFlags {
  name?: string;
  namespace?: string;
  podName?: string;
  serviceAccount?: string;
  node?: string;
  instanceIp?: string;
  xdsAddress?: string;
  caAddress?: string;
  caRoot?: string;
  tokenFile?: string;
  trustDomain?: string;
  clusterId?: string;
  redisAddress?: string;
  hboneAddress?: string;
  adminAddress?: string;
  metricsAddress?: string;
  readinessAddress?: string;
  certTtl?: string;
  drain?: string;
  connectTimeout?: string;
  otlpEndpoint?: string;
  traceSampling?: string;
  logLevel?: string;
}

/** `<namespace>/<name>`: how L7 resources name the waypoint that serves them. */
export function waypointKey(c: Pick<Config, 'namespace' | 'gatewayName'>): string {
  return `${c.namespace}/${c.gatewayName}`;
}

/** spiffe://<trust domain>/ns/<namespace>/sa/<service account>. */
export function waypointIdentity(c: Pick<Config, 'trustDomain' | 'namespace' | 'serviceAccount'>): string {
  return `spiffe://${c.trustDomain}/ns/${c.namespace}/sa/${c.serviceAccount}`;
}

/**
 * Flags, then environment, then defaults. Throws one ConfigError listing every problem, each named
 * by the flag or environment variable the value came from.
 */
export function resolveConfig(flags: WaypointFlags, env: Env = process.env): Config {
  const r = new SettingsReader(flags, env);
  const gatewayName = r.string('gatewayName', { flag: '--name', env: ['GATEWAY_NAME'] });
  const xds = r.pick('xdsAddress', { flag: '--xds-address', env: ['XDS_ADDRESS'], default: 'istiod.istio-system.svc:15012' })!;
  const raw = {
    gatewayName,
    namespace: r.string('namespace', { flag: '--namespace', env: ['POD_NAMESPACE'] }),
    podName: r.string('podName', { flag: '--pod-name', env: ['POD_NAME'], ...(gatewayName ? { default: gatewayName } : {}) }),
    // The Deployment runs the pod under a ServiceAccount named after the Gateway.
    serviceAccount: r.string('serviceAccount', { flag: '--service-account', env: ['SERVICE_ACCOUNT'], ...(gatewayName ? { default: gatewayName } : {}) }),
    nodeName: r.string('nodeName', { flag: '--node', env: ['NODE_NAME'], default: '' }),
    instanceIp: r.string('instanceIp', { flag: '--instance-ip', env: ['INSTANCE_IP'], default: '' }),
    xdsAddress: xds.value,
    caAddress: r.string('caAddress', { flag: '--ca-address', env: ['CA_ADDRESS'], default: xds }),
    caRootPath: r.string('caRootPath', { flag: '--ca-root', env: ['AMBIT_CA_ROOT'], default: '/var/run/secrets/istio/root-cert.pem' }),
    tokenPath: r.string('tokenPath', { flag: '--token-file', env: ['AMBIT_TOKEN_FILE'], default: '/var/run/secrets/tokens/istio-token' }),
    trustDomain: r.string('trustDomain', { flag: '--trust-domain', env: ['TRUST_DOMAIN'], default: 'cluster.local' }),
    clusterId: r.string('clusterId', { flag: '--cluster-id', env: ['CLUSTER_ID'], default: 'Kubernetes' }),
    redisAddress: r.string('redisAddress', { flag: '--redis-address', env: ['AMBIT_REDIS_ADDRESS'] }),
    hbone: r.listenAddress('hbone', { flag: '--hbone-address', env: ['AMBIT_HBONE_ADDRESS'], default: '0.0.0.0:15008' }),
    admin: r.listenAddress('admin', { flag: '--admin-address', env: ['AMBIT_ADMIN_ADDRESS'], default: '127.0.0.1:15000' }, '127.0.0.1'),
    metrics: r.listenAddress('metrics', { flag: '--metrics-address', env: ['AMBIT_METRICS_ADDRESS'], default: '0.0.0.0:15020' }),
    readiness: r.listenAddress('readiness', { flag: '--readiness-address', env: ['AMBIT_READINESS_ADDRESS'], default: '0.0.0.0:15021' }),
    certTtlSeconds: Math.round(r.duration('certTtlSeconds', { flag: '--cert-ttl', env: ['SECRET_TTL'], default: '24h' }) / 1000),
    drainMs: Math.ceil(r.duration('drainMs', { flag: '--drain', env: ['TERMINATION_DRAIN_DURATION'], default: '5s' })),
    connectTimeoutMs: Math.ceil(r.duration('connectTimeoutMs', { flag: '--connect-timeout', env: ['AMBIT_CONNECT_TIMEOUT'], default: '10s' })),
    ...readTracingSettings(r),
    logLevel: r.logLevel('logLevel'),
  };
  if (gatewayName === undefined) r.problem('gatewayName', 'not set; pass --name or set GATEWAY_NAME to the name of the waypoint Gateway this instance serves');
  if (raw.namespace === undefined) r.problem('namespace', "not set; pass --namespace or set POD_NAMESPACE to the waypoint's namespace");
  return r.validate('waypoint', ConfigSchema, raw);
}
