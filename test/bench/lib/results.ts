import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { ROOT, round } from './env';

/** One benchmark's figures: the platform's, the baseline's of the same run, and their ratio. */
export interface BenchResult {
  name: string;
  title: string;
  /** What the ratio must reach (platform ÷ baseline, higher is better). */
  target: { ratio: number; meaning: string };
  ratio: number | null;
  pass: boolean | null;
  /** Headline figures for the summary table, e.g. { 'platform rows/s': 1234 }. */
  headline: Record<string, number | string>;
  platform: Record<string, unknown>;
  baseline: Record<string, unknown>;
  /** Findings, caveats and how the figures were measured. */
  notes: string[];
  /** EXPLAIN output and similar evidence. */
  evidence?: Record<string, string>;
  durationSeconds: number;
  /** 1-minute load average when the benchmark started (other work on the machine skews figures). */
  loadAverageAtStart?: number;
  error?: string;
}

/** A result with nothing measured yet. */
export function emptyResult(name: string, title: string, target: BenchResult['target'], extra: Partial<BenchResult> = {}): BenchResult {
  return { name, title, target, ratio: null, pass: null, headline: {}, platform: {}, baseline: {}, notes: [], durationSeconds: 0, ...extra };
}

export interface RunInfo {
  startedAt: string;
  finishedAt?: string;
  stack: Record<string, unknown>;
  machine: Record<string, unknown>;
  config: Record<string, unknown>;
  results: BenchResult[];
}

export function newRun(stack: Record<string, unknown>, config: Record<string, unknown>): RunInfo {
  return {
    startedAt: new Date().toISOString(),
    stack,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryGiB: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
    },
    config,
    results: [],
  };
}

export const OUT_DIR = resolve(process.env.BENCH_OUT_DIR ?? resolve(ROOT, 'bench-results'));

/** Writes results.json and results.md (called after every benchmark, so a failed run keeps what it measured). */
export function writeResults(run: RunInfo): { json: string; md: string } {
  mkdirSync(OUT_DIR, { recursive: true });
  const json = resolve(OUT_DIR, 'results.json');
  const md = resolve(OUT_DIR, 'results.md');
  writeFileSync(json, `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(md, toMarkdown(run));
  return { json, md };
}

const fmt = (v: unknown): string => (typeof v === 'number' ? v.toLocaleString('en-US', { maximumFractionDigits: 2 }) : String(v));

function toMarkdown(run: RunInfo): string {
  const lines: string[] = [];
  lines.push('# Benchmark results', '');
  lines.push(
    `Run ${run.startedAt} → ${run.finishedAt ?? '(running)'}; ${run.machine.cpus} CPUs (${run.machine.cpuModel}), ${run.machine.memoryGiB} GiB, Node ${run.machine.node}.`,
  );
  lines.push(`Stack: ${JSON.stringify(run.stack)}. Sizes: ${JSON.stringify(run.config)}.`, '');
  lines.push('| benchmark | ratio (platform ÷ baseline) | target | pass | figures |', '|---|---|---|---|---|');
  for (const r of run.results) {
    const figures = Object.entries(r.headline)
      .map(([k, v]) => `${k}: ${fmt(v)}`)
      .join('; ');
    lines.push(
      `| ${r.title} | ${r.ratio === null ? '—' : r.ratio.toFixed(3)} | ≥ ${r.target.ratio} | ${r.pass === null ? (r.error ? 'error' : '—') : r.pass ? 'yes' : '**no**'} | ${figures || r.error || ''} |`,
    );
  }
  lines.push('');
  for (const r of run.results) {
    lines.push(`## ${r.title}`, '');
    lines.push(
      `Target: ${r.target.meaning}. Took ${r.durationSeconds} s${r.loadAverageAtStart !== undefined ? `; load average at start ${r.loadAverageAtStart} on ${run.machine.cpus} CPUs` : ''}.`,
      '',
    );
    if (r.error) lines.push(`**Error:** ${r.error}`, '');
    for (const [label, data] of [
      ['Platform', r.platform],
      ['Baseline', r.baseline],
    ] as const) {
      if (Object.keys(data).length === 0) continue;
      lines.push(`**${label}**`, '');
      for (const [k, v] of Object.entries(data)) lines.push(`- ${k}: ${typeof v === 'object' && v !== null ? `\`${JSON.stringify(v)}\`` : fmt(v)}`);
      lines.push('');
    }
    if (r.notes.length) {
      lines.push('**Notes**', '');
      for (const n of r.notes) lines.push(`- ${n}`);
      lines.push('');
    }
    for (const [k, v] of Object.entries(r.evidence ?? {})) lines.push(`<details><summary>${k}</summary>`, '', '```', v, '```', '', '</details>', '');
  }
  return `${lines.join('\n')}\n`;
}

export const loadAverage = (): number => round(loadavg()[0] ?? 0, 2);
