/**
 * Evicting a pod through the policy/v1 Eviction API, so PodDisruptionBudgets hold, with the pod's
 * UID as a precondition, so a pod re-created under the same name is never evicted in its place.
 * The outcomes a caller must handle are values, not exceptions: a PDB refusal is an expected answer.
 */
import { ApiException } from '@kubernetes/client-node';
import { httpStatus, KubeApiError, type KubeClient, parseStatusBody } from './client.ts';
import { parseRetryAfter } from './retry.ts';

/** What an eviction request came to. */
export type EvictionResult =
  | { readonly kind: 'evicted' }
  /** 404: the pod no longer exists, which is what eviction wanted. */
  | { readonly kind: 'already-gone' }
  /** 429 from the disruption budget check: retry later, never turn into a delete. */
  | { readonly kind: 'blocked-by-pdb'; readonly message: string }
  /** 429 without a disruption-budget cause (API priority and fairness): retry later, after `retryAfterMs` if the server said. */
  | { readonly kind: 'throttled'; readonly message: string; readonly retryAfterMs?: number }
  /** 409 on the UID precondition: the pod by that name is another one now; nothing was evicted. */
  | { readonly kind: 'uid-mismatch'; readonly message: string };

/** Evicts pods. A fake lives in fake.ts. */
export interface EvictionApi {
  /**
   * Asks the API server to evict the pod with this `uid` (the precondition: an empty uid is
   * refused here, since it would evict whatever pod has the name); other failures throw a
   * KubeApiError.
   */
  evict(namespace: string, name: string, uid: string, opts?: { dryRun?: boolean }): Promise<EvictionResult>;
}

/** Classifies a 429 body: the disruption controller's refusal names the budget. */
export function classifyTooManyRequests(body: unknown, retryAfterMs?: number): EvictionResult {
  const status = parseStatusBody(body);
  const message = status.message ?? 'too many requests';
  const pdb = status.causes.includes('DisruptionBudget') || /disruption budget/i.test(message);
  if (pdb) return { kind: 'blocked-by-pdb', message };
  return { kind: 'throttled', message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/**
 * True for the API server's answer to a failed UID precondition: 409 Conflict with "the UID in the
 * precondition (…) does not match the UID in record (…)" (v1.36, seen against the real API server)
 * or "Precondition failed: UID …" (older releases).
 */
export function isUidMismatch(status: number, message: string): boolean {
  return status === 409 && /precondition failed: uid|the uid in the precondition/i.test(message);
}

/** EvictionApi over a real API server. */
export class KubeEvictionApi implements EvictionApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async evict(
    namespace: string,
    name: string,
    uid: string,
    opts: { dryRun?: boolean } = {},
  ): Promise<EvictionResult> {
    const what = `evict pod ${namespace}/${name}`;
    if (uid === '') throw new KubeApiError(what, 0, undefined, 'no pod UID to evict by', undefined);
    try {
      // 429 is an answer here (a budget's refusal, or throttling): not retried, returned.
      await this.#client.call(
        what,
        (o) =>
          this.#client.core.createNamespacedPodEviction(
            {
              name,
              namespace,
              body: {
                apiVersion: 'policy/v1',
                kind: 'Eviction',
                metadata: { name, namespace },
                deleteOptions: { preconditions: { uid }, ...(opts.dryRun ? { dryRun: ['All'] } : {}) },
              },
            },
            o,
          ),
        { retry: false },
      );
      return { kind: 'evicted' };
    } catch (err) {
      const status = httpStatus(err);
      const raw = err instanceof KubeApiError ? err.cause : err;
      if (status === 404) return { kind: 'already-gone' };
      if (status === 429 && raw instanceof ApiException) {
        const after = parseRetryAfter((raw.headers as Record<string, string>)['retry-after'], Date.now());
        return classifyTooManyRequests(raw.body, after);
      }
      const message = parseStatusBody(raw instanceof ApiException ? raw.body : undefined).message ?? '';
      if (isUidMismatch(status, message)) return { kind: 'uid-mismatch', message };
      throw err;
    }
  }
}
