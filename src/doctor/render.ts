/**
 * Renderers of a DoctorReport: text for a terminal, JSON (the documented contract), Markdown.
 * Findings quote untrusted bundle text, so every string is made terminal-safe before it is shown:
 * control characters (C0 but newline and tab, DEL, C1 — ESC and CSI start terminal sequences)
 * and bidirectional overrides become visible escapes (`\x1b`, `\u202e`). JSON.stringify escapes
 * C0 itself; the JSON renderer escapes the rest as `\uXXXX`, which parses back to the same text.
 */
import { type Finding, summarize } from '../core/findings.ts';
import { assertNever } from '../errors.ts';
import type { DoctorReport } from './analyze.ts';

// C0 but \t and \n, DEL, C1, the Arabic letter mark and the bidirectional marks and overrides.
// biome-ignore lint/suspicious/noControlCharactersInRegex: finding control characters is the point
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/g;
// What JSON.stringify leaves raw of the above, plus the JSON-legal line and paragraph separators.
const JSON_UNSAFE = /[\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]/g;

/** `s` with every character that could drive a terminal shown as an escape (`\x1b`, `\u202e`). */
export function terminalSafe(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const code = c.charCodeAt(0);
    return code < 0x100
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The report with every string terminal-safe (text and Markdown show nothing else). */
function safeReport(report: DoctorReport): DoctorReport {
  const t = terminalSafe;
  return {
    ...(report.node !== undefined ? { node: t(report.node) } : {}),
    inputs: {
      source: t(report.inputs.source),
      found: report.inputs.found.map(t),
      missing: report.inputs.missing.map(t),
      notes: report.inputs.notes.map(t),
    },
    ...(report.proxyMode !== undefined ? { proxyMode: t(report.proxyMode) } : {}),
    verdicts: Object.fromEntries(
      Object.entries(report.verdicts).map(([k, v]) => [k, { ...v, message: t(v.message) }]),
    ) as DoctorReport['verdicts'],
    findings: report.findings.map((f) => ({
      ...f,
      title: t(f.title),
      evidence: f.evidence.map(t),
      subjects: f.subjects.map((x) => ({ ...x, name: t(x.name) })),
      fix: t(f.fix),
    })),
  };
}

/** Output formats of `netwarden doctor`. */
export type OutputFormat = 'text' | 'json' | 'markdown';

/** One line of the per-component verdicts: `kube-proxy ok, cni ok, pods broken (PodNetworkStateMissing)`. */
function verdictLine(report: DoctorReport): string {
  const names: Record<string, string> = { kubeProxy: 'kube-proxy', cni: 'cni', pods: 'pods' };
  return Object.entries(report.verdicts)
    .map(([k, v]) => `${names[k] ?? k} ${v.status}${v.status === 'ok' ? '' : ` (${v.reason})`}`)
    .join(', ');
}

/** The JSON document of docs/doctor.md. */
export function toJson(report: DoctorReport): string {
  const doc = {
    ...(report.node !== undefined ? { node: report.node } : {}),
    inputs: { source: report.inputs.source, found: report.inputs.found, missing: report.inputs.missing },
    ...(report.proxyMode !== undefined ? { proxyMode: report.proxyMode } : {}),
    verdicts: report.verdicts,
    findings: report.findings,
    summary: summarize(report.findings),
  };
  const json = JSON.stringify(doc, null, 2).replace(
    JSON_UNSAFE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
  return `${json}\n`;
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

/** Continuation lines of a multi-line value stay indented, so they cannot pose as findings. */
function indented(s: string, indent: string): string {
  return s.replaceAll('\n', `\n${indent}`);
}

/** Human text: worst first, evidence trimmed (5 lines, 160 columns), fix spelled out; colour only when asked. */
export function toText(
  unsafe: DoctorReport,
  opts: { color?: boolean; maxEvidence?: number; width?: number } = {},
): string {
  const report = safeReport(unsafe);
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
  out.push(c('dim', `judged: ${verdictLine(report)}`));
  out.push('');
  if (report.findings.length === 0) out.push('No findings.');
  for (const f of report.findings) {
    out.push(`${c(f.severity, f.severity.toUpperCase().padEnd(8))} ${f.code}: ${indented(f.title, '    ')}`);
    const ev = f.evidence.slice(0, maxEv);
    for (const e of ev) out.push(`    ${c('dim', indented(trimLine(e, width), '      '))}`);
    if (f.evidence.length > maxEv)
      out.push(`    ${c('dim', `… ${f.evidence.length - maxEv} more line(s) (--output json for all)`)}`);
    if (f.subjects.length > 0)
      out.push(`    affects: ${trimLine(f.subjects.map((x) => x.name).join(', '), width)}`);
    out.push(`    fix: ${indented(f.fix, '      ')}`);
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
export function toMarkdown(unsafe: DoctorReport): string {
  const report = safeReport(unsafe);
  const s = summarize(report.findings);
  const out = [
    `## netwarden doctor — ${mdEscape(report.node ?? report.inputs.source)}`,
    '',
    `**${s.critical} critical, ${s.warning} warning, ${s.info} info** · source \`${mdEscape(report.inputs.source)}\`${report.proxyMode ? ` · kube-proxy ${report.proxyMode}` : ''}`,
    '',
  ];
  out.push(`Judged: ${mdEscape(verdictLine(report))}`, '');
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
