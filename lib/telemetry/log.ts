import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/**
 * One structured JSON logger for every component. `component` names the process
 * (control, ztunnel, cni-agent, …) and is on every line.
 */
export function createLogger(component: string, level: LevelWithSilent = (process.env.AMBIT_LOG_LEVEL as LevelWithSilent) || 'info'): Logger {
  return pino({
    level,
    base: { component },
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  });
}

/** A logger that drops everything; for unit tests and library defaults. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
