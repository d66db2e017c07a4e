// `promtool check metrics` (Debian package prometheus) on an exposition text. A missing promtool
// is a failure, not a skip. Istio's own metric names that promtool's naming lint flags (Istio's
// dashboards query exactly these names) are reported apart, as `excused`; anything else is a
// problem.
import { spawn } from 'node:child_process';

/** Istio's names promtool's lint flags: istiod's counters without _total, ztunnel's workload-manager gauges, Istio's request duration in ms. */
export const ISTIO_NAMES: readonly string[] = [
  'pilot_xds_pushes',
  'pilot_total_xds_rejects',
  'citadel_server_csr_count',
  'citadel_server_authentication_failure_count',
  'citadel_server_csr_parsing_err_count',
  'citadel_server_csr_sign_err_count',
  'citadel_server_success_cert_issuance_count',
  'workload_manager_active_proxy_count',
  'workload_manager_pending_proxy_count',
  'istio_request_duration_milliseconds',
];

export interface PromtoolResult {
  code: number;
  problems: string[];
  excused: string[];
}

export async function promtoolCheck(exposition: string): Promise<PromtoolResult> {
  const { code, output } = await new Promise<{ code: number; output: string }>((resolve, reject) => {
    const child = spawn('promtool', ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => chunks.push(c));
    child.stderr.on('data', (c: Buffer) => chunks.push(c));
    child.on('error', (e) => reject(new Error(`promtool: ${e.message} (install the Debian package prometheus)`)));
    child.on('close', (c) => resolve({ code: c ?? -1, output: Buffer.concat(chunks).toString('utf8') }));
    child.stdin.end(exposition);
  });
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  const excused = lines.filter((l) => ISTIO_NAMES.includes(l.split(' ')[0]!));
  const problems = lines.filter((l) => !excused.includes(l));
  // Exit 3 is "lint problems"; any other non-zero exit (1: unparsable text) is always a problem.
  if (code !== 0 && !(code === 3 && problems.length === 0)) problems.push(`promtool exited ${code}`);
  return { code, problems, excused };
}
