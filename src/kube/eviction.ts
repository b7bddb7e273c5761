/**
 * Evicting a pod through the policy/v1 Eviction API, so PodDisruptionBudgets hold. The outcomes a
 * caller must handle are values, not exceptions: a PDB refusal is an expected answer.
 */
import { apiError, httpStatus, type KubeClient, parseStatusBody } from './client.ts';

/** What an eviction request came to. */
export type EvictionResult =
  | { readonly kind: 'evicted' }
  /** 404: the pod no longer exists, which is what eviction wanted. */
  | { readonly kind: 'already-gone' }
  /** 429 from the disruption budget check: retry later, never turn into a delete. */
  | { readonly kind: 'blocked-by-pdb'; readonly message: string }
  /** 429 without a disruption-budget cause (API priority and fairness): retry later. */
  | { readonly kind: 'throttled'; readonly message: string };

/** Evicts pods. A fake lives in fake.ts. */
export interface EvictionApi {
  /** Asks the API server to evict; other failures throw a KubeApiError. */
  evict(namespace: string, name: string, opts?: { dryRun?: boolean }): Promise<EvictionResult>;
}

/** Classifies a 429 body: the disruption controller's refusal names the budget. */
export function classifyTooManyRequests(body: unknown): EvictionResult {
  const status = parseStatusBody(body);
  const message = status.message ?? 'too many requests';
  const pdb = status.causes.includes('DisruptionBudget') || /disruption budget/i.test(message);
  return pdb ? { kind: 'blocked-by-pdb', message } : { kind: 'throttled', message };
}

/** EvictionApi over a real API server. */
export class KubeEvictionApi implements EvictionApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async evict(namespace: string, name: string, opts: { dryRun?: boolean } = {}): Promise<EvictionResult> {
    try {
      await this.#client.core.createNamespacedPodEviction({
        name,
        namespace,
        body: {
          apiVersion: 'policy/v1',
          kind: 'Eviction',
          metadata: { name, namespace },
          ...(opts.dryRun ? { deleteOptions: { dryRun: ['All'] } } : {}),
        },
      });
      return { kind: 'evicted' };
    } catch (err) {
      const status = httpStatus(err);
      if (status === 404) return { kind: 'already-gone' };
      if (status === 429) return classifyTooManyRequests((err as { body?: unknown }).body);
      throw apiError(`evict pod ${namespace}/${name}`, err);
    }
  }
}
