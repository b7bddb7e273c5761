/**
 * Check `cluster-dns` (advisory: never gates — at a full-cluster restart the DNS pods may
 * themselves wait for gated nodes): an A query for kubernetes.default.svc.<domain> sent from the
 * node to the cluster DNS Service IP.
 */
import { clusterDnsIp } from '../core/well-known-services.ts';
import type { Check } from './check.ts';

/** The check; `query` sends one DNS A query and returns the first address (or throws). */
export function clusterDnsCheck(
  query: (server: string, name: string, timeoutMs: number) => Promise<string>,
  domain = 'cluster.local',
): Check {
  return {
    name: 'cluster-dns',
    gating: false,
    async run(ctx) {
      const server = clusterDnsIp(ctx.cluster().services);
      if (!server)
        return { status: 'Unknown', reason: 'ClusterDnsUnknown', message: 'no kube-system/kube-dns Service' };
      const name = `kubernetes.default.svc.${domain}`;
      try {
        const addr = await query(server, name, Math.min(ctx.timeoutMs, 3_000));
        return { status: 'Ok', reason: 'ClusterDnsAnswers', message: `${name} -> ${addr} via ${server}` };
      } catch (err) {
        return {
          status: 'Failing',
          reason: 'ClusterDnsNotAnswering',
          message: `${name} via ${server}: ${err instanceof Error ? err.message : String(err)}`,
        };
      }
    },
  };
}
