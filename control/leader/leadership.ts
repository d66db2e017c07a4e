// What only the leader does (status write-back, the root ConfigMaps, controllers) registers here
// as tasks: each is started when this replica becomes leader and stopped when it stops being
// one. Without an election (File mode: one control plane) this replica leads from start().
import type { ClusterStore } from '../../lib/store/types.js';
import type { Logger } from '../../lib/telemetry/log.js';
import { LeaderElector } from './elector.js';

export interface LeaderTask {
  name: string;
  start(): void;
  stop(): void | Promise<void>;
}

export interface ElectionSettings {
  store: ClusterStore;
  namespace: string;
  leaseName: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

export class Leadership {
  private readonly tasks: LeaderTask[] = [];
  private readonly elector: LeaderElector | undefined;
  private leading = false;
  private stopping: Promise<void> = Promise.resolve();
  /** Times this replica became leader (metrics, tests). */
  terms = 0;

  constructor(
    private readonly log: Logger,
    election?: ElectionSettings,
  ) {
    this.elector = election
      ? new LeaderElector({
          store: election.store,
          namespace: election.namespace,
          name: election.leaseName,
          identity: election.identity,
          leaseDurationMs: election.leaseDurationMs,
          renewDeadlineMs: election.renewDeadlineMs,
          retryPeriodMs: election.retryPeriodMs,
          log,
          onStartedLeading: () => this.set(true),
          onStoppedLeading: () => this.set(false),
        })
      : undefined;
  }

  get isLeader(): boolean {
    return this.leading;
  }

  get elected(): boolean {
    return this.elector !== undefined;
  }

  /** Adds a task; it starts at once when this replica already leads. */
  add(task: LeaderTask): void {
    this.tasks.push(task);
    if (this.leading) this.run(task, 'start');
  }

  start(): void {
    if (this.elector) this.elector.start();
    else this.set(true);
  }

  private set(leading: boolean): void {
    if (leading === this.leading) return;
    this.leading = leading;
    if (leading) {
      this.terms++;
      // A new term starts after the last one's tasks have stopped.
      void this.stopping.then(() => {
        if (this.leading) for (const t of this.tasks) this.run(t, 'start');
      });
    } else {
      this.stopping = Promise.all([...this.tasks].reverse().map((t) => this.run(t, 'stop'))).then(() => undefined);
    }
  }

  private async run(task: LeaderTask, what: 'start' | 'stop'): Promise<void> {
    try {
      await task[what]();
    } catch (err) {
      this.log.error({ task: task.name, err: (err as Error).message }, `leader task failed to ${what}`);
    }
  }

  /** Stops the tasks; `release` (default true) hands the lease to another replica at once. */
  async close(opts: { release?: boolean } = {}): Promise<void> {
    if (this.elector) await this.elector.close(opts);
    else this.set(false);
    await this.stopping;
  }
}
