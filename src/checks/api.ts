/**
 * Checks `api-via-service` and `api-direct`: a TCP connect from the node to the `kubernetes`
 * Service's ClusterIP (through kube-proxy's rules) and to the API server endpoint itself. "Direct
 * works, ClusterIP fails" points at kube-proxy; both failing points at the network or the API.
 */
import type { EndpointSlice, Service } from '../kube/types.ts';
import type { Check, CheckContext } from './check.ts';

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

/**
 * A connect that started before kube-proxy's DNAT rule existed keeps its un-NATed conntrack entry:
 * its SYN retransmits can never succeed. A short deadline (a healthy connect takes milliseconds)
 * lets the next round try with a fresh connection instead of waiting out the retransmits.
 */
const CONNECT_TIMEOUT_MS = 1_000;

async function connect(ctx: CheckContext, ip: string, port: number): Promise<{ ok: boolean; text: string }> {
  const r = await ctx.tcp(ip, port, Math.min(ctx.timeoutMs, CONNECT_TIMEOUT_MS));
  return r.ok
    ? { ok: true, text: `connected to ${ip}:${port} in ${Math.round(r.ms)} ms` }
    : { ok: false, text: `${ip}:${port}: ${r.error}` };
}

/** TCP from the node to the `kubernetes` Service ClusterIP. */
export const apiViaServiceCheck: Check = {
  name: 'api-via-service',
  gating: true,
  async run(ctx) {
    const target = kubernetesService(ctx.cluster().services);
    if (!target)
      return {
        status: 'Unknown',
        reason: 'KubernetesServiceUnknown',
        message: 'the default/kubernetes Service is not known yet',
      };
    const r = await connect(ctx, target.ip, target.port);
    return r.ok
      ? { status: 'Ok', reason: 'ApiReachableViaService', message: r.text }
      : { status: 'Failing', reason: 'ApiUnreachableViaService', message: `kubernetes Service ${r.text}` };
  },
};

/** TCP from the node straight to an API server endpoint (any one answering is enough). */
export const apiDirectCheck: Check = {
  name: 'api-direct',
  gating: true,
  async run(ctx) {
    const endpoints = apiEndpoints(ctx.cluster().endpointSlices);
    if (endpoints.length === 0)
      return {
        status: 'Unknown',
        reason: 'ApiEndpointsUnknown',
        message: 'no EndpointSlice of default/kubernetes yet',
      };
    const tried: string[] = [];
    for (const e of endpoints.slice(0, 3)) {
      const r = await connect(ctx, e.ip, e.port);
      if (r.ok) return { status: 'Ok', reason: 'ApiReachableDirect', message: r.text };
      tried.push(r.text);
    }
    return {
      status: 'Failing',
      reason: 'ApiUnreachableDirect',
      message: `API endpoints unreachable: ${tried.join('; ')}`,
    };
  },
};
