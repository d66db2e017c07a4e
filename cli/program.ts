import { Command } from 'commander';
import { echoCommand } from './apps/echo/command.js';
import { bookstoreCommand } from './apps/bookstore/command.js';
import { controlCommand } from '../control/main.js';
import { ztunnelCommand } from '../ztunnel/main.js';
import { waypointCommand } from '../waypoint/main.js';
import { cniAgentCommand } from '../cni/main.js';
import { clusterDnsCommand, downCommand, upCommand } from './commands/cluster.js';
import { applyCommand, deleteCommand, getCommand, labelCommand } from './commands/objects.js';
import { execCommand, logsCommand } from './commands/pods.js';
import { analyzeCommand } from './commands/analyze.js';
import { dashboardCommand } from './commands/dashboard.js';
import { addWaypointCommands } from './commands/waypoint.js';
import { ztunnelConfigCommand } from './commands/ztunnel-config.js';
import { proxyStatusCommand } from './commands/proxy-status.js';
import { AMBIT_VERSION } from '../lib/version.js';

export function buildProgram(): Command {
  const program = new Command('ambit').description('Ambit: a sidecar-less service mesh').version(AMBIT_VERSION);
  program.showHelpAfterError();
  // `ambit waypoint` runs the proxy; `ambit waypoint apply|list|delete` manage waypoints.
  const waypoint = addWaypointCommands(waypointCommand());
  for (const c of [upCommand(), downCommand(), applyCommand(), deleteCommand(), getCommand(), labelCommand(), analyzeCommand(), dashboardCommand(), ztunnelConfigCommand(), proxyStatusCommand(), execCommand(), logsCommand(), echoCommand(), bookstoreCommand(), controlCommand(), ztunnelCommand(), waypoint, cniAgentCommand(), clusterDnsCommand()]) {
    program.addCommand(c);
  }
  return program;
}
