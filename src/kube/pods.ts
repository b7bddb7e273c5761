/** Pods: list and watch, by node (`spec.nodeName` field selector) or by any selector. */
import { PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { httpStatus, type KubeClient } from './client.ts';
import type { Pod, PodCondition, WriteResult } from './types.ts';
import { Reflector, type ReflectorHandlers } from './watch.ts';

/** Selectors for listing or watching pods in every namespace. */
export interface PodSelector {
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
}

/** Pods on a node. A fake lives in fake.ts. */
export interface PodApi {
  listOnNode(nodeName: string): Promise<Pod[]>;
  /** Pods in every namespace matching the selectors, at most `limit` of them (one page). */
  listMatching(selector: PodSelector, limit: number): Promise<Pod[]>;
  /**
   * Sets one condition in the pod's status (strategic merge keyed by type: other conditions stay).
   * The caller decides lastTransitionTime. A pod that is gone is not an error (`unchanged`).
   */
  setPodCondition(namespace: string, name: string, condition: PodCondition): Promise<WriteResult>;
  watchOnNode(nodeName: string, handlers: ReflectorHandlers<Pod>): Promise<Reflector<Pod>>;
}

/** PodApi over a real API server. */
export class KubePodApi implements PodApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async listOnNode(nodeName: string): Promise<Pod[]> {
    return (await this.#list({ fieldSelector: `spec.nodeName=${nodeName}` })).items;
  }

  async listMatching(selector: PodSelector, limit: number): Promise<Pod[]> {
    return (await this.#list(selector, limit)).items;
  }

  async setPodCondition(namespace: string, name: string, condition: PodCondition): Promise<WriteResult> {
    try {
      await this.#client.call(`set condition ${condition.type} on pod ${namespace}/${name}`, (o) =>
        this.#client.core.patchNamespacedPodStatus(
          { namespace, name, body: { status: { conditions: [condition] } } },
          setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch, o),
        ),
      );
      return 'changed';
    } catch (err) {
      if (httpStatus(err) === 404) return 'unchanged';
      throw err;
    }
  }

  async watchOnNode(nodeName: string, handlers: ReflectorHandlers<Pod>): Promise<Reflector<Pod>> {
    return this.watch(handlers, { fieldSelector: `spec.nodeName=${nodeName}` });
  }

  /** Watches pods in every namespace matching the selectors. */
  async watch(handlers: ReflectorHandlers<Pod>, selector: PodSelector = {}): Promise<Reflector<Pod>> {
    const params: Record<string, string> = { ...selector };
    const transport = this.#client.transport<Pod>('/api/v1/pods', params);
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async #list(selector: PodSelector, limit?: number): Promise<{ items: Pod[]; resourceVersion: string }> {
    const what = `list pods${selector.fieldSelector ? ` (${selector.fieldSelector})` : ''}`;
    const list = await this.#client.call(what, (o) =>
      this.#client.core.listPodForAllNamespaces(
        { ...selector, ...(limit !== undefined ? { limit } : {}) },
        o,
      ),
    );
    return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
  }
}
