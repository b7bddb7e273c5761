/** Renderers of a DoctorReport: text for a terminal, JSON (the documented contract), Markdown. */

import { type Finding, summarize } from '../core/findings.ts';
import { assertNever } from '../errors.ts';
import type { DoctorReport } from './analyze.ts';

/** Output formats of `netwarden doctor`. */
export type OutputFormat = 'text' | 'json' | 'markdown';

/** The JSON document of docs/doctor.md. */
export function toJson(report: DoctorReport): string {
  const doc = {
    ...(report.node !== undefined ? { node: report.node } : {}),
    inputs: { source: report.inputs.source, found: report.inputs.found, missing: report.inputs.missing },
    ...(report.proxyMode !== undefined ? { proxyMode: report.proxyMode } : {}),
    findings: report.findings,
    summary: summarize(report.findings),
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}

const COLORS = {
  critical: '\x1b[1;31m',
  warning: '\x1b[33m',
  info: '\x1b[36m',
  dim: '\x1b[2m',
  reset: '\x1b[0m',
} as const;

function trimLine(s: string, width: number): string {
  return s.length > width ? `${s.slice(0, width - 1)}…` : s;
}

/** Human text: worst first, evidence trimmed (5 lines, 160 columns), fix spelled out; colour only when asked. */
export function toText(
  report: DoctorReport,
  opts: { color?: boolean; maxEvidence?: number; width?: number } = {},
): string {
  const c = (k: keyof typeof COLORS, s: string): string =>
    opts.color ? `${COLORS[k]}${s}${COLORS.reset}` : s;
  const maxEv = opts.maxEvidence ?? 5;
  const width = opts.width ?? 160;
  const s = summarize(report.findings);
  const out: string[] = [];
  out.push(
    `netwarden doctor: ${report.inputs.source}${report.node ? ` (node ${report.node})` : ''}${report.proxyMode ? `, kube-proxy ${report.proxyMode} mode` : ''}`,
  );
  out.push(
    c(
      'dim',
      `inputs: ${report.inputs.found.length} found, ${report.inputs.missing.length} missing${report.inputs.missing.length ? ` (${report.inputs.missing.join(', ')})` : ''}`,
    ),
  );
  out.push('');
  if (report.findings.length === 0) out.push('No findings.');
  for (const f of report.findings) {
    out.push(`${c(f.severity, f.severity.toUpperCase().padEnd(8))} ${f.code}: ${f.title}`);
    const ev = f.evidence.slice(0, maxEv);
    for (const e of ev) out.push(`    ${c('dim', trimLine(e, width))}`);
    if (f.evidence.length > maxEv)
      out.push(`    ${c('dim', `… ${f.evidence.length - maxEv} more line(s) (--output json for all)`)}`);
    if (f.subjects.length > 0)
      out.push(`    affects: ${trimLine(f.subjects.map((x) => x.name).join(', '), width)}`);
    out.push(`    fix: ${f.fix}`);
    out.push('');
  }
  out.push(`${s.critical} critical, ${s.warning} warning, ${s.info} info`);
  return `${out.join('\n')}\n`;
}

function mdEscape(s: string): string {
  return s.replace(/([|`])/g, '\\$1');
}

function mdFinding(f: Finding): string {
  const lines = [
    `### ${f.severity === 'critical' ? '🔴' : f.severity === 'warning' ? '🟠' : 'ℹ️'} \`${f.code}\` — ${mdEscape(f.title)}`,
    '',
  ];
  if (f.evidence.length > 0) {
    lines.push('```', ...f.evidence.map((e) => e.replaceAll('```', "'''")), '```', '');
  }
  if (f.subjects.length > 0)
    lines.push(`**Affects:** ${f.subjects.map((s) => `\`${mdEscape(s.name)}\``).join(', ')}`, '');
  lines.push(`**Fix:** ${mdEscape(f.fix)}`, '');
  return lines.join('\n');
}

/** Markdown for tickets and issues. */
export function toMarkdown(report: DoctorReport): string {
  const s = summarize(report.findings);
  const out = [
    `## netwarden doctor — ${mdEscape(report.node ?? report.inputs.source)}`,
    '',
    `**${s.critical} critical, ${s.warning} warning, ${s.info} info** · source \`${mdEscape(report.inputs.source)}\`${report.proxyMode ? ` · kube-proxy ${report.proxyMode}` : ''}`,
    '',
  ];
  if (report.inputs.missing.length > 0)
    out.push(`Missing inputs: ${report.inputs.missing.map((m) => `\`${mdEscape(m)}\``).join(', ')}`, '');
  for (const f of report.findings) out.push(mdFinding(f));
  return `${out.join('\n')}\n`;
}

/** Renders in the chosen format. */
export function render(report: DoctorReport, format: OutputFormat, opts: { color?: boolean } = {}): string {
  switch (format) {
    case 'json':
      return toJson(report);
    case 'markdown':
      return toMarkdown(report);
    case 'text':
      return toText(report, opts);
    default:
      return assertNever(format, 'output format');
  }
}
