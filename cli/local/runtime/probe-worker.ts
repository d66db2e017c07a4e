// Runs one probe of one container run on its period and reports verdict changes.
import type { Clock, TimerHandle } from './clock.js';
import { newCounter, recordOutcome, type ProbeCounter, type ProbeKind, type ProbeOutcome, type ProbeResult, type ProbeTiming } from './probe.js';

export type ProbeWorkerOptions = {
  kind: ProbeKind;
  timing: ProbeTiming;
  clock: Clock;
  run: () => Promise<ProbeOutcome>;
  /** Called when the verdict changes, with the outcome that changed it. */
  onResult: (result: ProbeResult, outcome: ProbeOutcome) => void;
  /** Every failed attempt, for logs. */
  onFailure?: (outcome: ProbeOutcome) => void;
};

export class ProbeWorker {
  private counter: ProbeCounter;
  private timer: TimerHandle | undefined;
  private stopped = false;

  constructor(private readonly o: ProbeWorkerOptions) {
    this.counter = newCounter(o.kind);
  }

  get result(): ProbeResult {
    return this.counter.result;
  }

  start(): void {
    this.schedule(this.o.timing.initialDelayMs);
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = this.o.clock.after(ms, () => void this.tick());
  }

  private async tick(): Promise<void> {
    this.timer = undefined;
    if (this.stopped) return;
    const began = this.o.clock.now();
    let outcome: ProbeOutcome;
    try {
      outcome = await this.o.run();
    } catch (e) {
      outcome = { result: 'failure', message: (e as Error).message };
    }
    if (this.stopped) return;
    if (outcome.result === 'failure') this.o.onFailure?.(outcome);
    const before = this.counter.result;
    this.counter = recordOutcome(this.o.kind, this.counter, outcome.result, this.o.timing);
    const done = this.counter.onHold || (this.o.kind === 'startup' && this.counter.result === 'success');
    if (done) this.stopped = true;
    else this.schedule(Math.max(0, this.o.timing.periodMs - (this.o.clock.now() - began)));
    if (this.counter.result !== before) this.o.onResult(this.counter.result, outcome);
  }
}
