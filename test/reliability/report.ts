// reliability-report/REPORT.md from the figures the fuzz tier and the reliability e2e test wrote.
// Pure: figures in, Markdown out.
import type { FuzzRecord } from '../fuzz/harness.js';
import type { Trend } from './stats.js';

export interface ChaosRound {
  round: number;
  component: string;
  requests: number;
  failed: number;
  errors: Record<string, number>;
  reconnects: number;
  restartedMs: number;
  recoveryMs: number;
  afterOk: number;
  afterFailed: number;
}

export interface ChaosFigures {
  seed: number;
  /** One fresh request through `ambit exec` on a healthy mesh: what "serving again after" includes. */
  callMs: number;
  /** Request rate of the load during each kill. */
  qps: number;
  rounds: ChaosRound[];
  packets: number;
  hbonePackets: number;
  appPortPackets: number;
  markerInClear: boolean;
}

export interface SoakFigures {
  durationMs: number;
  requests: number;
  failed: number;
  components: Record<string, { rss: Trend; lagP99: Trend }>;
}

export interface ReportInput {
  when: Date;
  settings: { fuzzRuns: number; chaosRounds: number; soakMs: number };
  fuzz: FuzzRecord[] | undefined;
  chaos: ChaosFigures | undefined;
  soak: SoakFigures | undefined;
  notes: string[];
}

/** Bugs the fuzz tier found and that now have a regression test each (kept here so the report lists them). */
export const FIXED_FINDINGS: readonly { target: string; finding: string; test: string }[] = [
  { target: 'cni plugin stdin', finding: '`prevResult.ips: [null]` made the plugin fail with internal error 103 (TypeError) instead of a config error naming the field', test: 'cni/plugin/spec.test.ts' },
  { target: 'manifest text', finding: 'a YAML alias without its anchor (`kind: *missing`) escaped as a ReferenceError instead of a ManifestError naming the document', test: 'lib/store/manifest.test.ts' },
  { target: 'waypoint regex', finding: 'patterns the control plane accepted — `(?i)…`, `(?P<n>…)`, `\\-` — never matched at the waypoint (compiled verbatim under the u flag)', test: 'lib/regex/re2.test.ts, waypoint/route/match.test.ts' },
  { target: 'waypoint regex', finding: 'a nested repeat such as `(a+)+` froze the waypoint for seconds on a 24-byte path (exponential backtracking); now refused by the control plane', test: 'lib/regex/re2.test.ts' },
  { target: 'waypoint regex', finding: '`\\p{L}+` was refused as a possessive quantifier', test: 'lib/regex/re2.test.ts' },
  { target: 'h2 frame reader', finding: 'a PADDED DATA frame whose 9-byte header ended a socket chunk read its pad length from nothing and delivered no data', test: 'lib/hbone/h2/frame-reader.test.ts' },
];

const mib = (b: number): string => (b / 2 ** 20).toFixed(1);
const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

function fuzzSection(records: FuzzRecord[]): string[] {
  const byTarget = new Map<string, { runs: number; ms: number; findings: FuzzRecord[] }>();
  for (const r of records) {
    const e = byTarget.get(r.target) ?? { runs: 0, ms: 0, findings: [] };
    e.runs += r.runs;
    e.ms += r.ms;
    if (r.failed) e.findings.push(r);
    byTarget.set(r.target, e);
  }
  const total = [...byTarget.values()].reduce((a, e) => a + e.runs, 0);
  const findings = records.filter((r) => r.failed);
  const out = ['## Fuzzing (fast-check, test/fuzz)', '', `${byTarget.size} targets, ${total} executions, ${findings.length} finding(s) in this run.`, '', '| target | executions | time | findings |', '| --- | ---: | ---: | ---: |'];
  for (const [target, e] of [...byTarget].sort()) out.push(`| ${esc(target)} | ${e.runs} | ${(e.ms / 1000).toFixed(1)} s | ${e.findings.length} |`);
  if (findings.length) {
    out.push('', '### Findings of this run', '');
    for (const f of findings) out.push(`- **${esc(f.target)}** (seed ${f.seed}, replay with \`AMBIT_FUZZ_SEED=${f.seed}\`): counterexample \`${esc(f.counterexample ?? '')}\`; ${esc((f.error ?? '').split('\n')[0] ?? '')}`);
  }
  return out;
}

function chaosSection(c: ChaosFigures): string[] {
  const failed = c.rounds.reduce((a, r) => a + r.failed, 0);
  const requests = c.rounds.reduce((a, r) => a + r.requests, 0);
  const after = c.rounds.reduce((a, r) => a + r.afterFailed, 0);
  const out = [
    '## No plaintext, ever: kills and restarts (test/e2e/reliability.test.ts)',
    '',
    `${c.rounds.length} kills survived (SIGKILL, random order, seed ${c.seed}). Payload marker in clear on the node link: **${c.markerInClear ? 'YES — FAILURE' : 'never'}** (${c.packets} packets captured, ${c.hbonePackets} on HBONE 15008, ${c.appPortPackets} to the app port).`,
    `Requests during the kills: ${requests}, failed ${failed} (only those in flight on a killed connection fail; the client reopens its connections); requests started after each component was back: ${after} failed.`,
    '',
    '| round | killed | requests during | failed | ≈ outage (failed ÷ rate) | reconnects | restarted after | serving again after | after: ok / failed |',
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
  ];
  const s = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
  for (const r of c.rounds) out.push(`| ${r.round} | ${r.component} | ${r.requests} | ${r.failed} | ${s((r.failed / c.qps) * 1000)} | ${r.reconnects} | ${s(r.restartedMs)} | ${s(r.recoveryMs)} | ${r.afterOk} / ${r.afterFailed} |`);
  const per = new Map<string, { kills: number; failed: number }>();
  for (const r of c.rounds) {
    const e = per.get(r.component) ?? { kills: 0, failed: 0 };
    e.kills++;
    e.failed += r.failed;
    per.set(r.component, e);
  }
  out.push('', `"Serving again after" runs from the kill to the first fresh request answered, polled through \`ambit exec\` (one such request takes ${s(c.callMs)} on a healthy mesh).`);
  out.push('', 'Requests failed per kill, by component: ' + [...per].sort().map(([k, e]) => `${k} ${(e.failed / e.kills).toFixed(1)}`).join(', ') + '.');
  return out;
}

function soakSection(s: SoakFigures): string[] {
  const out = [
    '## Soak: steady mixed traffic (test/e2e/reliability.test.ts)',
    '',
    `${(s.durationMs / 60_000).toFixed(1)} min of HTTP (40/s) and TCP (10/s) traffic: ${s.requests} requests, ${s.failed} failed.`,
    '',
    '| component | samples | RSS first → last | RSS slope | event-loop p99 first → last | p99 slope | verdict |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const [name, c] of Object.entries(s.components).sort()) {
    const verdict = c.rss.grows ? '**RSS grows**' : c.lagP99.grows ? '**event-loop delay grows**' : 'flat';
    out.push(
      `| ${name} | ${c.rss.samples} | ${mib(c.rss.first)} → ${mib(c.rss.last)} MiB | ${(c.rss.slopePerMinute / 2 ** 20).toFixed(2)} MiB/min | ${(c.lagP99.first * 1000).toFixed(1)} → ${(c.lagP99.last * 1000).toFixed(1)} ms | ${(c.lagP99.slopePerMinute * 1000).toFixed(3)} ms/min | ${verdict} |`,
    );
  }
  out.push('', 'Slopes are least-squares fits over the samples after the warm-up; "grows" means more than 10 % over the run and more than 1 MiB a minute (event loop: 50 % and 1 ms a minute).');
  return out;
}

export function renderReport(r: ReportInput): string {
  const out = [
    '# Ambit reliability report',
    '',
    `Run ${r.when.toISOString()}; fuzz runs per unit of weight ${r.settings.fuzzRuns}, chaos rounds ${r.settings.chaosRounds}, soak ${(r.settings.soakMs / 60_000).toFixed(1)} min.`,
    '',
  ];
  if (r.fuzz) out.push(...fuzzSection(r.fuzz), '');
  if (r.chaos) out.push(...chaosSection(r.chaos), '');
  if (r.soak) out.push(...soakSection(r.soak), '');
  out.push('## Findings fixed, each with a regression test', '', '| target | finding | regression test |', '| --- | --- | --- |');
  for (const f of FIXED_FINDINGS) out.push(`| ${esc(f.target)} | ${esc(f.finding)} | ${f.test} |`);
  if (r.notes.length) out.push('', '## Notes', '', ...r.notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}
