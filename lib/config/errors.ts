// One error type for every bad setting, and the words that name where a value came from, so that a
// message points at what the user typed (`--drain`, `environment XDS_ADDRESS`), never at the field
// name the code happens to use.

/** Where a setting's value came from. `flag` / `env` name what the user can change to fix it. */
export type SettingSource =
  | { kind: 'flag'; flag: string }
  | { kind: 'env'; env: string }
  | { kind: 'default'; flag?: string; env?: string };

/** `--drain`, `environment XDS_ADDRESS`, or `--drain (default)` for a default that does not fit. */
export function describeSource(s: SettingSource): string {
  switch (s.kind) {
    case 'flag':
      return s.flag;
    case 'env':
      return `environment ${s.env}`;
    case 'default':
      if (s.flag) return `${s.flag} (default)`;
      if (s.env) return `environment ${s.env} (default)`;
      return 'default';
  }
}

/** A configuration problem the user can fix; `problems` lists each one (the message holds them all). */
export class ConfigError extends Error {
  readonly problems: readonly string[];

  constructor(message: string, problems: readonly string[] = [message]) {
    super(message);
    this.name = 'ConfigError';
    this.problems = problems;
  }

  /** All of a component's problems at once: `invalid <what> configuration:` then one per line. */
  static of(what: string, problems: readonly string[]): ConfigError {
    return new ConfigError(`invalid ${what} configuration:\n  ${problems.join('\n  ')}`, problems);
  }
}
