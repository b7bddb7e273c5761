/** One call that turns a kubeconfig into every API netwarden uses. */
import { type Clock, systemClock } from '../core/clock.ts';
import { KubeClient } from './client.ts';
import { type LoadKubeConfigOptions, loadKubeConfig } from './config.ts';
import { KubeEventApi } from './events.ts';
import { KubeEvictionApi } from './eviction.ts';
import { KubeNodeApi } from './nodes.ts';
import { ObjectApi } from './objects.ts';
import { KubePodApi } from './pods.ts';
import { KubeServiceWatchApi } from './services.ts';

/** The APIs for one identity. */
export interface KubeApis {
  readonly server: string;
  readonly nodes: KubeNodeApi;
  readonly pods: KubePodApi;
  readonly eviction: KubeEvictionApi;
  readonly events: KubeEventApi;
  readonly objects: ObjectApi;
  readonly services: KubeServiceWatchApi;
}

/** Loads the kubeconfig (see loadKubeConfig) and builds the APIs; events are reported as `controller`. */
export function connect(
  opts: LoadKubeConfigOptions & { controller?: string; instance?: string; clock?: Clock } = {},
): KubeApis {
  const client = new KubeClient(loadKubeConfig(opts));
  const clock = opts.clock ?? systemClock;
  return {
    server: client.server,
    nodes: new KubeNodeApi(client, clock),
    pods: new KubePodApi(client),
    eviction: new KubeEvictionApi(client),
    events: new KubeEventApi(
      client,
      opts.controller ?? 'netwarden.dev/netwarden',
      opts.instance ?? 'netwarden',
      clock,
    ),
    objects: new ObjectApi(client),
    services: new KubeServiceWatchApi(client),
  };
}
