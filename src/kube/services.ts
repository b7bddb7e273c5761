/**
 * Services and EndpointSlices of the whole cluster, watched: the expected side of kube-proxy's
 * rules. With kube-proxy's own selectors, so netwarden receives exactly what kube-proxy receives
 * and nothing it would skip anyway: no headless Services or their slices, no Services another
 * proxy serves (`service.kubernetes.io/service-proxy-name`).
 */
import type { KubeClient } from './client.ts';
import { decodeEndpointSliceWatchEvent, decodeServiceWatchEvent } from './proto-services.ts';
import type { EndpointSlice, Service } from './types.ts';
import { Reflector, type ReflectorHandlers, type WatchEncoding } from './watch.ts';

/** kube-proxy's Service selectors (cmd/kube-proxy/app/server.go). */
const SERVICE_SELECTORS = {
  labelSelector: '!service.kubernetes.io/service-proxy-name',
  fieldSelector: 'spec.clusterIP!=None',
};
/** kube-proxy's EndpointSlice selector. */
const SLICE_SELECTORS = { labelSelector: '!service.kubernetes.io/headless' };

/**
 * Watches of the objects kube-proxy programs from. A test drives handlers directly instead. The
 * watches speak protobuf (proto-services.ts), as kube-proxy does; `encoding: 'json'` reads them as
 * JSON (the parity test compares the two). Lists are JSON either way (once, page by page).
 */
export interface ServiceWatchApi {
  watchServices(
    handlers: ReflectorHandlers<Service>,
    opts?: { encoding?: WatchEncoding },
  ): Promise<Reflector<Service>>;
  watchEndpointSlices(
    handlers: ReflectorHandlers<EndpointSlice>,
    opts?: { encoding?: WatchEncoding },
  ): Promise<Reflector<EndpointSlice>>;
}

/** ServiceWatchApi over a real API server. */
export class KubeServiceWatchApi implements ServiceWatchApi {
  readonly #client: KubeClient;

  constructor(client: KubeClient) {
    this.#client = client;
  }

  async watchServices(
    handlers: ReflectorHandlers<Service>,
    opts: { encoding?: WatchEncoding } = {},
  ): Promise<Reflector<Service>> {
    const transport = this.#client.transport<Service>(
      '/api/v1/services',
      SERVICE_SELECTORS,
      opts.encoding === 'json' ? {} : { protobuf: decodeServiceWatchEvent },
    );
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }

  async watchEndpointSlices(
    handlers: ReflectorHandlers<EndpointSlice>,
    opts: { encoding?: WatchEncoding } = {},
  ): Promise<Reflector<EndpointSlice>> {
    const transport = this.#client.transport<EndpointSlice>(
      '/apis/discovery.k8s.io/v1/endpointslices',
      SLICE_SELECTORS,
      opts.encoding === 'json' ? {} : { protobuf: decodeEndpointSliceWatchEvent },
    );
    const reflector = new Reflector(transport, handlers);
    await reflector.start();
    return reflector;
  }
}
