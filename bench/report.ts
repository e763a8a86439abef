/**
 * The figures of a run: a Markdown table (printed, and pasted into bench/README.md as the record), the targets
 * of the performance issue checked one by one, and the whole run as JSON in bench/results/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import type { Measurement } from './measure.ts';

export interface ScenarioResult {
  name: string;
  what: string;
  service: Measurement;
  floor?: Measurement;
  /** service / floor: requests per second, and p99 latency. */
  ratio?: { requestsPerSecond: number; p99: number };
}

export interface FloodResult {
  target: 'service' | 'floor';
  unloaded: Measurement;
  loaded: Measurement;
  login: Omit<Measurement, 'processes' | 'loadGeneratorCpuPercent'>;
  /** list p99 under the login flood / list p99 alone. */
  p99Ratio: number;
}

export interface Check {
  target: string;
  value: string;
  ok: boolean;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  revision: { commit: string; dirty: boolean } | undefined;
  machine: Record<string, unknown>;
  settings: Record<string, unknown>;
  /** Resident set sizes by process: once started and seeded (before any load), and at the end. */
  rssMb: { idle: Record<string, number>; final: Record<string, number> };
  scenarios: ScenarioResult[];
  loginFlood: FloodResult[];
  checks: Check[];
}

const ratio = (a: number, b: number) => (b > 0 ? Math.round((a / b) * 100) / 100 : Number.NaN);

export function compare(name: string, what: string, service: Measurement, floor?: Measurement): ScenarioResult {
  return {
    name,
    what,
    service,
    ...(floor
      ? {
          floor,
          ratio: {
            requestsPerSecond: ratio(service.requestsPerSecond, floor.requestsPerSecond),
            p99: ratio(service.latencyMs.p99, floor.latencyMs.p99),
          },
        }
      : {}),
  };
}

export const floodResult = (
  target: FloodResult['target'],
  unloaded: Measurement,
  loaded: Measurement,
  login: FloodResult['login'],
): FloodResult => ({ target, unloaded, loaded, login, p99Ratio: ratio(loaded.latencyMs.p99, unloaded.latencyMs.p99) });

const RATE_FLOOR = 0.7;
const P99_CEILING = 2;
const RSS_CEILING_MB = 200;
const FLOOD_CEILING = 3;

/** The issue's targets, each with the figure that decides it. */
export function checkTargets(scenarios: ScenarioResult[], floods: FloodResult[]): Check[] {
  const checks: Check[] = [];
  for (const s of scenarios) {
    if (!s.ratio) continue;
    if (['list', 'get', 'create', 'patch'].includes(s.name)) {
      checks.push({
        target: `${s.name}: req/s ≥ ${RATE_FLOOR}× the floor`,
        value: `${s.ratio.requestsPerSecond}×`,
        ok: s.ratio.requestsPerSecond >= RATE_FLOOR,
      });
    }
    checks.push({
      target: `${s.name}: p99 ≤ ${P99_CEILING}× the floor's`,
      value: `${s.service.latencyMs.p99} ms vs ${s.floor?.latencyMs.p99} ms (${s.ratio.p99}×)`,
      ok: s.ratio.p99 <= P99_CEILING,
    });
  }
  const all = [
    ...scenarios.flatMap((s) => [[`${s.name} (service)`, s.service] as const, [`${s.name} (floor)`, s.floor] as const]),
    ...floods.flatMap((f) => [[`login-flood list (${f.target})`, f.loaded] as const]),
  ];
  const failing = all
    .filter(([, m]) => m && m.non2xx + m.errors > 0)
    .map(([label, m]) => `${label}: ${m?.non2xx} non-2xx, ${m?.errors} errors`);
  checks.push({ target: 'zero errors', value: failing.length ? failing.join('; ') : 'none', ok: failing.length === 0 });
  const rssAfter = new Map<string, number>();
  for (const m of [
    ...scenarios.map((s) => s.service),
    ...floods.filter((f) => f.target === 'service').map((f) => f.loaded),
  ]) {
    for (const [role, p] of Object.entries(m.processes))
      rssAfter.set(role, Math.max(rssAfter.get(role) ?? 0, p.rssAfterMb));
  }
  for (const [role, mb] of rssAfter) {
    checks.push({
      target: `${role} RSS after a run ≤ ${RSS_CEILING_MB} MB`,
      value: `${mb} MB (highest)`,
      ok: mb <= RSS_CEILING_MB,
    });
  }
  // The floor's flood is a reference only: one process doing both, on the same cores (see README.md).
  for (const f of floods.filter((flood) => flood.target === 'service')) {
    checks.push({
      target: `list p99 during a login flood ≤ ${FLOOD_CEILING}× unloaded (${f.target})`,
      value: `${f.loaded.latencyMs.p99} ms vs ${f.unloaded.latencyMs.p99} ms (${f.p99Ratio}×)`,
      ok: f.p99Ratio <= FLOOD_CEILING,
    });
  }
  return checks;
}

function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    `| ${r.map((c, i) => (i < 2 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' | ')} |`;
  const rule = `|${widths.map((w, i) => (i < 2 ? `${'-'.repeat(w + 1)}-` : `${'-'.repeat(w + 1)}:`)).join('|')}|`;
  return [line(header), rule, ...cells.slice(1).map(line)].join('\n');
}

const processCells = (m: Measurement) => {
  const ps = Object.values(m.processes);
  if (ps.length === 0) return ['–', '–', '–'];
  const whole = (n: number) => Math.round(n);
  return [
    ps.map((p) => whole(p.peakRssMb)).join(' + '),
    ps.map((p) => whole(p.rssAfterMb)).join(' + '),
    ps.map((p) => `${whole(p.meanCpuPercent)}/${whole(p.peakCpuPercent)}`).join(' + '),
  ];
};

const row = (scenario: string, target: string, m: Measurement, ratios: (string | number)[]) => [
  scenario,
  target,
  m.requestsPerSecond,
  m.latencyMs.p50,
  m.latencyMs.p99,
  m.latencyMs.max,
  m.non2xx + m.errors,
  ...processCells(m),
  m.loadGeneratorCpuPercent,
  ...ratios,
];

export function formatReport(report: BenchReport): string {
  const header = [
    'scenario',
    'target',
    'req/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'non-2xx',
    'RSS peak MB',
    'RSS after MB',
    'CPU % mean/peak',
    'bench CPU %',
    'req/s ÷ floor',
    'p99 ÷ floor',
  ];
  const rows = report.scenarios.flatMap((s) => [
    row(s.name, 'service', s.service, s.ratio ? [s.ratio.requestsPerSecond, s.ratio.p99] : ['', '']),
    ...(s.floor ? [row(s.name, 'floor', s.floor, ['', ''])] : []),
  ]);
  for (const f of report.loginFlood) {
    rows.push(row('list alone', f.target, f.unloaded, ['', '']));
    rows.push(row('list + login flood', f.target, f.loaded, ['', `${f.p99Ratio} (vs alone)`]));
  }
  const checks = report.checks.map((c) => `- ${c.ok ? 'PASS' : 'FAIL'} ${c.target}: ${c.value}`).join('\n');
  return `${table(header, rows)}\n\n${checks}`;
}

/** Writes `<dir>/<date>.json` and `<dir>/latest.json`; returns the dated file's path. */
export function writeReport(dir: string, report: BenchReport): string {
  mkdirSync(dir, { recursive: true });
  const file = `${dir}/${report.startedAt.replace(/:/g, '-').replace(/\.\d+Z$/, 'Z')}.json`;
  const json = `${JSON.stringify(report, null, 2)}\n`;
  writeFileSync(file, json);
  writeFileSync(`${dir}/latest.json`, json);
  return file;
}
