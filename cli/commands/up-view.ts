// The pure half of what `ambit up` prints: one line per build step (rewritten in place on a
// terminal, plain lines otherwise) and the summary tables once every pod runs.
import type { Pod } from '../../lib/k8s/types.js';
import { isPodReady } from '../../lib/k8s/types.js';
import type { ClusterStep } from '../local/layout.js';
import { podStatus, table } from '../format.js';

const seconds = (ms: number | undefined) => (ms === undefined ? '' : ` (${(ms / 1000).toFixed(1)}s)`);

/** One step as a line: `✓ name detail (1.2s)`, `✗ …: error`, or `… name` while it runs. */
export function stepLine(s: ClusterStep): string {
  const detail = s.detail ? `: ${s.detail}` : '';
  if (s.state === 'done') return `  ✓ ${s.name}${detail}${seconds(s.ms)}`;
  if (s.state === 'failed') return `  ✗ ${s.name}${detail}${seconds(s.ms)}`;
  return `  … ${s.name}${detail}`;
}

/**
 * Prints steps as they change. On a terminal the running step is one line rewritten in place and
 * replaced by its result; otherwise only finished steps are printed, one plain line each.
 */
export class ProgressPrinter {
  private printed = 0;
  private live = '';

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
  ) {}

  /** Takes the whole list of steps so far (they only ever append or finish in order). */
  update(steps: readonly ClusterStep[]): void {
    while (this.printed < steps.length && steps[this.printed]!.state !== 'running') {
      this.clearLive();
      this.write(stepLine(steps[this.printed]!) + '\n');
      this.printed++;
    }
    const running = steps[this.printed];
    if (!this.tty || !running) return;
    const line = stepLine(running);
    if (line === this.live) return;
    this.clearLive();
    this.write(line);
    this.live = line;
  }

  /** Leaves the terminal at the start of a clean line. */
  finish(): void {
    this.clearLive();
  }

  private clearLive(): void {
    if (!this.live) return;
    this.write('\r\x1b[K');
    this.live = '';
  }
}

/** `n/m ready` of the pods, for the waiting step. */
export function readyCount(pods: Pod[]): string {
  return `${pods.filter((p) => p.status?.phase === 'Running' && isPodReady(p)).length}/${pods.length} pods ready`;
}

/** Pods by node: NODE NAMESPACE POD IP STATUS, sorted. */
export function podsTable(pods: Pod[]): string {
  const rows = pods
    .map((p) => [p.spec.nodeName ?? '<unscheduled>', p.metadata.namespace ?? '', p.metadata.name, p.status?.podIP ?? '<none>', isPodReady(p) ? 'Ready' : podStatus(p)])
    .sort((a, b) => a.join(' ').localeCompare(b.join(' ')));
  return table(['NODE', 'NAMESPACE', 'POD', 'IP', 'STATUS'], rows);
}

/** Per node: how many pods and how many of them are ready. */
export function nodesTable(nodes: string[], pods: Pod[]): string {
  return table(
    ['NODE', 'PODS', 'READY'],
    nodes.map((n) => {
      const on = pods.filter((p) => p.spec.nodeName === n);
      return [n, String(on.length), String(on.filter((p) => isPodReady(p)).length)];
    }),
  );
}

/** FORWARD URL: the host's loopback port-forwards, the demo's first. */
export function forwardsTable(forwards: Record<string, string>, first?: string): string {
  const names = Object.keys(forwards).sort((a, b) => Number(b === first) - Number(a === first) || a.localeCompare(b));
  // The apiserver's forward carries TLS (its kubeconfig names it); the others serve plain HTTP.
  return table(['FORWARD', 'URL'], names.map((n) => [n, `${n === 'kube-apiserver' ? 'https' : 'http'}://${forwards[n]}/`]));
}
