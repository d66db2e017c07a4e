// `ambit cni-agent`: flags + environment → Config (logged once) → startCniAgent. SIGTERM/SIGINT
// stop serving and leave the pods' redirection in place (the next agent takes them over).
import { Command } from 'commander';
import { createLogger } from '../lib/telemetry/log.js';
import { durationArg, runComponent } from '../lib/sys/component.js';
import { startCniAgent } from './app.js';
import { ConfigError, DEFAULT_ZDS_SOCKET, resolveConfig, type CniAgentFlags } from './config.js';
import { DEFAULT_AGENT_SOCKET } from './plugin/protocol.js';


export interface CniAgentIO {
  err: (s: string) => void;
}

const defaultIO: CniAgentIO = { err: (s) => process.stderr.write(s) };

async function run(flags: CniAgentFlags, io: CniAgentIO): Promise<void> {
  await runComponent({
    name: 'cni-agent',
    resolve: () => resolveConfig(flags, process.env),
    isConfigError: (e) => e instanceof ConfigError,
    err: io.err,
    logger: (config) => createLogger('cni-agent', config.logLevel),
    start: (config, logger) => startCniAgent(config, { logger }),
  });
}


export function cniAgentCommand(io: CniAgentIO = defaultIO): Command {
  return new Command('cni-agent')
    .description("run the CNI node agent: enrols this node's ambient pods (in-pod redirection, probe SNAT), serves ztunnel over ZDS and the ambit-cni plugin")
    .option('--node <name>', 'this node (env NODE_NAME); only pods scheduled here are enrolled')
    .option('--state-dir <dir>', 'cluster state directory (env AMBIT_STATE_DIR; default /var/lib/ambit)')
    .option('--store-dir <dir>', 'File store directory (default <state-dir>/store)')
    .option('--cni-socket <path>', `Unix socket the ambit-cni plugin talks to (default ${DEFAULT_AGENT_SOCKET})`)
    .option('--zds-socket <path>', `Unix socket ztunnel connects to (default ${DEFAULT_ZDS_SOCKET})`)
    .option('--metrics-address <addr>', '/metrics, /readyz, /healthz/ready, /debug/pods (default :15014; port 0 picks one)')
    .option('--exclude-namespaces <list>', 'comma-separated namespaces never enrolled (env AMBIT_CNI_EXCLUDE_NAMESPACES; default kube-system,istio-system)')
    .option('--no-dns-capture', 'do not capture DNS to ztunnel unless a pod asks (env AMBIENT_DNS_CAPTURE; default on)')
    .option('--redirect-backend <tool>', 'in-pod rules: auto, iptables, iptables-legacy, iptables-nft or nft (default auto)')
    .option('--probe-backend <tool>', 'node probe SNAT set: auto, ipset or nft (default auto)')
    .option('--probe-ipv6', 'also SNAT probes to IPv6 pod addresses')
    .option('--node-netns <name>', "put the probe SNAT in this named network namespace instead of the agent's own")
    .option('--cni-conf-dir <dir>', "chain ambit-cni into this directory's primary CNI configuration at start (env CNI_NET_DIR; e.g. /etc/cni/net.d)")
    .option('--cni-bin-dir <dir>', 'install the ambit-cni binary here at start (env CNI_BIN_DIR; e.g. /opt/cni/bin)')
    .option('--kubeconfig <file>', "Kubernetes mode: this kubeconfig's API server holds the pods (env KUBECONFIG; in a pod its service account)")
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent (env AMBIT_LOG_LEVEL; default info)')
    .option('--zds-ack-timeout <duration>', 'how long ztunnel may take to acknowledge a pod (default 5s)', durationArg('--zds-ack-timeout'))
    .action(async (o: CniAgentFlags) => {
      // commander sets dnsCapture=true unless --no-dns-capture; leave the default to the environment then.
      const flags: CniAgentFlags = { ...o };
      if (o.dnsCapture === true) delete flags.dnsCapture;
      await run(flags, io);
    });
}
