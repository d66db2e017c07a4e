// Shared by the benchmarks: medians and the Markdown table of the closing notes.
export interface Row {
  scenario: string;
  metric: string;
  baseline?: number | string;
  ztunnel?: number | string;
  waypoint?: number | string;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function cell(v: number | string | undefined): string {
  if (v === undefined) return '—';
  if (typeof v === 'string') return v;
  return Math.abs(v) >= 100 ? v.toFixed(0) : v.toFixed(2);
}

export function markdownTable(rows: Row[]): string {
  const cols = (['baseline', 'ztunnel', 'waypoint'] as const).filter((k) => rows.some((r) => r[k] !== undefined));
  const head = `| scenario | metric | ${cols.join(' | ')} |`;
  const sep = `|---|---|${cols.map(() => '---:').join('|')}|`;
  return [head, sep, ...rows.map((r) => `| ${r.scenario} | ${r.metric} | ${cols.map((k) => cell(r[k])).join(' | ')} |`)].join('\n');
}
