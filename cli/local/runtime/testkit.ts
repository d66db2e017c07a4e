// Shared by the runtime's tests: a pod run in the test's own namespace with fast time.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { directLauncher } from './launcher.js';
import { plainDial } from './probers.js';
import { PodRuntime, type PodRuntimeOptions } from './runtime.js';
import type { PodContext, PodSpec, PodStatus, RuntimeEvent } from './types.js';

export type Harness = {
  rt: PodRuntime;
  ctx: PodContext;
  dir: string;
  statuses: PodStatus[];
  events: Array<RuntimeEvent & { at: number }>;
  /** Waits until the last reported status satisfies `pred`. */
  waitFor(what: string, pred: (s: PodStatus) => boolean, timeoutMs?: number): Promise<PodStatus>;
  cleanup(): Promise<void>;
};

export const SECOND_MS = 50;

export function runPod(spec: PodSpec, opts: Partial<PodRuntimeOptions> = {}): Harness {
  const dir = mkdtempSync(path.join(tmpdir(), 'ambit-rt-'));
  const ctx: PodContext = {
    netns: 'not-used',
    podName: 'web-1',
    namespace: 'shop',
    uid: 'uid-1',
    podIP: '127.0.0.1',
    hostIP: '10.0.0.1',
    nodeName: 'node-1',
    labels: { app: 'web' },
    logDir: path.join(dir, 'logs'),
  };
  const statuses: PodStatus[] = [];
  const events: Harness['events'] = [];
  const rt = new PodRuntime({
    dial: plainDial,
    launcher: directLauncher(),
    secondMs: SECOND_MS,
    backoff: { initialMs: 100, maxMs: 400, resetMs: 60_000 },
    onEvent: (ev) => events.push({ ...ev, at: Date.now() }),
    ...opts,
  });
  try {
    rt.start(spec, ctx, (s) => statuses.push(s));
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return {
    rt,
    ctx,
    dir,
    statuses,
    events,
    async waitFor(what, pred, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const s = statuses[statuses.length - 1];
        if (s && pred(s)) return s;
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}; last status: ${JSON.stringify(s)}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    async cleanup() {
      await rt.stop(0);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const cond = (s: PodStatus, type: string): string | undefined => s.conditions.find((c) => c.type === type)?.status;
