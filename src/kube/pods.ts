/** Pods bound to one node: list and watch by the `spec.nodeName` field selector. */
import { apiError, type KubeClient } from './client.ts';
import type { Pod } from './types.ts';
import { Reflector, type ReflectorHandlers } from './watch.ts';

/** Pods on a node. A fake lives in fake.ts. */
export interface PodApi {
  listOnNode(nodeName: string): Promise<Pod[]>;
  watchOnNode(nodeName: string, handlers: ReflectorHandlers<Pod>): Promise<Reflector<Pod>>;
}

/** PodApi over a real API server. */
export class KubePodApi implements PodApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async listOnNode(nodeName: string): Promise<Pod[]> {
    return (await this.#list(nodeName)).items;
  }

  async watchOnNode(nodeName: string, handlers: ReflectorHandlers<Pod>): Promise<Reflector<Pod>> {
    const transport = this.#client.transport<Pod>('/api/v1/pods', () => this.#list(nodeName), {
      fieldSelector: `spec.nodeName=${nodeName}`,
    });
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async #list(nodeName: string): Promise<{ items: Pod[]; resourceVersion: string }> {
    try {
      const list = await this.#client.core.listPodForAllNamespaces({
        fieldSelector: `spec.nodeName=${nodeName}`,
      });
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    } catch (err) {
      throw apiError(`list pods on node ${nodeName}`, err);
    }
  }
}
