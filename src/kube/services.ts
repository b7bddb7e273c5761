/** Services and EndpointSlices of the whole cluster, watched: the expected side of kube-proxy's rules. */
import type { KubeClient } from './client.ts';
import type { EndpointSlice, Service } from './types.ts';
import { Reflector, type ReflectorHandlers } from './watch.ts';

/** Watches of the objects kube-proxy programs from. A test drives handlers directly instead. */
export interface ServiceWatchApi {
  watchServices(handlers: ReflectorHandlers<Service>): Promise<Reflector<Service>>;
  watchEndpointSlices(handlers: ReflectorHandlers<EndpointSlice>): Promise<Reflector<EndpointSlice>>;
}

/** ServiceWatchApi over a real API server. */
export class KubeServiceWatchApi implements ServiceWatchApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async watchServices(handlers: ReflectorHandlers<Service>): Promise<Reflector<Service>> {
    const transport = this.#client.transport<Service>('/api/v1/services', async () => {
      const list = await this.#client.call('list services', (o) =>
        this.#client.core.listServiceForAllNamespaces({}, o),
      );
      return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
    });
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async watchEndpointSlices(handlers: ReflectorHandlers<EndpointSlice>): Promise<Reflector<EndpointSlice>> {
    const transport = this.#client.transport<EndpointSlice>(
      '/apis/discovery.k8s.io/v1/endpointslices',
      async () => {
        const list = await this.#client.call('list endpointslices', (o) =>
          this.#client.discovery.listEndpointSliceForAllNamespaces({}, o),
        );
        return { items: list.items, resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
    );
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }
}
