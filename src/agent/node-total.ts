/**
 * How many Nodes the breaker divides by. No agent watches every Node (caches.ts), so the total
 * is counted by one cheap request (NodeApi.count: a metadata-only list of one item) — and only
 * when a round may consult the breaker (the gate closed or a check failing), at most once per
 * `maxAgeMs`: a healthy steady node sends no such request at all.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { describeError } from '../errors.ts';

/** Default age after which a count is refreshed when it is needed. */
export const NODE_TOTAL_MAX_AGE_MS = 10 * 60_000;

/** The last count of selected Nodes, refreshed on demand. */
export class NodeTotal {
  readonly #count: () => Promise<number>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #maxAgeMs: number;
  #last: { atMs: number; n: number } | undefined;
  #pending: Promise<void> | undefined;

  constructor(opts: { count: () => Promise<number>; clock: Clock; log: Logger; maxAgeMs?: number }) {
    this.#count = opts.count;
    this.#clock = opts.clock;
    this.#log = opts.log;
    this.#maxAgeMs = opts.maxAgeMs ?? NODE_TOTAL_MAX_AGE_MS;
  }

  /** The last count, whatever its age (undefined: never counted). */
  known(): number | undefined {
    return this.#last?.n;
  }

  /**
   * The count, refreshed first when older than `maxAgeMs`. Never throws: a failed count keeps
   * the last one (logged); undefined only when no count ever succeeded.
   */
  async fresh(): Promise<number | undefined> {
    if (this.#last && this.#clock.now() - this.#last.atMs < this.#maxAgeMs) return this.#last.n;
    this.#pending ??= this.#refresh().finally(() => {
      this.#pending = undefined;
    });
    await this.#pending;
    return this.#last?.n;
  }

  async #refresh(): Promise<void> {
    try {
      this.#last = { atMs: this.#clock.now(), n: await this.#count() };
    } catch (err) {
      this.#log.warn({ err: describeError(err), last: this.#last?.n }, 'could not count the selected nodes');
    }
  }
}
