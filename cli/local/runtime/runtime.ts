// PodRuntime: the local cluster's kubelet for one pod. The runner creates one per pod after the
// pod's namespace is wired, and writes the statuses it reports to the store.
import { mkdirSync, rmSync } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { silentLogger, type Logger } from '../../../lib/telemetry/log.js';
import { realClock, rfc3339, type Clock } from './clock.js';
import { podRef } from './container.js';
import { netnsLauncher, type Launcher } from './launcher.js';
import { pidsFilePath, writePidsFile, type PidEntry } from './pids.js';
import { computePodStatus, statusChanged } from './pod-status.js';
import type { Dial } from './probers.js';
import { KUBELET_BACKOFF, type BackoffConfig } from './restart.js';
import { ContainerSupervisor } from './supervisor.js';
import type { PodContext, PodSpec, PodStatus, RuntimeEvent } from './types.js';
import { parsePodSpec } from './validate.js';

export type PodRuntimeOptions = {
  /** Opens HTTP/TCP probe connections; in the cluster, a socket in the node's namespace. */
  dial: Dial;
  /** Defaults to `ip netns exec` into `ctx.netns`. */
  launcher?: Launcher;
  clock?: Clock;
  /** Length of a Kubernetes "second" for probes and grace periods (default 1000). */
  secondMs?: number;
  backoff?: Partial<BackoffConfig>;
  /** The "image" environment every container starts with (default: PATH and HOME). */
  baseEnv?: Record<string, string>;
  logger?: Logger;
  onEvent?: (ev: RuntimeEvent) => void;
};

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export class PodRuntime {
  private supervisors: ContainerSupervisor[] = [];
  private spec: PodSpec | undefined;
  private ctx: PodContext | undefined;
  private startTime = '';
  private last: PodStatus | undefined;
  private lastPids: Record<string, PidEntry> = {};
  private onStatus: (s: PodStatus) => void = () => undefined;
  private flushQueued = false;
  private closed = false;
  private stopped: Promise<void> | undefined;
  private readonly clock: Clock;

  constructor(private readonly opts: PodRuntimeOptions) {
    this.clock = opts.clock ?? realClock;
  }

  /**
   * Validates the spec (throws naming the pod and field), then starts every container. `onStatus`
   * is called, at most once per tick, whenever the computed status differs from the last one.
   */
  start(spec: PodSpec, ctx: PodContext, onStatus: (s: PodStatus) => void): void {
    if (this.spec) throw new Error(`pod ${podRef(ctx)}: already started`);
    const parsed = parsePodSpec(spec, podRef(ctx));
    mkdirSync(ctx.logDir, { recursive: true });
    this.spec = parsed;
    this.ctx = ctx;
    this.onStatus = onStatus;
    this.startTime = rfc3339(this.clock.now());
    const o = this.opts;
    const logger = (o.logger ?? silentLogger()).child({ pod: podRef(ctx) });
    const deps = {
      launcher: o.launcher ?? netnsLauncher(),
      dial: o.dial,
      clock: this.clock,
      secondMs: o.secondMs ?? 1000,
      backoff: { ...KUBELET_BACKOFF, ...(o.backoff ?? {}) },
      baseEnv: o.baseEnv ?? { PATH: process.env.PATH ?? DEFAULT_PATH, HOME: process.env.HOME ?? '/root' },
      logger,
      onChange: () => this.changed(),
      ...(o.onEvent ? { onEvent: o.onEvent } : {}),
    };
    const info = { spec: parsed, ctx, restartPolicy: parsed.restartPolicy ?? 'Always', graceSeconds: parsed.terminationGracePeriodSeconds ?? 30 };
    this.supervisors = parsed.containers.map((c, i) => new ContainerSupervisor(c, i, info, deps));
    for (const s of this.supervisors) s.start();
    this.changed();
  }

  /**
   * Stops every container (SIGTERM, then SIGKILL after the grace period, default the pod's
   * terminationGracePeriodSeconds) and resolves once all have exited. No callbacks after that.
   */
  stop(graceSeconds?: number): Promise<void> {
    const spec = this.spec;
    if (!spec) return Promise.resolve();
    const graceMs = (graceSeconds ?? spec.terminationGracePeriodSeconds ?? 30) * (this.opts.secondMs ?? 1000);
    // A second call may shorten the grace period; all callers wait for the same end.
    const stopping = Promise.all(this.supervisors.map((s) => s.stop(graceMs)));
    this.stopped ??= stopping.then(() => {
      this.flush();
      this.closed = true;
      rmSync(this.pidsFile(), { force: true });
    });
    return this.stopped;
  }

  /** The current status, computed now. */
  status(): PodStatus | undefined {
    if (!this.spec || !this.ctx) return undefined;
    return computePodStatus(
      {
        restartPolicy: this.spec.restartPolicy ?? 'Always',
        containers: this.supervisors.map((s) => s.status()),
        podIP: this.ctx.podIP,
        ...(this.ctx.podIPs ? { podIPs: this.ctx.podIPs } : {}),
        ...(this.ctx.hostIP ? { hostIP: this.ctx.hostIP } : {}),
        startTime: this.startTime,
        now: rfc3339(this.clock.now()),
      },
      this.last,
    );
  }

  /** Running container processes by container name (each is its process group's leader). */
  pids(): Record<string, PidEntry> {
    const out: Record<string, PidEntry> = {};
    for (const s of this.supervisors) {
      const p = s.pid();
      if (p) out[s.spec.name] = p;
    }
    return out;
  }

  /** Where the PIDs are recorded for `killLeftovers` (the parent of `ctx.logDir`). */
  pidsFile(): string {
    return pidsFilePath(this.ctx?.logDir ?? '.');
  }

  private changed(): void {
    if (this.closed) return;
    this.recordPids();
    if (this.flushQueued) return;
    this.flushQueued = true;
    queueMicrotask(() => this.flush());
  }

  private flush(): void {
    this.flushQueued = false;
    if (this.closed) return;
    const next = this.status();
    if (!next || !statusChanged(this.last, next)) return;
    this.last = next;
    try {
      this.onStatus(next);
    } catch {
      // The runner's store write failing must not take the containers down; it resyncs later.
    }
  }

  private recordPids(): void {
    const pids = this.pids();
    if (isDeepStrictEqual(pids, this.lastPids) || !this.ctx) return;
    this.lastPids = pids;
    try {
      writePidsFile(this.pidsFile(), { pod: podRef(this.ctx), containers: pids });
    } catch {
      // Best effort: losing the record only matters if the runner also crashes.
    }
  }
}
