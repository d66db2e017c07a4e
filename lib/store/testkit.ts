/** Helpers for the store's own tests (not part of the public API). */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeObject, WatchEvent } from './types.js';

export function tempDir(tag: string): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), `ambit-${tag}-${process.pid}-`));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Collects watch events and waits, with a deadline, until a condition on them holds. */
export class Collector<T extends KubeObject = KubeObject> {
  readonly events: WatchEvent<T>[] = [];
  private waiters: Array<() => void> = [];

  readonly push = (ev: WatchEvent<T>): void => {
    this.events.push(ev);
    for (const w of this.waiters) w();
  };

  /** `TYPE name` per event, for compact assertions. */
  get summary(): string[] {
    return this.events.map((e) => `${e.type} ${e.object.metadata.name}`);
  }

  async until(cond: (events: WatchEvent<T>[]) => boolean, timeoutMs = 10_000, what = 'events'): Promise<void> {
    if (cond(this.events)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== check);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; got ${this.summary.join(', ') || 'nothing'}`));
      }, timeoutMs);
      const check = (): void => {
        if (!cond(this.events)) return;
        clearTimeout(timer);
        this.waiters = this.waiters.filter((w) => w !== check);
        resolve();
      };
      this.waiters.push(check);
    });
  }

  count(n: number, timeoutMs?: number): Promise<void> {
    return this.until((e) => e.length >= n, timeoutMs, `${n} events`);
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}
