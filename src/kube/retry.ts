/**
 * When to retry an API request, and after how long: the pure half of client.ts's request loop.
 * - 5xx and 429 mean "not now": wait what the server asks (`Retry-After`, seconds or an HTTP-date)
 *   or, without that, an exponential back-off with full jitter, capped; a few attempts, then fail.
 * - Anything else is the caller's answer (404, 409, 422…) and is never retried here: conflicts
 *   are re-planned by the writer (nodes.ts), the rest are errors.
 */

/** How a request is retried. */
export interface RetryPolicy {
  /** Attempts in all, the first included; 1 never retries. */
  readonly maxAttempts: number;
  /** First back-off; doubles per attempt, with full jitter. */
  readonly baseDelayMs: number;
  /** Largest back-off, and largest Retry-After honoured (a longer one is cut to it). */
  readonly maxDelayMs: number;
}

/**
 * Defaults: 4 attempts, 0.5 s, 1 s, 2 s (jittered) or what the server asks up to 10 s. With the
 * default 10 s request deadline a call gives up within ~1 minute in the worst case.
 */
export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 4, baseDelayMs: 500, maxDelayMs: 10_000 };

/** Retrying on conflicts (409) and failed JSON-patch tests: short, jittered, bounded. */
export const CONFLICT_RETRY: RetryPolicy = { maxAttempts: 10, baseDelayMs: 20, maxDelayMs: 1_000 };

/** True for the statuses that say "try again later": 429 and 5xx. */
export function isRetryableStatus(status: number): boolean {
  return status === 429 || (status >= 500 && status <= 599);
}

/**
 * The delay a `Retry-After` header asks for, in ms: delta-seconds or an HTTP-date (RFC 9110
 * §10.2.3). Undefined when absent or unreadable; a date in the past is 0.
 */
export function parseRetryAfter(value: string | undefined, nowMs: number): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  if (!/[a-z]/i.test(v)) return undefined; // a negative or fractional number is not a date either
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - nowMs);
}

/** Exponential back-off with full jitter: uniform in [0, min(max, base·2^(retry-1))]. */
export function backoffMs(retry: number, policy: RetryPolicy, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, retry - 1));
  return Math.floor(random() * ceiling);
}

/**
 * The wait before the next attempt after a failed one (`attempt` counts from 1), or undefined
 * when not to retry: the status is not retryable or the attempts are spent. A Retry-After wins
 * over the back-off, cut to `maxDelayMs` so a server cannot park the caller.
 */
export function retryDelay(
  failure: { readonly status: number; readonly retryAfter?: string },
  attempt: number,
  policy: RetryPolicy,
  nowMs: number,
  random: () => number = Math.random,
): number | undefined {
  if (!isRetryableStatus(failure.status) || attempt >= policy.maxAttempts) return undefined;
  const asked = parseRetryAfter(failure.retryAfter, nowMs);
  return asked !== undefined ? Math.min(asked, policy.maxDelayMs) : backoffMs(attempt, policy, random);
}

/**
 * What a failed JSON-patch write with `test` ops means. The API server answers a failed `test`
 * with 422 and only "the server rejected our request due to an error in our request" — the same
 * as for any patch it cannot apply (checked against kube-apiserver 1.36) — while a validation
 * error carries `details.causes`. So: a 409, or a 422 without causes after which the Node's
 * resourceVersion moved (someone wrote it in between), is a conflict to re-plan; every other
 * failure, including a 422 on a Node nobody touched, is an error.
 */
export function writeFailure(
  status: number,
  causes: readonly string[],
  resourceVersionBefore: string | undefined,
  resourceVersionAfter: string | undefined,
): 'conflict' | 'error' {
  if (status === 409) return 'conflict';
  if (status !== 422 || causes.length > 0) return 'error';
  return resourceVersionAfter !== resourceVersionBefore ? 'conflict' : 'error';
}
