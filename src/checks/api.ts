/**
 * Checks `api-via-service` and `api-direct`: a TCP connect from the node to the `kubernetes`
 * Service's ClusterIP (through kube-proxy's rules) and to the API server endpoint itself. "Direct
 * works, ClusterIP fails" points at kube-proxy; both failing points at the network or the API.
 */
import { apiEndpoints, kubernetesService } from '../core/well-known-services.ts';
import type { Check, CheckContext } from './check.ts';

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
