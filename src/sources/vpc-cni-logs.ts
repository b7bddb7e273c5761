/**
 * AWS VPC CNI log parsers: `ipamd.log` / `plugin.log` in JSON lines (v1.6+) and the legacy seelog
 * format (`2018-05-12T00:59:59Z [INFO] msg`), plus grouping of errors by message template and
 * detection of "ipamd unreachable" (the CNI binary cannot dial 127.0.0.1:50051).
 */
import type { ParseWarning } from '../netfilter/iptables-save.ts';

/** A log level, lower-cased (`debug`, `info`, `warn`, `error`, `fatal`…). */
export type LogLevel = string;

/** One log entry. */
export interface CniLogEntry {
  readonly line: number;
  readonly level: LogLevel;
  /** The time as written; `timeMs` when it parsed. */
  readonly ts?: string;
  readonly timeMs?: number;
  readonly caller?: string;
  readonly msg: string;
  readonly format: 'json' | 'seelog';
}

/** Parsed log: entries and lines that were neither format (counted, a few kept as warnings). */
export interface CniLog {
  readonly entries: readonly CniLogEntry[];
  readonly otherLines: number;
  readonly warnings: readonly ParseWarning[];
}

const SEELOG = /^(\d{4}-\d{2}-\d{2}T[\d:.]+(?:Z|[+-]\d{2}:?\d{2})?)\s+\[(\w+)\]\s+(.*)$/;
const MAX_LINE = 64 * 1024;

function levelOf(v: unknown): string {
  return typeof v === 'string' ? v.toLowerCase().replace('warning', 'warn') : 'info';
}

/** Parses an ipamd.log or plugin.log text (both formats may be mixed after an upgrade). */
export function parseVpcCniLog(text: string): CniLog {
  const entries: CniLogEntry[] = [];
  const warnings: ParseWarning[] = [];
  let other = 0;
  let lineNo = 0;
  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    lineNo++;
    const line = text.slice(start, end).trim();
    start = end + 1;
    if (line.length === 0) {
      if (end === text.length) break;
      continue;
    }
    if (line.length > MAX_LINE) {
      other++;
      if (warnings.length < 20) warnings.push({ line: lineNo, message: 'line too long, skipped' });
      continue;
    }
    if (line.startsWith('{')) {
      try {
        const o = JSON.parse(line) as Record<string, unknown>;
        const ts = typeof o.ts === 'string' ? o.ts : typeof o.time === 'string' ? o.time : undefined;
        const t = ts !== undefined ? Date.parse(ts) : Number.NaN;
        const msg = typeof o.msg === 'string' ? o.msg : typeof o.message === 'string' ? o.message : '';
        entries.push({
          line: lineNo,
          level: levelOf(o.level),
          ...(ts !== undefined ? { ts } : {}),
          ...(Number.isNaN(t) ? {} : { timeMs: t }),
          ...(typeof o.caller === 'string' ? { caller: o.caller } : {}),
          msg,
          format: 'json',
        });
        continue;
      } catch {
        // a cut JSON line: fall through and count it
      }
    }
    const m = SEELOG.exec(line);
    if (m) {
      const t = Date.parse(m[1] as string);
      entries.push({
        line: lineNo,
        level: levelOf(m[2]),
        ts: m[1] as string,
        ...(Number.isNaN(t) ? {} : { timeMs: t }),
        msg: m[3] as string,
        format: 'seelog',
      });
      continue;
    }
    other++;
    if (warnings.length < 20) warnings.push({ line: lineNo, message: 'neither JSON nor seelog format' });
  }
  return { entries, otherLines: other, warnings };
}

/**
 * A message with its variable parts replaced, so repeats of one error group together: container
 * IDs, IPs, numbers, pod/namespace arguments, ENI ids and quoted values become placeholders.
 */
export function messageTemplate(msg: string): string {
  return msg
    .slice(0, 2000)
    .replace(/\b[0-9a-f]{32,64}\b/g, '<id>')
    .replace(/\beni-[0-9a-f]+\b/g, '<eni>')
    .replace(/\b(K8S_POD_NAMESPACE|K8S_POD_NAME|K8S_POD_INFRA_CONTAINER_ID)=[^;) ]*/g, '$1=<…>')
    .replace(/\b\d{1,3}(\.\d{1,3}){3}(\/\d+)?(:\d+)?\b/g, '<ip>')
    .replace(/\b\d+(\.\d+)?(ms|s|m|h)?\b/g, '<n>')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}

/** Errors with one template. */
export interface ErrorGroup {
  readonly template: string;
  readonly level: string;
  readonly count: number;
  readonly first?: string;
  readonly last?: string;
  readonly example: string;
}

const ERROR_LEVELS = new Set(['error', 'fatal', 'panic', 'critical', 'dpanic']);

/** Groups error-level entries by template, most frequent first. */
export function groupErrors(entries: readonly CniLogEntry[]): ErrorGroup[] {
  const groups = new Map<
    string,
    { level: string; count: number; first?: string; last?: string; example: string }
  >();
  for (const e of entries) {
    if (!ERROR_LEVELS.has(e.level)) continue;
    const t = messageTemplate(e.msg);
    const g = groups.get(t);
    if (g) {
      g.count++;
      if (e.ts !== undefined) {
        g.first ??= e.ts;
        g.last = e.ts;
      }
    } else {
      groups.set(t, {
        level: e.level,
        count: 1,
        ...(e.ts !== undefined ? { first: e.ts, last: e.ts } : {}),
        example: e.msg.slice(0, 500),
      });
    }
  }
  return [...groups.entries()].map(([template, g]) => ({ template, ...g })).sort((a, b) => b.count - a.count);
}

const UNREACHABLE =
  /dial tcp 127\.0\.0\.1:50051|Error received from (Add|Del)Network gRPC call|failed to connect to ipamd|Retrying waiting for IPAM-D|timed out waiting for IPAM daemon/i;

/** True when a message says the CNI binary could not reach ipamd. */
export function isIpamdUnreachable(msg: string): boolean {
  return UNREACHABLE.test(msg) && !/code = (Internal|Unknown) desc = .*no available IP/i.test(msg);
}
