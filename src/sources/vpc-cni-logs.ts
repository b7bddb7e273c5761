/**
 * AWS VPC CNI log parsers: `ipamd.log` / `plugin.log` in JSON lines (v1.6+) and the legacy seelog
 * format (`2018-05-12T00:59:59Z [INFO] msg`), plus grouping of errors by message template and
 * detection of "ipamd unreachable" (the CNI binary cannot dial 127.0.0.1:50051).
 */
import { capEvidence, type Finding } from '../core/findings.ts';
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

/** Findings from the two logs: `ipamd-unreachable` (plugin.log) and `ipamd-errors` (grouped). */
export function vpcCniLogFindings(
  logs: {
    readonly ipamd?: CniLog;
    readonly plugin?: CniLog;
    readonly ipamdPath?: string;
    readonly pluginPath?: string;
  },
  opts: { readonly maxGroups?: number } = {},
): Finding[] {
  const findings: Finding[] = [];
  const unreachable = (logs.plugin?.entries ?? []).filter((e) => isIpamdUnreachable(e.msg));
  if (unreachable.length > 0) {
    const first = unreachable[0];
    const last = unreachable[unreachable.length - 1];
    findings.push({
      code: 'ipamd-unreachable',
      severity: 'critical',
      title: `The CNI plugin could not reach ipamd (127.0.0.1:50051) ${unreachable.length} time(s)`,
      evidence: capEvidence(
        [
          `${logs.pluginPath ?? 'plugin.log'}: first ${first?.ts ?? '?'}, last ${last?.ts ?? '?'}`,
          ...unreachable.slice(0, 5).map((e) => `line ${e.line}: ${e.msg.slice(0, 400)}`),
        ],
        8,
      ),
      subjects: [{ kind: 'node', name: 'aws-node (ipamd)' }],
      fix:
        'aws-node/ipamd was not running or not ready when pods were created. Check the aws-node pod on this node ' +
        '(kubectl -n kube-system logs <aws-node pod> -c aws-node; /var/log/aws-routed-eni/ipamd.log for why it did not start: ' +
        'API server or EC2 API reachability, IAM). Pods created meanwhile stay in ContainerCreating or, if they got an ' +
        'address from a stale checkpoint, may lack routes: delete them once aws-node is Ready.',
    });
  }
  const groups = groupErrors(logs.ipamd?.entries ?? []);
  if (groups.length > 0) {
    const total = groups.reduce((n, g) => n + g.count, 0);
    const max = opts.maxGroups ?? 10;
    findings.push({
      code: 'ipamd-errors',
      severity: 'warning',
      title: `ipamd logged ${total} error(s) in ${groups.length} distinct message(s)`,
      evidence: capEvidence(
        groups.map((g) => `${g.count}× [${g.first ?? '?'} … ${g.last ?? '?'}] ${g.template}`),
        max,
      ),
      subjects: [{ kind: 'file', name: logs.ipamdPath ?? 'ipamd.log' }],
      fix: 'Read the most frequent messages first: EC2 API throttling or IAM errors stop ENI/IP allocation; "no available IP addresses" means the subnet or the instance ENI limit is exhausted.',
    });
  }
  return findings;
}
