/**
 * The fleet view of `netwarden status`: every node's gate, why, since when, how long its last
 * boot took to be verified, and its recent recycles — from Node objects and netwarden's Events.
 * Pure: the CLI reads, this decides what to show. Whether an agent runs right now is not on the Node
 * (the agent writes only on change, never a heartbeat): that is the NetwardenAgentAbsent alert's job.
 */
import { REASON_NEW_BOOT } from './gate.ts';
import type { NodeGate } from './node-state.ts';

/** One netwarden Event about a Node, as the status needs it. */
export interface NodeEvent {
  readonly node: string;
  readonly reason: string;
  readonly action: string;
  readonly note: string;
  readonly atMs: number;
}

/** One row of the status. */
export interface NodeStatusRow {
  readonly gate: NodeGate;
  /**
   * From netwarden first seeing this boot (`boot-seen-at`; without it, the gate's closing Event for
   * the boot) to `datapath-ready-at`; undefined when neither is known or the boot is not verified.
   */
  readonly bootToReadyMs: number | undefined;
  /** The agent reports on this node, but its current boot is not verified yet. */
  readonly bootPending: boolean;
  /** Recycles (evictions) on this node within the window, newest first: `namespace/name`. */
  readonly recycledPods: readonly string[];
  readonly lastRecycleMs: number | undefined;
}

/** Options of {@link buildStatus}. */
export interface StatusOptions {
  readonly nowMs: number;
  /** How far back recycles are listed. */
  readonly recycleWindowMs: number;
}

/** Builds one row per node, sorted by node name. */
export function buildStatus(
  gates: readonly NodeGate[],
  events: readonly NodeEvent[],
  opts: StatusOptions,
): NodeStatusRow[] {
  const byNode = new Map<string, NodeEvent[]>();
  for (const e of events) byNode.set(e.node, [...(byNode.get(e.node) ?? []), e]);
  return [...gates]
    .sort((a, b) => a.node.localeCompare(b.node))
    .map((gate) => {
      const mine = (byNode.get(gate.node) ?? []).sort((a, b) => b.atMs - a.atMs);
      const recycles = mine.filter(
        (e) => e.action === 'Evict' && opts.nowMs - e.atMs <= opts.recycleWindowMs,
      );
      return {
        gate,
        bootToReadyMs: bootToReady(gate, mine),
        bootPending:
          gate.gate !== 'none' &&
          gate.bootId !== undefined &&
          (gate.verifiedBootId !== gate.bootId || gate.readyAtMs === undefined),
        recycledPods: recycles.map((e) => podOfNote(e.note)),
        lastRecycleMs: recycles[0]?.atMs,
      };
    });
}

/** boot-seen-at (or the boot's closing Event: the last NewBootNotVerified closure before ready-at) to ready-at. */
function bootToReady(gate: NodeGate, newestFirst: readonly NodeEvent[]): number | undefined {
  const readyAt = gate.readyAtMs;
  if (readyAt === undefined || gate.verifiedBootId !== gate.bootId) return undefined;
  if (gate.bootSeenAtMs !== undefined && gate.bootSeenAtMs <= readyAt) return readyAt - gate.bootSeenAtMs;
  const closed = newestFirst.find(
    (e) => e.reason === 'DataPathGateClosed' && e.note.includes(REASON_NEW_BOOT) && e.atMs <= readyAt,
  );
  return closed ? readyAt - closed.atMs : undefined;
}

/** The agent's recycle Events on a Node start with "Pod <namespace>/<name>: ". */
function podOfNote(note: string): string {
  return note.match(/^Pod (\S+?):/)?.[1] ?? '?';
}
