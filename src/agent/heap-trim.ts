/**
 * When the agent gives the C heap's free memory back (host/heap-trim.ts): after a round, at most
 * once per {@link HEAP_TRIM_EVERY_MS}. Rounds run every 250 ms while the gate is closed and every
 * 30 s while it is open. A trim walks the free chunks of every arena: 0.24 ms the first time and
 * 0.01 ms after in a process holding the caches of 10,000 Services, 3.6-3.9 ms in one left with
 * 72 MB after it gave back 220 MB (diagnostic scripts). Once a minute is thus well under a
 * millisecond a minute, and what a full read or a burst of watch traffic frees is back with the
 * kernel within a minute (at 10,000 Services: 110.5 / 112.9 MB steady against 119.5 without it,
 * the agent's CPU unchanged; docs/agent.md, "Sizing").
 */
import type { Counter } from 'prom-client';
import type { HeapTrimmer } from '../host/heap-trim.ts';

/** The shortest time between two trims. */
export const HEAP_TRIM_EVERY_MS = 60_000;

/**
 * Trims after rounds, throttled; counts each trim by whether it returned memory. Never throws: a
 * trim that throws is counted `failed` and none follows (the agent's loop must not stop for it).
 */
export class HeapTrimSchedule {
  readonly #trimmer: HeapTrimmer;
  readonly #nowMs: () => number;
  readonly #trims: Counter<'outcome'>;
  #lastMs = Number.NEGATIVE_INFINITY;
  #failed = false;

  constructor(trimmer: HeapTrimmer, nowMs: () => number, trims: Counter<'outcome'>) {
    this.#trimmer = trimmer;
    this.#nowMs = nowMs;
    this.#trims = trims;
  }

  /** Called when a round has ended: trims when the last trim is at least a minute old. */
  afterRound(): void {
    const now = this.#nowMs();
    if (this.#failed || now - this.#lastMs < HEAP_TRIM_EVERY_MS) return;
    this.#lastMs = now;
    let outcome: 'returned' | 'nothing' | 'failed';
    try {
      outcome = this.#trimmer.trim() ? 'returned' : 'nothing';
    } catch {
      outcome = 'failed';
      this.#failed = true;
    }
    this.#trims.inc({ outcome });
  }
}
