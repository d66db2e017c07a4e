// `ambit dashboard`: prints the URL of the control plane's dashboard, reached through the host
// loopback port-forward `ambit up` keeps for it, and checks that it answers; `--open` also starts
// a browser.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Command } from 'commander';
import { DASHBOARD_FORWARD, type ClusterInfo } from '../local/layout.js';
import { addStateDir, isAlive, kubeconfigOf, readClusterInfo, stateDirOf } from './common.js';

export interface DashboardIO {
  out: (s: string) => void;
  err: (s: string) => void;
  open: (url: string) => void;
}

const defaultIO: DashboardIO = {
  out: (s) => console.log(s),
  err: (s) => console.error(s),
  open: (url) => {
    const child = spawn('xdg-open', [url], { detached: true, stdio: 'ignore' });
    child.on('error', (e) => console.error(`--open: cannot start a browser with xdg-open (${e.message}); open ${url} yourself`));
    child.unref();
  },
};

/** The dashboard's URL for a cluster, or the reason there is none. Pure. */
export function dashboardUrl(stateDir: string, info: ClusterInfo | undefined, running: boolean, kubernetes: boolean): string {
  if (!info || !running) throw new Error(`no running cluster in ${stateDir}: start one with \`ambit up --state-dir ${stateDir}\` (add --demo for traffic to look at)`);
  if (kubernetes) {
    throw new Error(
      'ambit dashboard does not forward to a Kubernetes-mode control plane yet; reach it with `kubectl -n istio-system port-forward deploy/ambit-control 20001` and open http://127.0.0.1:20001/',
    );
  }
  const addr = info.forwards[DASHBOARD_FORWARD];
  if (!addr) throw new Error(`the cluster in ${stateDir} has no dashboard port-forward (started by an older ambit up?); restart it with \`ambit down\` and \`ambit up\``);
  return `http://${addr}/`;
}

export function dashboardCommand(io: DashboardIO = defaultIO): Command {
  return addStateDir(new Command('dashboard'))
    .description("print the URL of the mesh dashboard (service graph, golden signals, policies), served by the control plane through a host loopback port-forward")
    .option('--open', 'also open it in a browser (xdg-open)')
    .action(async (opts: { stateDir?: string; open?: boolean }) => {
      const stateDir = stateDirOf(opts);
      const info = readClusterInfo(stateDir);
      const url = dashboardUrl(stateDir, info, isAlive(info?.runnerPid), existsSync(kubeconfigOf(stateDir)));
      try {
        const r = await fetch(new URL('api/graph', url), { signal: AbortSignal.timeout(3000) });
        if (!r.ok) io.err(`warning: the dashboard at ${url} answers HTTP ${r.status}: ${(await r.text()).slice(0, 200)}`);
      } catch (e) {
        io.err(`warning: the dashboard at ${url} does not answer yet (${(e as Error).message}); the control plane may still be starting`);
      }
      io.out(url);
      if (opts.open) io.open(url);
    });
}
