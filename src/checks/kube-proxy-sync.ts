/**
 * Check `kube-proxy-sync`: kube-proxy has completed a sync since it started (its metrics). A 200
 * from /healthz alone proves nothing (it is healthy while starting: see the reference), so this
 * reads `kubeproxy_sync_proxy_rules_last_timestamp_seconds`. Connection refused means kube-proxy
 * is not running: Failing, not Unknown.
 */

import { assessKubeProxySync, kubeProxyMetrics, parsePrometheusText } from '../sources/kube-proxy-metrics.ts';
import type { Check } from './check.ts';
import { camelReason, fromFindings } from './check.ts';

/** The check, reading `metricsUrl`. */
export function kubeProxySyncCheck(metricsUrl: string): Check {
  return {
    name: 'kube-proxy-sync',
    gating: true,
    async run(ctx) {
      const res = await ctx.httpGet(metricsUrl, { timeoutMs: Math.min(ctx.timeoutMs, 5_000) });
      if (!res.ok) {
        if (/ECONNREFUSED/.test(res.error)) {
          return {
            status: 'Failing',
            reason: 'KubeProxyNotRunning',
            message: `kube-proxy metrics ${metricsUrl}: connection refused`,
          };
        }
        return {
          status: 'Unknown',
          reason: 'KubeProxyMetricsUnreachable',
          message: `${metricsUrl}: ${res.error}`,
        };
      }
      if (res.status !== 200)
        return {
          status: 'Unknown',
          reason: 'KubeProxyMetricsUnreachable',
          message: `${metricsUrl}: HTTP ${res.status}`,
        };
      const metrics = kubeProxyMetrics(parsePrometheusText(res.body).samples);
      if (!metrics.present)
        return {
          status: 'Unknown',
          reason: 'KubeProxyMetricsMissing',
          message: `${metricsUrl} has no kubeproxy_sync_* metrics`,
        };
      const findings = assessKubeProxySync(metrics, { nowSeconds: ctx.nowMs() / 1000 });
      return fromFindings(
        findings,
        { reason: 'KubeProxySynced', message: 'kube-proxy has synced its rules' },
        (f) => camelReason(f.code),
      );
    },
  };
}
