// `ambit ztunnel`: flags + environment → Config (logged once) → startZtunnel; SIGTERM/SIGINT drain
// (stop accepting, GOAWAY, let connections finish for --drain) and exit.
import { Command } from 'commander';
import { createLogger } from '../lib/telemetry/log.js';
import { durationArg, runComponent } from '../lib/sys/component.js';
import { startZtunnel } from './app.js';
import { ConfigError, resolveConfig, type ZtunnelFlags } from './config.js';


export interface ZtunnelIO {
  err: (s: string) => void;
}

async function run(flags: ZtunnelFlags, io: ZtunnelIO): Promise<void> {
  await runComponent({
    name: 'ztunnel',
    resolve: () => resolveConfig(flags),
    isConfigError: (e) => e instanceof ConfigError,
    err: io.err,
    logger: (config) => createLogger('ztunnel', config.logLevel),
    describe: (config) => ({ ...config, credential: config.credential ? '<redacted>' : undefined }),
    stopping: (config) => ({ drainMs: config.drainMs }),
    start: (config, logger) => startZtunnel(config, { logger }),
  });
}

export function ztunnelCommand(io: ZtunnelIO = { err: (s) => process.stderr.write(s) }): Command {
  return new Command('ztunnel')
    .description("run the node's L4 proxy: per-pod listeners on 15001/15006/15008 inside enrolled pods' namespaces; admin on 15000 (localhost), metrics on 15020, readiness on 15021")
    .option('--node-name <name>', 'this node (env NODE_NAME; default the host name)')
    .option('--pod-name <name>', "ztunnel's own pod name (env POD_NAME)")
    .option('--pod-namespace <ns>', "ztunnel's own namespace (env POD_NAMESPACE; default istio-system)")
    .option('--instance-ip <ip>', "ztunnel's own IP (env INSTANCE_IP)")
    .option('--xds-address <host:port>', 'control plane xDS (env XDS_ADDRESS; default istiod.istio-system.svc:15012)')
    .option('--ca-address <host:port>', 'certificate service (env CA_ADDRESS; default the xDS address)')
    .option('--ca-root <file>', "the control plane's root certificate (env XDS_ROOT_CA; default /var/run/secrets/istio/root-cert.pem)")
    .option('--control-plane-server-name <name>', "name to check in the control plane's certificate (env ALT_XDS_HOSTNAME)")
    .option('--credential-file <file>', 'node credential, sent as a bearer token (env AMBIT_NODE_CREDENTIAL_FILE, or the token itself in AMBIT_NODE_CREDENTIAL)')
    .option('--zds-socket <path>', "the node agent's ZDS socket (env INPOD_UDS; default /var/run/ztunnel/ztunnel.sock)")
    .option('--trust-domain <domain>', 'SPIFFE trust domain (env TRUST_DOMAIN; default cluster.local)')
    .option('--cluster-id <id>', 'cluster id (env CLUSTER_ID; default Kubernetes)')
    .option('--network <name>', 'network of this node (env NETWORK)')
    .option('--admin-address <addr>', 'admin listen address (default 127.0.0.1:15000)')
    .option('--metrics-address <addr>', 'Prometheus listen address (default :15020)')
    .option('--readiness-address <addr>', 'readiness listen address (default :15021)')
    .option('--cert-ttl <duration>', 'requested workload certificate lifetime (env SECRET_TTL; default 24h)', durationArg('--cert-ttl'))
    .option('--drain <duration>', 'how long connections may finish on shutdown (env CONNECTION_TERMINATION_DEADLINE; default 5s)', durationArg('--drain'))
    .option('--connect-timeout <duration>', 'TCP and HBONE connect timeout (env CONNECTION_TIMEOUT; default 10s)', durationArg('--connect-timeout'))
    .option('--otlp-endpoint <url>', 'OTLP/HTTP collector for connection spans, e.g. http://127.0.0.1:4318/v1/traces (env AMBIT_OTLP_ENDPOINT; default none: no tracing)')
    .option('--trace-sampling <percent>', 'share of new traces recorded, 0-100 (env AMBIT_TRACE_SAMPLING; default 100)')
    .option('--no-same-node-handoff', 'send traffic between two pods of this node over HBONE too, not in process (env AMBIT_SAME_NODE_HANDOFF=false)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env AMBIT_LOG_LEVEL; default info)')
    .action(async (o: ZtunnelFlags) => {
      // commander sets sameNodeHandoff=true unless --no-same-node-handoff; leave the default to the environment then.
      const flags = { ...o };
      if (flags.sameNodeHandoff === true) delete flags.sameNodeHandoff;
      return run(flags, io);
    });
}
