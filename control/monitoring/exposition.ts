// Parsing the Prometheus text exposition format (version 0.0.4) into samples. Pure.
export type Labels = Readonly<Record<string, string>>;

export interface Sample {
  name: string;
  labels: Labels;
  value: number;
}

export class ExpositionError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`metrics exposition line ${line}: ${message}`);
  }
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*/;

function parseValue(s: string, line: number): number {
  if (s === 'NaN') return NaN;
  if (s === '+Inf' || s === 'Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  const v = Number(s);
  if (s === '' || Number.isNaN(v)) throw new ExpositionError(line, `value ${JSON.stringify(s)} is not a number`);
  return v;
}

/** Reads `{a="x",b="y"}` starting at `text[0] === '{'`; returns the labels and the rest of the line. */
function parseLabels(text: string, line: number): { labels: Record<string, string>; rest: string } {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (text[i] === ' ' || text[i] === ',') i++;
    if (text[i] === '}') return { labels, rest: text.slice(i + 1) };
    const m = LABEL.exec(text.slice(i));
    if (!m) throw new ExpositionError(line, `expected a label name at column ${i + 1}`);
    const key = m[0];
    i += key.length;
    if (text[i] !== '=' || text[i + 1] !== '"') throw new ExpositionError(line, `label ${key}: expected ="value"`);
    i += 2;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new ExpositionError(line, `label ${key}: unterminated value`);
      i++;
      if (c === '"') break;
      if (c === '\\') {
        const e = text[i++];
        value += e === 'n' ? '\n' : e === '\\' ? '\\' : e === '"' ? '"' : `\\${e ?? ''}`;
      } else value += c;
    }
    labels[key] = value;
  }
}

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = [];
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const n = idx + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = NAME.exec(line);
    if (!m) throw new ExpositionError(n, `expected a metric name, got ${JSON.stringify(line.slice(0, 20))}`);
    let rest = line.slice(m[0].length);
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) ({ labels, rest } = parseLabels(rest, n));
    const fields = rest.trim().split(/\s+/);
    if (fields.length < 1 || fields.length > 2 || fields[0] === '') throw new ExpositionError(n, `${m[0]}: expected a value and an optional timestamp`);
    out.push({ name: m[0], labels, value: parseValue(fields[0] ?? '', n) });
  });
  return out;
}
