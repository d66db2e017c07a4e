// ztunnel's configuration: flags and environment (Istio's variable names where it has one) in,
// one validated Config out. Pure, so every rule is tested in tables; main.ts only collects inputs.
import os from 'node:os';
import { z } from 'zod';
import { hostPortSchema, listenAddressSchema, otlpEndpointSchema, samplingPercentSchema, trustDomainSchema } from '../lib/config/schemas.js';
import { readTracingSettings } from '../lib/telemetry/tracing.js';
import { LOG_LEVELS } from '../lib/config/log-level.js';
import { SettingsReader, type Env } from '../lib/config/settings.js';

export { ConfigError } from '../lib/config/errors.js';
export type { ListenAddress } from '../lib/config/address.js';


export const ConfigSchema = z.object({
  nodeName: z.string().min(1),
  /** This ztunnel's own pod (node id, telemetry). */
  podName: z.string().min(1),
  podNamespace: z.string().min(1),
  instanceIp: z.string(),
  /** Delta xDS (Istio XDS_ADDRESS). */
  xdsAddress: hostPortSchema,
  /** Certificate service (Istio CA_ADDRESS); usually the same control plane. */
  caAddress: hostPortSchema,
  /** PEM root(s) that sign the control plane's serving certificate. */
  caRootPath: z.string().min(1),
  /** Name to verify in the control plane's certificate when the address is an IP. */
  controlPlaneServerName: z.string().optional(),
  /** File holding the node credential (re-read for every stream and certificate request). */
  credentialPath: z.string().min(1).optional(),
  /** The credential itself (environment only; wins over the file). */
  credential: z.string().min(1).optional(),
  /** The node agent's ZDS socket. */
  zdsSocket: z.string().min(1),
  trustDomain: trustDomainSchema,
  clusterId: z.string().min(1),
  network: z.string(),
  admin: listenAddressSchema,
  metrics: listenAddressSchema,
  readiness: listenAddressSchema,
  /** Requested workload certificate lifetime (Istio SECRET_TTL). */
  certTtlSeconds: z.number().int().positive(),
  /** How long live connections may finish on shutdown or pod removal. */
  drainMs: z.number().int().min(0),
  connectTimeoutMs: z.number().int().positive(),
  /** Connections between two pods of this node skip TLS and HTTP/2 (authorization and telemetry stay). */
  sameNodeHandoff: z.boolean(),
  /** OTLP/HTTP collector for connection spans; none = no tracing. */
  otlpEndpoint: otlpEndpointSchema.optional(),
  traceSamplingPercent: samplingPercentSchema,
  logLevel: z.enum(LOG_LEVELS),
});

export type Config = z.infer<typeof ConfigSchema>;

/** Flags as commander hands them over (strings). */
export interface ZtunnelFlags {
  nodeName?: string;
  podName?: string;
  podNamespace?: string;
  instanceIp?: string;
  xdsAddress?: string;
  caAddress?: string;
  caRoot?: string;
  controlPlaneServerName?: string;
  credentialFile?: string;
  zdsSocket?: string;
  trustDomain?: string;
  clusterId?: string;
  network?: string;
  adminAddress?: string;
  metricsAddress?: string;
  readinessAddress?: string;
  certTtl?: string;
  drain?: string;
  connectTimeout?: string;
  /** commander's --no-same-node-handoff gives false. */
  sameNodeHandoff?: boolean;
  otlpEndpoint?: string;
  traceSampling?: string;
  logLevel?: string;
}

/**
 * Flags, then environment, then defaults. Throws one ConfigError listing every problem, each named
 * by the flag or environment variable the value came from.
 */
export function resolveConfig(flags: ZtunnelFlags, env: Env = process.env): Config {
  const r = new SettingsReader(flags, env);
  const nodeName = r.string('nodeName', { flag: '--node-name', env: ['NODE_NAME'], default: os.hostname() });
  const xds = r.pick('xdsAddress', { flag: '--xds-address', env: ['XDS_ADDRESS', 'AMBIT_CONTROL_ADDRESS'], default: 'istiod.istio-system.svc:15012' })!;
  const credential = env.AMBIT_NODE_CREDENTIAL || undefined;
  r.sourceOf('credential', { kind: 'env', env: 'AMBIT_NODE_CREDENTIAL' });
  const raw = {
    nodeName,
    podName: r.string('podName', { flag: '--pod-name', env: ['POD_NAME'], default: `ztunnel-${nodeName}` }),
    podNamespace: r.string('podNamespace', { flag: '--pod-namespace', env: ['POD_NAMESPACE'], default: 'istio-system' }),
    instanceIp: r.string('instanceIp', { flag: '--instance-ip', env: ['INSTANCE_IP'], default: '' }),
    xdsAddress: xds.value,
    caAddress: r.string('caAddress', { flag: '--ca-address', env: ['CA_ADDRESS'], default: xds }),
    caRootPath: r.string('caRootPath', { flag: '--ca-root', env: ['XDS_ROOT_CA', 'CA_ROOT_CA'], default: '/var/run/secrets/istio/root-cert.pem' }),
    controlPlaneServerName: r.string('controlPlaneServerName', { flag: '--control-plane-server-name', env: ['ALT_XDS_HOSTNAME', 'ALT_CA_HOSTNAME'] }),
    credentialPath: r.string('credentialPath', { flag: '--credential-file', env: ['AMBIT_NODE_CREDENTIAL_FILE'], ...(credential ? {} : { default: '/var/run/secrets/tokens/istio-token' }) }),
    credential,
    zdsSocket: r.string('zdsSocket', { flag: '--zds-socket', env: ['INPOD_UDS'], default: '/var/run/ztunnel/ztunnel.sock' }),
    trustDomain: r.string('trustDomain', { flag: '--trust-domain', env: ['TRUST_DOMAIN'], default: 'cluster.local' }),
    clusterId: r.string('clusterId', { flag: '--cluster-id', env: ['CLUSTER_ID', 'ISTIO_META_CLUSTER_ID'], default: 'Kubernetes' }),
    network: r.string('network', { flag: '--network', env: ['NETWORK'], default: '' }),
    admin: r.listenAddress('admin', { flag: '--admin-address', env: ['AMBIT_ADMIN_ADDRESS'], default: '127.0.0.1:15000' }, '127.0.0.1'),
    metrics: r.listenAddress('metrics', { flag: '--metrics-address', env: ['AMBIT_METRICS_ADDRESS'], default: ':15020' }),
    readiness: r.listenAddress('readiness', { flag: '--readiness-address', env: ['AMBIT_READINESS_ADDRESS'], default: ':15021' }),
    certTtlSeconds: Math.round(r.duration('certTtlSeconds', { flag: '--cert-ttl', env: ['SECRET_TTL'], default: '24h' }) / 1000),
    drainMs: Math.ceil(r.duration('drainMs', { flag: '--drain', env: ['CONNECTION_TERMINATION_DEADLINE'], default: '5s' })),
    connectTimeoutMs: Math.ceil(r.duration('connectTimeoutMs', { flag: '--connect-timeout', env: ['CONNECTION_TIMEOUT'], default: '10s' })),
    sameNodeHandoff: r.boolean('sameNodeHandoff', { flag: '--no-same-node-handoff', env: ['AMBIT_SAME_NODE_HANDOFF'] }, true),
    ...readTracingSettings(r),
    logLevel: r.logLevel('logLevel', ['RUST_LOG']),
  };
  return r.validate('ztunnel', ConfigSchema, raw);
}
