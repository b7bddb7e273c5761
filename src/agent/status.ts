/**
 * The agent's /status document and this boot's timeline. It names pods and carries evidence, so
 * it is served on its own listener (localhost by default), never beside /metrics.
 */
import type { CheckResult, Verdict } from '../core/check.ts';
import type { GateDecision, GateMemory } from '../core/gate.ts';
import type { RepairRound } from './repair.ts';

/** One line of this boot's timeline. */
export interface TimelineLine {
  readonly at: string;
  readonly event: string;
  readonly detail?: string;
}

/** The last 200 notable moments of this boot (check status changes, verdicts, transitions). */
export class Timeline {
  #lines: TimelineLine[] = [];

  /** Starts over (a new boot). */
  reset(): void {
    this.#lines = [];
  }

  /** Adds one line, dropping the oldest past 200. */
  add(atMs: number, event: string, detail?: string): void {
    this.#lines.push({ at: new Date(atMs).toISOString(), event, ...(detail ? { detail } : {}) });
    if (this.#lines.length > 200) this.#lines.shift();
  }

  /** The lines, oldest first. */
  lines(): readonly TimelineLine[] {
    return this.#lines;
  }
}

/** The last completed round. */
export interface LastRound {
  readonly results: readonly CheckResult[];
  readonly verdict: Verdict;
  readonly decision: GateDecision;
  readonly at: number;
}

/** Everything /status shows. */
export interface StatusInput {
  readonly node: string;
  readonly bootId: string | undefined;
  readonly mode: string;
  readonly dryRun: boolean;
  readonly memory: GateMemory | undefined;
  readonly last: LastRound | undefined;
  readonly repair: RepairRound | undefined;
  readonly timeline: readonly TimelineLine[];
}

/** The /status document. */
export function statusDocument(s: StatusInput): unknown {
  const { last, memory, repair } = s;
  return {
    node: s.node,
    bootId: s.bootId,
    mode: s.mode,
    dryRun: s.dryRun,
    gate: memory
      ? {
          closed: memory.closed,
          breakerHeld: memory.breakerHeld,
          passes: memory.passes,
          failures: memory.failures,
        }
      : null,
    lastRound: last
      ? {
          at: new Date(last.at).toISOString(),
          verdict: last.verdict,
          condition: last.decision.condition,
          checks: last.results.map((r) => ({ ...r, evidence: r.evidence?.slice(0, 20) ?? [] })),
        }
      : null,
    repair: repair
      ? {
          pending: repair.pending,
          nodeProbe: repair.nodeProbe ?? null,
          decisions: repair.decisions
            .filter((d) => d.action !== 'skip' || d.reason === 'Healthy')
            .map((d) => ({ pod: d.pod.key, action: d.action, reason: d.reason, explanation: d.explanation })),
          report: repair.report ?? null,
        }
      : null,
    timeline: s.timeline,
  };
}
