/**
 * The Services every cluster has and netwarden probes through: `default/kubernetes` (the API
 * server's ClusterIP and, in its EndpointSlices, the API server endpoints) and `kube-system/kube-dns`
 * (the cluster DNS Service IP). Pure lookups in the informer's view.
 */
import type { EndpointSlice, Service } from './objects.ts';

/** The `default/kubernetes` Service's ClusterIP and port, from the informer's view. */
export function kubernetesService(services: readonly Service[]): { ip: string; port: number } | undefined {
  const svc = services.find((s) => s.metadata?.namespace === 'default' && s.metadata?.name === 'kubernetes');
  const ip = svc?.spec?.clusterIP;
  const port = svc?.spec?.ports?.[0]?.port;
  return ip && port ? { ip, port } : undefined;
}

/** The API server endpoints (the `kubernetes` Service's EndpointSlices). */
export function apiEndpoints(slices: readonly EndpointSlice[]): { ip: string; port: number }[] {
  return slices
    .filter(
      (s) =>
        s.metadata?.namespace === 'default' &&
        s.metadata?.labels?.['kubernetes.io/service-name'] === 'kubernetes',
    )
    .flatMap((s) => {
      const port = s.ports?.[0]?.port;
      return port ? (s.endpoints ?? []).flatMap((e) => e.addresses.map((ip) => ({ ip, port }))) : [];
    });
}

/** The kube-dns Service IP, from the informer's view. */
export function clusterDnsIp(services: readonly Service[]): string | undefined {
  return services.find((s) => s.metadata?.namespace === 'kube-system' && s.metadata?.name === 'kube-dns')
    ?.spec?.clusterIP;
}
