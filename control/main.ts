// `ambit control`: flags + environment → Config (logged once) → startControlPlane; SIGTERM/SIGINT
// close it. `ambit control issue-node-credential` signs a node's credential for `ambit up`.
import { Command } from 'commander';
import { createLogger } from '../lib/telemetry/log.js';
import { durationArg, runComponent } from '../lib/sys/component.js';
import { startControlPlane } from './app.js';
import { issueNodeCredential } from '../lib/credentials/node-credential.js';
import { parseDuration } from '../lib/config/duration.js';
import { ConfigError, resolveConfig, type ControlFlags } from './config.js';


export interface ControlIO {
  out: (s: string) => void;
  err: (s: string) => void;
}

const defaultIO: ControlIO = { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) };

async function runControlPlane(flags: ControlFlags, io: ControlIO): Promise<void> {
  await runComponent({
    name: 'control plane',
    resolve: () => resolveConfig(flags),
    isConfigError: (e) => e instanceof ConfigError,
    err: io.err,
    logger: (config) => createLogger('control', config.logLevel),
    start: (config, logger) => startControlPlane(config, { logger }),
  });
}


export function controlCommand(io: ControlIO = defaultIO): Command {
  const cmd = new Command('control')
    .description('run the control plane: delta xDS and the certificate service on 15012 (TLS), metrics and debug on 15014, readiness on 15021, the dashboard on 127.0.0.1:20001')
    .option('--state-dir <dir>', 'cluster state directory (env AMBIT_STATE_DIR; default /var/lib/ambit)')
    .option('--store-dir <dir>', 'File store directory (default <state-dir>/store)')
    .option('--ca-dir <dir>', 'CA state: root, node credential key, root-cert.pem (default <state-dir>/ca)')
    .option('--trust-domain <domain>', 'SPIFFE trust domain (env TRUST_DOMAIN; default cluster.local)')
    .option('--cluster-id <id>', 'cluster id in workload uids (env CLUSTER_ID; default Kubernetes)')
    .option('--namespace <ns>', "the control plane's namespace (env POD_NAMESPACE; default istio-system)")
    .option('--root-namespace <ns>', 'namespace of mesh-wide policies (default: --namespace)')
    .option('--network <name>', 'network of the workloads (env NETWORK)')
    .option('--domain-suffix <suffix>', 'service DNS suffix (default cluster.local)')
    .option('--grpc-address <addr>', 'xDS + CA listen address (env AMBIT_GRPC_ADDRESS; default :15012)')
    .option('--monitoring-address <addr>', 'metrics + debug listen address (default :15014)')
    .option('--readiness-address <addr>', 'readiness listen address (default :15021)')
    .option('--dashboard-address <addr>', 'dashboard + its JSON API listen address, loopback only unless --dashboard-allow-remote (env AMBIT_DASHBOARD_ADDRESS; default 127.0.0.1:20001)')
    .option('--dashboard-allow-remote', 'let --dashboard-address be a non-loopback address (the dashboard has no authentication)')
    .option('--scrape-interval <duration>', 'how often the dashboard scrapes the ztunnels and waypoints (env AMBIT_SCRAPE_INTERVAL; default 5s)', durationArg('--scrape-interval'))
    .option('--prometheus-url <url>', 'answer the dashboard from this Prometheus server (PromQL) instead of scraping (env AMBIT_PROMETHEUS_URL)')
    .option('--debounce-quiet <duration>', 'push after this long without changes (env PILOT_DEBOUNCE_AFTER; default 50ms)', durationArg('--debounce-quiet'))
    .option('--debounce-max <duration>', 'but never later than this after the first change (env PILOT_DEBOUNCE_MAX; default 500ms)', durationArg('--debounce-max'))
    .option('--default-cert-ttl <duration>', 'workload certificate lifetime when none is asked (default 24h)', durationArg('--default-cert-ttl'))
    .option('--max-cert-ttl <duration>', 'longest workload certificate lifetime (default 90d)', durationArg('--max-cert-ttl'))
    .option('--max-concurrent-syncs <n>', 'clients receiving their initial full push at once (env PILOT_PUSH_THROTTLE; default 8)')
    .option('--no-status', 'do not write conditions back to policies and services (env AMBIENT_ENABLE_STATUS)')
    .option('--kubeconfig <file>', 'Kubernetes mode: the API server of this kubeconfig is the cluster state (env KUBECONFIG; in a pod its service account)')
    .option('--token-audience <aud>', 'Kubernetes mode: the audience of the service-account tokens callers present (env AMBIT_TOKEN_AUDIENCE; default ambit-control)')
    .option('--no-deployment-controller', 'do not deploy waypoints for Gateways of class istio-waypoint (env PILOT_ENABLE_GATEWAY_API_DEPLOYMENT_CONTROLLER)')
    .option('--waypoint-xds-address <host:port>', 'the xDS and CA address waypoint pods are given (env AMBIT_WAYPOINT_XDS_ADDRESS; default: --grpc-address if it names a host, else istiod.<namespace>.svc:15012)')
    .option('--waypoint-otlp-endpoint <url>', 'the OTLP/HTTP collector waypoint pods send spans to (env AMBIT_WAYPOINT_OTLP_ENDPOINT; default none; `ambit up` passes the embedded receiver, http://<control>:15014/v1/traces)')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env AMBIT_LOG_LEVEL; default info)')
    .action(async (o: ControlFlags & { status: boolean; deploymentController: boolean }) => {
      // commander sets these to true unless --no-…; leave the default to the environment then.
      const flags: ControlFlags = { ...o };
      if (o.status) delete flags.status;
      if (o.deploymentController) delete flags.deploymentController;
      await runControlPlane(flags, io);
    });

  cmd
    .command('issue-node-credential')
    .description("sign a node's credential for its ztunnel; writes <state-dir>/credentials/<node>.token (0600) and prints its path")
    .requiredOption('--node <name>', 'node name')
    .option('--ttl <duration>', 'credential lifetime', durationArg('--ttl'), '30d')
    .option('--print', 'print the token on stdout instead of writing the file')
    // --state-dir / --ca-dir are the parent's options (given before or after the subcommand).
    .action(async (_o: unknown, sub: Command) => {
      const o = sub.optsWithGlobals<{ node: string; stateDir?: string; caDir?: string; ttl: string; print?: boolean }>();
      try {
        const config = resolveConfig({ ...(o.stateDir ? { stateDir: o.stateDir } : {}), ...(o.caDir ? { caDir: o.caDir } : {}) });
        const { token, file } = await issueNodeCredential({
          caDir: config.caDir,
          ...(o.print ? {} : { credentialsDir: config.credentialsDir }),
          nodeName: o.node,
          ttlSeconds: Math.round(parseDuration(o.ttl, '--ttl') / 1000),
        });
        io.out(o.print ? `${token}\n` : `${file}\n`);
      } catch (e) {
        io.err(`issue-node-credential: ${(e as Error).message}\n`);
        process.exitCode = 1;
      }
    });
  return cmd;
}
