/** The kubelet's container restart back-off, as a pure function of the restart history. */

/** Kubelet constants: 10 s initial delay, doubling, capped at 5 min. */
export const BACKOFF_INITIAL_MS = 10_000;
export const BACKOFF_MAX_MS = 300_000;
/** A container that ran this long before exiting starts over from the initial delay. */
export const BACKOFF_RESET_AFTER_MS = 2 * BACKOFF_MAX_MS;

/**
 * The delay before the next start of a container that has failed `consecutiveFailures` times in a
 * row (1 = first failure), scaled by the lab's time factor (1 = real time).
 */
export function crashLoopDelayMs(consecutiveFailures: number, timeScale = 1): number {
  if (consecutiveFailures <= 0) return 0;
  const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** (consecutiveFailures - 1), BACKOFF_MAX_MS);
  return Math.round(delay * timeScale);
}

/** The failure streak after a container exits having run `ranMs`. */
export function nextFailureStreak(previousStreak: number, ranMs: number, timeScale = 1): number {
  return ranMs >= BACKOFF_RESET_AFTER_MS * timeScale ? 1 : previousStreak + 1;
}
