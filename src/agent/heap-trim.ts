/**
 * When the agent gives the C heap's free memory back (host/heap-trim.ts): after a round, at most
 * once per {@link HEAP_TRIM_EVERY_MS}. Rounds run every 250 ms while the gate is closed and every
 * 30 s while it is open; a trim walks every free chunk of every arena (~4 ms in a process holding
 * 70 MB), so once a minute is a few ms a minute, while the memory a full read or a burst of
 * watch traffic frees is back with the kernel within a minute of it.
 */
import type { Counter } from 'prom-client';
import type { HeapTrimmer } from '../host/heap-trim.ts';

/** The shortest time between two trims. */
export const HEAP_TRIM_EVERY_MS = 60_000;

/** Trims after rounds, throttled; counts each trim by whether it returned memory. */
export class HeapTrimSchedule {
  readonly #trimmer: HeapTrimmer;
  readonly #nowMs: () => number;
  readonly #trims: Counter<'outcome'>;
  #lastMs = Number.NEGATIVE_INFINITY;

  constructor(trimmer: HeapTrimmer, nowMs: () => number, trims: Counter<'outcome'>) {
    this.#trimmer = trimmer;
    this.#nowMs = nowMs;
    this.#trims = trims;
  }

  /** Called when a round has ended: trims when the last trim is at least a minute old. */
  afterRound(): void {
    const now = this.#nowMs();
    if (now - this.#lastMs < HEAP_TRIM_EVERY_MS) return;
    this.#lastMs = now;
    this.#trims.inc({ outcome: this.#trimmer.trim() ? 'returned' : 'nothing' });
  }
}
