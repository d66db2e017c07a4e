// `ambit waypoint`: flags + environment → Config (logged once) → startWaypoint; SIGTERM/SIGINT
// drain (GOAWAY to clients, let requests finish for --drain) and exit.
import { Command } from 'commander';
import { durationArg, runComponent } from '../lib/sys/component.js';
import { createLogger } from '../lib/telemetry/log.js';
import { startWaypoint } from './app.js';
import { ConfigError, resolveConfig, type WaypointFlags } from './config.js';

export function waypointCommand(io: { err: (s: string) => void } = { err: (s) => process.stderr.write(s) }): Command {
  return new Command('waypoint')
    .description("run a waypoint: the L7 proxy of a namespace's services bound with istio.io/use-waypoint; HBONE on 15008, admin on 15000 (localhost), metrics on 15020, readiness on 15021")
    .option('--name <name>', 'the waypoint Gateway this instance serves (env GATEWAY_NAME)')
    .option('--namespace <ns>', "the waypoint's namespace (env POD_NAMESPACE)")
    .option('--pod-name <name>', 'this pod (env POD_NAME; default the Gateway name)')
    .option('--service-account <sa>', 'the service account whose identity it presents (env SERVICE_ACCOUNT; default the Gateway name)')
    .option('--node <name>', 'the node it runs on (env NODE_NAME)')
    .option('--instance-ip <ip>', "this pod's IP (env INSTANCE_IP)")
    .option('--xds-address <host:port>', 'control plane xDS (env XDS_ADDRESS; default istiod.istio-system.svc:15012)')
    .option('--ca-address <host:port>', 'certificate service (env CA_ADDRESS; default the xDS address)')
    .option('--ca-root <file>', 'PEM file of the mesh root (env AMBIT_CA_ROOT; default /var/run/secrets/istio/root-cert.pem)')
    .option('--token-file <file>', 'bearer credential for xDS and the CA, re-read on every use (env AMBIT_TOKEN_FILE)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (env TRUST_DOMAIN; default cluster.local)')
    .option('--cluster-id <id>', 'cluster id (env CLUSTER_ID; default Kubernetes)')
    .option('--redis-address <host:port>', 'Redis for global rate limits that name none (env AMBIT_REDIS_ADDRESS)')
    .option('--hbone-address <addr>', 'HBONE listen address (default 0.0.0.0:15008)')
    .option('--admin-address <addr>', 'admin listen address (default 127.0.0.1:15000)')
    .option('--metrics-address <addr>', 'Prometheus listen address (default 0.0.0.0:15020)')
    .option('--readiness-address <addr>', 'readiness listen address (default 0.0.0.0:15021)')
    .option('--cert-ttl <duration>', 'requested certificate lifetime (env SECRET_TTL; default 24h)', durationArg('--cert-ttl'))
    .option('--drain <duration>', 'how long requests may finish on shutdown (env TERMINATION_DRAIN_DURATION; default 5s)', durationArg('--drain'))
    .option('--connect-timeout <duration>', 'upstream HBONE connect timeout (default 10s)', durationArg('--connect-timeout'))
    .option('--otlp-endpoint <url>', 'OTLP/HTTP collector for spans, e.g. http://127.0.0.1:4318/v1/traces (env AMBIT_OTLP_ENDPOINT; default none: no tracing)')
    .option('--trace-sampling <percent>', 'share of new traces recorded, 0-100 (env AMBIT_TRACE_SAMPLING; default 100)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug or trace (env AMBIT_LOG_LEVEL; default info)')
    .action(async (flags: WaypointFlags) => {
      await runComponent({
        name: 'waypoint',
        resolve: () => resolveConfig(flags),
        isConfigError: (e) => e instanceof ConfigError,
        err: io.err,
        logger: (config) => createLogger('waypoint', config.logLevel),
        stopping: (config) => ({ drainMs: config.drainMs }),
        start: (config, logger) => startWaypoint(config, { logger }),
      });
    });
}
