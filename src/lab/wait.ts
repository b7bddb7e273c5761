/** Bounded waiting for lab conditions. */
import { describeError, NetwardenError } from '../errors.ts';

/**
 * Polls `fn` every `everyMs` until it returns a truthy value (returned) or `timeoutMs` passes
 * (throws a `lab-timeout` NetwardenError naming `what`, with the last error seen, if any).
 */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs: number,
  everyMs = 200,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastErr = err;
    }
    if (Date.now() >= deadline) {
      const why = lastErr ? ` (last error: ${describeError(lastErr)})` : '';
      throw new NetwardenError(
        'lab-timeout',
        `timed out after ${Math.round(timeoutMs / 1000)} s waiting for ${what}${why}`,
      );
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Polls `cond` every 50 ms until true or `timeoutMs` passed. Returns whether it became true. */
export async function waitUntil(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  everyMs = 50,
): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
