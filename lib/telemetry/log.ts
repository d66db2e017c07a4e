import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * One structured JSON logger for every component. `component` names the process
 * (control, ztunnel, cni-agent, …) and is on every line. The level comes from the component's
 * configuration (`--log-level` / `AMBIT_LOG_LEVEL`), never from the environment here.
 */
export function createLogger(component: string, level: LevelWithSilent = 'info', file?: string): Logger {
  const opts = {
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label: string) => ({ level: label }) },
  };
  // A file destination is synchronous so that nothing is lost when the process exits.
  return file ? pino(opts, pino.destination({ dest: file, append: true, mkdir: true, sync: true })) : pino(opts);
}

/** A logger that drops everything; for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
