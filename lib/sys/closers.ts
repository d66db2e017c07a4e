// The shutdown steps of a composition root: run in the reverse order of their registration (what
// was built last goes first), each awaited; a failing step is logged and the others still run.
export class Closers {
  private steps: Array<() => unknown> = [];

  constructor(private readonly log: { warn(obj: object, msg: string): void }) {}

  push(step: () => unknown): void {
    this.steps.push(step);
  }

  async closeAll(): Promise<void> {
    for (const step of this.steps.splice(0).reverse()) {
      try {
        await step();
      } catch (e) {
        this.log.warn({ err: (e as Error).message }, 'error while shutting down');
      }
    }
  }
}
