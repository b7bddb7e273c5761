/** Running one check under its deadline: a timeout or a throw is Unknown, never an exception. */
import type { Check, CheckContext } from '../checks/check.ts';
import type { CheckResult } from '../core/check.ts';
import { describeError } from '../errors.ts';

/** Runs one check with its deadline; a timeout or a throw becomes Unknown. Never throws. */
export async function runCheck(check: Check, ctx: CheckContext, timeoutMs: number): Promise<CheckResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ status: 'Unknown'; reason: string; message: string }>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({ status: 'Unknown', reason: 'CheckTimedOut', message: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    const r = await Promise.race([check.run(ctx), deadline]);
    return { check: check.name, gating: check.gating, durationMs: performance.now() - t0, ...r };
  } catch (err) {
    return {
      check: check.name,
      gating: check.gating,
      durationMs: performance.now() - t0,
      status: 'Unknown',
      reason: 'CheckCrashed',
      message: describeError(err),
    };
  } finally {
    clearTimeout(timer);
  }
}
