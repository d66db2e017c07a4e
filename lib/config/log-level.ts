// The log levels every component accepts (pino's), checked where the configuration is read so that
// a typo is reported with the flag or variable it came from.
import { ConfigError } from './errors.js';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export function parseLogLevel(text: string, source: string): LogLevel {
  const t = text.trim().toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(t)) return t as LogLevel;
  throw new ConfigError(`${source}: "${text}" is not a log level; use one of ${LOG_LEVELS.join(', ')}`);
}
