// What every long-running component's `main.ts` does the same way: resolve the config (a bad one
// exits 2 with its message), log it once, start (a failure exits 1), and close on SIGTERM/SIGINT
// (a second signal exits at once).
import { InvalidArgumentError } from 'commander';
import { parseDuration } from '../config/duration.js';
import type { Logger } from '../telemetry/log.js';

export interface ComponentSpec<C, R extends { close(): Promise<void> }> {
  /** Names the process in the start-failure log line. */
  name: string;
  resolve: () => C;
  /** Config errors are reported as a message and exit code 2; anything else is thrown. */
  isConfigError: (e: unknown) => boolean;
  err: (s: string) => void;
  logger: (config: C) => Logger;
  /** What the configuration line shows (e.g. with secrets redacted). */
  describe?: (config: C) => unknown;
  start: (config: C, log: Logger) => Promise<R>;
  /** The shutdown log line's fields. */
  stopping?: (config: C) => Record<string, unknown>;
}

export async function runComponent<C, R extends { close(): Promise<void> }>(s: ComponentSpec<C, R>): Promise<void> {
  let config: C;
  try {
    config = s.resolve();
  } catch (e) {
    if (!s.isConfigError(e)) throw e;
    s.err(`${(e as Error).message}\n`);
    process.exitCode = 2;
    return;
  }
  const log = s.logger(config);
  log.info({ config: s.describe ? s.describe(config) : config }, 'configuration');
  let running: R;
  try {
    running = await s.start(config, log);
  } catch (e) {
    log.fatal({ err: (e as Error).message }, `${s.name} failed to start`);
    process.exitCode = 1;
    return;
  }
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal, ...(s.stopping ? s.stopping(config) : {}) }, 'shutting down');
    void running.close().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

/**
 * A commander argument parser that rejects a bad duration flag before anything starts; it keeps
 * the text, so that the component's config reads it (and knows it came from the flag).
 */
export function durationArg(flag: string): (v: string) => string {
  return (v) => {
    try {
      parseDuration(v, flag);
    } catch (e) {
      throw new InvalidArgumentError((e as Error).message);
    }
    return v;
  };
}
