// One container of a pod: runs its process, restarts it per policy with back-off, feeds its
// output to the log file and drives its probes. Kubernetes decides every rule; this applies them.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import type { Logger } from '../../../lib/telemetry/log.js';
import { rfc3339, type Clock, type TimerHandle } from './clock.js';
import { planContainer, type LaunchPlan } from './container.js';
import { killGroup, processStartTicks, resolveExecutable, type Launcher } from './launcher.js';
import { LogWriter } from './logs.js';
import { probeFailedMessage, probeTiming, type ProbeKind, type ProbeOutcome, type ProbeResult } from './probe.js';
import { runProbe, type Dial } from './probers.js';
import { ProbeWorker } from './probe-worker.js';
import { backoffAfterExit, backoffMessage, exitCodeOf, NO_BACKOFF, shouldRestart, terminationReason, type BackoffConfig, type BackoffState } from './restart.js';
import type { ContainerSpec, ContainerState, ContainerStateTerminated, ContainerStatus, PodContext, PodSpec, RestartPolicy, RuntimeEvent } from './types.js';

export type SupervisorDeps = {
  launcher: Launcher;
  dial: Dial;
  clock: Clock;
  /** Length of a Kubernetes "second" (probe timings, grace periods) in ms. */
  secondMs: number;
  backoff: BackoffConfig;
  /** Stands in for the image's environment (PATH, HOME). */
  baseEnv: Record<string, string>;
  logger: Logger;
  onChange: () => void;
  onEvent?: (ev: RuntimeEvent) => void;
};

export type PodInfo = { spec: PodSpec; ctx: PodContext; restartPolicy: RestartPolicy; graceSeconds: number };

/** After the main process exits, how long to wait for its output pipes to drain. */
const DRAIN_MS = 2000;

type Run = {
  child: ChildProcess;
  pid: number;
  startedAt: number;
  startTicks?: string;
  probes: Map<ProbeKind, ProbeWorker>;
  started: boolean;
  killTimer?: TimerHandle;
  killDeadline?: number;
  done: Promise<void>;
};

export class ContainerSupervisor {
  private state: ContainerState = { waiting: { reason: 'ContainerCreating' } };
  private lastState: ContainerState = {};
  private restartCount = 0;
  private backoffState: BackoffState = NO_BACKOFF;
  private run: Run | undefined;
  private backoffTimer: TimerHandle | undefined;
  private stopping = false;
  private plan: LaunchPlan | undefined;
  private readonly log: LogWriter;
  private logClosed: Promise<void> | undefined;

  constructor(
    readonly spec: ContainerSpec,
    private readonly index: number,
    private readonly pod: PodInfo,
    private readonly deps: SupervisorDeps,
  ) {
    this.log = new LogWriter(path.join(pod.ctx.logDir, `${spec.name}.log`));
  }

  start(): void {
    const r = planContainer(this.spec, this.index, this.pod.spec, this.pod.ctx, this.deps.baseEnv);
    if (!r.ok) {
      this.state = { waiting: { reason: r.reason, message: r.message } };
      this.event('Warning', 'Failed', r.message);
      this.deps.onChange();
      return;
    }
    this.plan = r.plan;
    this.launch();
  }

  /** SIGTERM, then SIGKILL after `graceMs`; no restart afterwards. */
  async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    this.backoffTimer?.cancel();
    this.backoffTimer = undefined;
    const run = this.run;
    if (run) {
      for (const w of run.probes.values()) w.stop();
      this.kill(run, graceMs);
      await run.done;
    }
    this.logClosed ??= this.log.close();
    await this.logClosed;
  }

  status(): ContainerStatus {
    const run = this.run;
    const readiness = run?.probes.get('readiness');
    const started = !!run && run.started;
    const ready = started && (readiness ? readiness.result === 'success' : true);
    return {
      name: this.spec.name,
      image: this.spec.image ?? '',
      imageID: '',
      ...(run ? { containerID: `ambit://${run.pid}` } : {}),
      ready,
      started,
      restartCount: this.restartCount,
      state: this.state,
      lastState: this.lastState,
    };
  }

  pid(): { pid: number; startTicks?: string } | undefined {
    return this.run ? { pid: this.run.pid, ...(this.run.startTicks ? { startTicks: this.run.startTicks } : {}) } : undefined;
  }

  private event(type: RuntimeEvent['type'], reason: string, message: string): void {
    this.deps.logger.info({ container: this.spec.name, reason }, message);
    this.deps.onEvent?.({ type, reason, container: this.spec.name, message });
  }

  private launch(): void {
    const plan = this.plan;
    if (this.stopping || !plan) return;
    const [file = '', ...args] = plan.argv;
    if (plan.cwd && !existsSync(plan.cwd)) return this.startFailed(`chdir ${plan.cwd}: no such file or directory (spec.containers[${this.index}].workingDir)`);
    const exe = resolveExecutable(file, plan.env, plan.cwd);
    if ('error' in exe) return this.startFailed(exe.error);
    let child: ChildProcess;
    try {
      child = this.deps.launcher.spawn({ argv: [exe.path, ...args], env: plan.env, netns: this.pod.ctx.netns, mounts: (this.pod.ctx.mounts ?? []).filter((m) => m.container === this.spec.name), ...(plan.cwd ? { cwd: plan.cwd } : {}) });
    } catch (e) {
      return this.startFailed((e as Error).message);
    }
    if (child.pid === undefined) {
      child.once('error', (e) => this.startFailed(e.message));
      return;
    }
    const startedAt = this.deps.clock.now();
    let resolveDone!: () => void;
    const done = new Promise<void>((r) => (resolveDone = r));
    const startTicks = processStartTicks(child.pid);
    const run: Run = { child, pid: child.pid, startedAt, probes: new Map(), started: false, done, ...(startTicks ? { startTicks } : {}) };
    this.run = run;
    if (child.stdout) this.log.attach(child.stdout, 'stdout');
    if (child.stderr) this.log.attach(child.stderr, 'stderr');
    child.on('error', () => undefined);
    child.once('exit', (code, signal) => {
      // The main process is gone: like a PID namespace teardown, take the rest of its group with it.
      killGroup(run.pid, 'SIGKILL');
      const sig = signal ? osConstants.signals[signal] : undefined;
      const drained = new Promise<void>((r) => {
        const t = setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          r();
        }, DRAIN_MS);
        child.once('close', () => {
          clearTimeout(t);
          r();
        });
      });
      const finishedAt = this.deps.clock.now();
      void drained.then(() => {
        this.finishRun(run, exitCodeOf(code, sig), sig, finishedAt);
        resolveDone();
      });
    });
    this.state = { running: { startedAt: rfc3339(startedAt) } };
    this.event('Normal', 'Started', `Started container ${this.spec.name}`);
    if (this.spec.startupProbe) this.startProbe(run, 'startup');
    else this.markStarted(run);
    this.deps.onChange();
  }

  private startFailed(message: string): void {
    const now = this.deps.clock.now();
    this.event('Warning', 'Failed', `Error: ${message}`);
    this.afterExit({ exitCode: 128, reason: 'StartError', message, startedAt: rfc3339(now), finishedAt: rfc3339(now) }, 0);
  }

  private finishRun(run: Run, exitCode: number, signal: number | undefined, finishedAt: number): void {
    run.killTimer?.cancel();
    for (const w of run.probes.values()) w.stop();
    if (this.run === run) this.run = undefined;
    const term: ContainerStateTerminated = {
      exitCode,
      ...(signal ? { signal } : {}),
      reason: terminationReason(exitCode),
      startedAt: rfc3339(run.startedAt),
      finishedAt: rfc3339(finishedAt),
      containerID: `ambit://${run.pid}`,
    };
    this.afterExit(term, finishedAt - run.startedAt);
  }

  private afterExit(term: ContainerStateTerminated, runMs: number): void {
    if (this.stopping || !shouldRestart(this.pod.restartPolicy, term.exitCode)) {
      this.state = { terminated: term };
      this.deps.onChange();
      return;
    }
    this.lastState = { terminated: term };
    const b = backoffAfterExit(this.backoffState, runMs, this.deps.backoff);
    this.backoffState = b.state;
    if (b.delayMs === 0) {
      this.restartCount++;
      this.launch();
      return;
    }
    const { podName, namespace, uid } = this.pod.ctx;
    this.state = { waiting: { reason: 'CrashLoopBackOff', message: backoffMessage(b.delayMs, this.spec.name, podName, namespace, uid) } };
    this.event('Warning', 'BackOff', `Back-off restarting failed container ${this.spec.name} in pod ${podName}_${namespace}(${uid ?? ''})`);
    this.deps.onChange();
    this.backoffTimer = this.deps.clock.after(b.delayMs, () => {
      this.backoffTimer = undefined;
      this.restartCount++;
      this.launch();
    });
  }

  /** SIGTERM now and SIGKILL at the deadline; a second, shorter grace period brings it forward. */
  private kill(run: Run, graceMs: number): void {
    const deadline = this.deps.clock.now() + graceMs;
    if (run.killDeadline !== undefined && run.killDeadline <= deadline) return;
    if (run.killDeadline === undefined) killGroup(run.pid, 'SIGTERM');
    run.killTimer?.cancel();
    run.killDeadline = deadline;
    run.killTimer = this.deps.clock.after(graceMs, () => killGroup(run.pid, 'SIGKILL'));
  }

  private markStarted(run: Run): void {
    run.started = true;
    if (this.spec.readinessProbe) this.startProbe(run, 'readiness');
    if (this.spec.livenessProbe) this.startProbe(run, 'liveness');
  }

  private startProbe(run: Run, kind: ProbeKind): void {
    const probe = kind === 'startup' ? this.spec.startupProbe : kind === 'liveness' ? this.spec.livenessProbe : this.spec.readinessProbe;
    if (!probe) return;
    const target = { podIP: this.pod.ctx.podIP, netns: this.pod.ctx.netns, ports: this.spec.ports ?? [], env: this.plan?.env ?? {} };
    const timing = probeTiming(probe, this.deps.secondMs);
    const w = new ProbeWorker({
      kind,
      timing,
      clock: this.deps.clock,
      run: () => runProbe(probe, target, timing.timeoutMs, { dial: this.deps.dial, launcher: this.deps.launcher }),
      onFailure: (o) => this.deps.logger.debug({ container: this.spec.name, probe: kind }, o.message),
      onResult: (result, outcome) => this.onProbeResult(run, kind, result, outcome),
    });
    run.probes.set(kind, w);
    w.start();
  }

  private onProbeResult(run: Run, kind: ProbeKind, result: ProbeResult, outcome: ProbeOutcome): void {
    if (this.run !== run) return;
    if (result === 'failure') this.event('Warning', 'Unhealthy', probeFailedMessage(kind, outcome.message));
    if (kind === 'startup' && result === 'success') this.markStarted(run);
    if (kind !== 'readiness' && result === 'failure' && !this.stopping) {
      const probe = kind === 'startup' ? this.spec.startupProbe : this.spec.livenessProbe;
      const grace = probe?.terminationGracePeriodSeconds ?? this.pod.graceSeconds;
      this.event('Normal', 'Killing', `Container ${this.spec.name} failed ${kind} probe, will be restarted`);
      this.kill(run, grace * this.deps.secondMs);
    }
    this.deps.onChange();
  }
}
