/**
 * The boot gate's node-local contract with the `netwarden-cni-gate` plugin (tools/cni-gate): the
 * plugin entry's settings, the state files the agent writes and the plugin reads (and back), and
 * the plugin's outcome names. The Go side (tools/cni-gate/state.go, decide.go) holds the same
 * names and formats; change both together. Pure: reading and writing is in src/cni-gate/.
 *
 * Timestamps are on the kernel's boot clock (`/proc/uptime`, CLOCK_BOOTTIME) in milliseconds, not
 * the wall clock: NTP steps at boot cannot make a heartbeat look stale or fresh. Every record
 * names its boot id, so state left from another boot (or by another lab node sharing the kernel)
 * is never taken for this boot's.
 */
import { formatDuration } from './duration.ts';
import { BOOT_ID_ANNOTATION, READY_AT_ANNOTATION } from './gate.ts';
import { isObj } from './json.ts';

/** The plugin's `type` in a conflist (and its file name in the CNI bin folder). */
export const GATE_PLUGIN_TYPE = 'netwarden-cni-gate';

/** File names under the state folder (default /run/netwarden). */
export const GATE_FILES = {
  /** The agent: `<boot id>\n` once this boot's data path was verified (the gate opened). */
  verified: 'verified-boot-id',
  /** The agent: `{"bootId","uptimeMs","pid"}` every few seconds. */
  heartbeat: 'heartbeat',
  /** The plugin or the agent, whichever sees the boot first: `{"bootId","uptimeMs"}`. */
  bootSeen: 'boot-seen',
  /** The plugin's counters: `{"<outcome>": n, …}`. */
  counters: 'cni-gate/counters',
  /** The plugin's log, JSON lines (rotated to gate.log.1 past 1 MiB). */
  log: 'cni-gate/gate.log',
} as const;

/** What one ADD through the gate ended as (the plugin's counter keys and log outcomes). */
export const GATE_OUTCOMES = [
  'passed',
  'exempt',
  'released',
  'retry',
  'failed_open_deadline',
  'failed_open_agent_absent',
  'failed_open_agent_stale',
  'failed_open_error',
] as const;

/** One outcome. */
export type GateOutcome = (typeof GATE_OUTCOMES)[number];

/** The plugin's own settings, written into its conflist entry. */
export interface GateSettings {
  readonly stateDir: string;
  /** The file holding this node's boot id; labs whose nodes share one kernel point it elsewhere. */
  readonly bootIdFile: string;
  /** Past this since the boot was first seen, the plugin passes every pod (fail-open). */
  readonly bootGateDeadlineMs: number;
  /** Longest hold of one ADD before it fails with code 11 (the runtime retries). */
  readonly maxWaitMs: number;
  /** How long after the boot was first seen the plugin waits for the agent's first heartbeat. */
  readonly agentStartGraceMs: number;
  /** A heartbeat older than this means the agent is not running: fail-open. */
  readonly heartbeatStaleMs: number;
  /** Pods of these namespaces are never held. */
  readonly exemptNamespaces: readonly string[];
}

/**
 * Defaults and the reasons for them (the plugin has the same built in for a hand-written entry).
 * maxWait: below the kubelet's RunPodSandbox deadline (2 × --runtime-request-timeout = 4 min) and
 * short enough that containerd's CNI config lock, held for a whole chain, never keeps a conflist
 * reload — and the runtime Status call queued behind it — waiting for more than ~20 s (the kubelet
 * reports the runtime down after 30 s without Status). kube-system is exempt because the data
 * path verification itself may need its pods (CoreDNS answers the agent's DNS probe).
 */
export const DEFAULT_GATE_SETTINGS: GateSettings = {
  stateDir: '/run/netwarden',
  bootIdFile: '/proc/sys/kernel/random/boot_id',
  bootGateDeadlineMs: 5 * 60_000,
  maxWaitMs: 20_000,
  agentStartGraceMs: 2 * 60_000,
  heartbeatStaleMs: 30_000,
  exemptNamespaces: ['kube-system'],
};

/** The plugin's conflist entry for these settings (every key explicit, for whoever reads the file). */
export function gateEntry(s: GateSettings): Record<string, unknown> {
  return {
    type: GATE_PLUGIN_TYPE,
    stateDir: s.stateDir,
    bootIdFile: s.bootIdFile,
    bootGateDeadline: formatDuration(s.bootGateDeadlineMs),
    maxWait: formatDuration(s.maxWaitMs),
    agentStartGrace: formatDuration(s.agentStartGraceMs),
    heartbeatStale: formatDuration(s.heartbeatStaleMs),
    exemptNamespaces: [...s.exemptNamespaces],
  };
}

/** A boot-clock stamp of one boot (heartbeat or first sighting). */
export interface BootStamp {
  readonly bootId: string;
  readonly uptimeMs: number;
}

/** The heartbeat file's content. */
export function formatHeartbeat(stamp: BootStamp, pid: number): string {
  return `${JSON.stringify({ bootId: stamp.bootId, uptimeMs: Math.round(stamp.uptimeMs), pid })}\n`;
}

/** The first-sighting file's content. */
export function formatBootSeen(stamp: BootStamp): string {
  return `${JSON.stringify({ bootId: stamp.bootId, uptimeMs: Math.round(stamp.uptimeMs) })}\n`;
}

/** Reads a heartbeat or first-sighting file; undefined when it is not one. */
export function parseBootStamp(text: string): BootStamp | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!isObj(doc) || typeof doc.bootId !== 'string' || doc.bootId === '') return undefined;
  if (typeof doc.uptimeMs !== 'number' || !Number.isFinite(doc.uptimeMs)) return undefined;
  return { bootId: doc.bootId, uptimeMs: doc.uptimeMs };
}

/** Milliseconds of the boot clock from `/proc/uptime` ("12345.67 23456.78"), or an error message. */
export function parseUptimeMs(text: string): number | { error: string } {
  const first = text.trim().split(/\s+/)[0] ?? '';
  const secs = Number(first);
  if (first === '' || !Number.isFinite(secs) || secs < 0)
    return { error: `/proc/uptime: unexpected content "${text.slice(0, 40)}"` };
  return Math.round(secs * 1000);
}

/** The plugin's counters; outcomes it never had are 0, unknown keys are ignored. */
export function parseGateCounters(text: string): Record<GateOutcome, number> {
  const counts = Object.fromEntries(GATE_OUTCOMES.map((o) => [o, 0])) as Record<GateOutcome, number>;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return counts;
  }
  if (!isObj(doc)) return counts;
  for (const o of GATE_OUTCOMES) {
    const v = doc[o];
    if (typeof v === 'number' && Number.isInteger(v) && v >= 0) counts[o] = v;
  }
  return counts;
}

/** What the plugin's log says about a boot: the lab's `summary.bootGate`. */
export interface GateLogSummary {
  /** ADDs that waited at all (released, retried, or failed open after a wait). */
  readonly held: number;
  /** Longest single wait, ms. */
  readonly maxHeldMs: number;
  /** ADDs that passed because the gate failed open (any reason). */
  readonly failedOpen: number;
  readonly retries: number;
  readonly released: number;
  readonly exempt: number;
}

/** One record of gate.log: a hold beginning (`hold`) or an ADD's end (`add`). */
export interface GateLogRecord {
  readonly event: 'hold' | 'add';
  /** Wall-clock time of the record (ms), when it parses. */
  readonly timeMs: number | undefined;
  readonly outcome: string;
  readonly heldMs: number;
  readonly bootId: string | undefined;
  readonly pod: string | undefined;
  readonly reason: string;
}

/** The records of gate.log text; lines that are not records are skipped. */
export function parseGateLog(text: string): GateLogRecord[] {
  const out: GateLogRecord[] = [];
  for (const line of text.split('\n')) {
    let rec: unknown;
    try {
      rec = JSON.parse(line);
    } catch {
      continue;
    }
    const r = gateLogRecord(rec);
    if (r) out.push(r);
  }
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

function gateLogRecord(rec: unknown): GateLogRecord | undefined {
  if (!isObj(rec) || (rec.event !== 'add' && rec.event !== 'hold')) return undefined;
  const t = Date.parse(str(rec.time) ?? '');
  return {
    event: rec.event,
    timeMs: Number.isNaN(t) ? undefined : t,
    outcome: str(rec.outcome) ?? '',
    // The plugin logs heldMs only for calls that waited.
    heldMs: typeof rec.heldMs === 'number' ? rec.heldMs : 0,
    bootId: str(rec.bootId),
    pod: str(rec.pod),
    reason: str(rec.reason) ?? '',
  };
}

type GateAddRecord = GateLogRecord;

/** The `add` records of gate.log text. */
function gateAddRecords(text: string): GateAddRecord[] {
  return parseGateLog(text).filter((r) => r.event === 'add');
}

/** Summarizes gate.log (optionally only one boot's records). */
export function summarizeGateLog(text: string, bootId?: string): GateLogSummary {
  const recs = gateAddRecords(text).filter((r) => bootId === undefined || r.bootId === bootId);
  const count = (pred: (r: GateAddRecord) => boolean): number => recs.filter(pred).length;
  return {
    held: count((r) => r.heldMs > 0),
    maxHeldMs: recs.reduce((m, r) => Math.max(m, r.heldMs), 0),
    failedOpen: count((r) => r.outcome.startsWith('failed_open')),
    retries: count((r) => r.outcome === 'retry'),
    released: count((r) => r.outcome === 'released'),
    exempt: count((r) => r.outcome === 'exempt'),
  };
}

/**
 * The boot id whose data path the agent verified, read off the Node: `netwarden.dev/boot-id`
 * names the current boot and `datapath-ready-at` is set (the gate's first opening of that boot
 * writes it; a new boot clears it). Undefined while the current boot is unverified.
 */
export function verifiedBootId(node: {
  readonly bootId: string | undefined;
  readonly annotations: Readonly<Record<string, string>>;
}): string | undefined {
  const { bootId, annotations } = node;
  if (!bootId || annotations[BOOT_ID_ANNOTATION] !== bootId) return undefined;
  return annotations[READY_AT_ANNOTATION] ? bootId : undefined;
}
