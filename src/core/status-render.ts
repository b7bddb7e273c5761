/** Renders `netwarden status` for people (a kubectl-style table) and for programs (JSON). Pure. */
import { formatDuration } from './duration.ts';
import type { NodeStatusRow } from './status.ts';
import { formatAge, formatTable } from './table.ts';

/** The text table, one node per line, then a line per node that is gated with its message. */
export function renderStatusText(rows: readonly NodeStatusRow[], nowMs: number): string {
  if (rows.length === 0) return 'no nodes\n';
  const table = formatTable(
    ['node', 'gate', 'reason', 'since', 'boot→ready', 'recycles'],
    rows.map((r) => [
      r.gate.node,
      r.gate.gate === 'closed' && !r.gate.tainted ? 'closed (untainted)' : r.gate.gate,
      r.gate.reason ?? '-',
      r.gate.sinceMs === undefined ? '-' : formatAge(nowMs - r.gate.sinceMs),
      r.bootToReadyMs !== undefined ? formatDuration(r.bootToReadyMs) : r.bootPending ? 'pending' : '-',
      r.recycledPods.length === 0
        ? '0'
        : `${r.recycledPods.length} (last ${formatAge(nowMs - (r.lastRecycleMs ?? nowMs))} ago)`,
    ]),
  );
  const details = rows
    .filter((r) => r.gate.gate === 'closed' || r.gate.gate === 'unknown')
    .map((r) => `  ${r.gate.node}: ${r.gate.message ?? ''}`);
  const recycled = rows
    .filter((r) => r.recycledPods.length > 0)
    .map(
      (r) =>
        `  ${r.gate.node}: recycled ${r.recycledPods.slice(0, 5).join(', ')}${r.recycledPods.length > 5 ? ', …' : ''}`,
    );
  return [
    table,
    ...(details.length > 0 ? ['', 'Not verified:', ...details] : []),
    ...(recycled.length > 0 ? ['', 'Recent recycles:', ...recycled] : []),
    '',
  ].join('\n');
}

/** The JSON document (stable field names; times RFC 3339). */
export function renderStatusJson(rows: readonly NodeStatusRow[], nowMs: number): string {
  const iso = (ms: number | undefined): string | null =>
    ms === undefined ? null : new Date(ms).toISOString();
  return `${JSON.stringify(
    {
      at: iso(nowMs),
      nodes: rows.map((r) => ({
        node: r.gate.node,
        gate: r.gate.gate,
        tainted: r.gate.tainted,
        reason: r.gate.reason ?? null,
        message: r.gate.message ?? null,
        since: iso(r.gate.sinceMs),
        bootId: r.gate.bootId ?? null,
        verifiedBootId: r.gate.verifiedBootId ?? null,
        dataPathReadyAt: iso(r.gate.readyAtMs),
        bootToReadySeconds: r.bootToReadyMs === undefined ? null : r.bootToReadyMs / 1000,
        bootPending: r.bootPending,
        recycles: { count: r.recycledPods.length, last: iso(r.lastRecycleMs), pods: r.recycledPods },
      })),
    },
    null,
    2,
  )}\n`;
}
