import type { ConformanceReport } from './run-conformance';

/** The report as text: one line per scenario, PASS or FAIL with what was seen or what is wrong, then the totals. */
export function formatReport(report: ConformanceReport): string {
  const width = Math.max(...report.results.map((r) => r.name.length), 4);
  const lines = report.results.map((r) => `${r.ok ? 'PASS' : 'FAIL'}  ${r.name.padEnd(width)}  ${r.detail} (${(r.durationMs / 1000).toFixed(1)} s)`);
  const passed = report.results.filter((r) => r.ok).length;
  lines.push(`${report.service}: ${passed} of ${report.results.length} scenarios conform${report.ok ? '' : `; ${report.results.length - passed} do not`}`);
  return lines.join('\n');
}
