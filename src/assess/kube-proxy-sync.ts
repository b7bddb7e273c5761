/**
 * Has kube-proxy synced? Judged from its own metrics (`kubeproxy_sync_proxy_rules_*`) and its
 * /healthz body. A 200 from /healthz alone proves nothing (kube-proxy is healthy while it starts),
 * so the metrics decide; an unhealthy /healthz body is critical on its own.
 */
import type { Finding } from '../core/findings.ts';
import type { KubeProxyHealthz } from '../sources/kube-proxy-healthz.ts';
import type { KubeProxyMetrics } from '../sources/kube-proxy-metrics.ts';

/** Thresholds of the sync assessment. */
export interface SyncAssessOptions {
  /** Seconds since the epoch at which the metrics were read. */
  readonly nowSeconds: number;
  /** Boot time of the node (seconds since the epoch), when known: a sync must be after it. */
  readonly bootSeconds?: number;
  /** A queued change older than this without a sync means "hung" (default 120 s, 2× a 1 m syncPeriod). */
  readonly maxQueueLagSeconds?: number;
}

/** `kube-proxy-not-synced` findings from the metrics (none when kube-proxy looks synced). */
export function assessKubeProxySync(m: KubeProxyMetrics, opts: SyncAssessOptions): Finding[] {
  const findings: Finding[] = [];
  const lag = opts.maxQueueLagSeconds ?? 120;
  const evidence: string[] = [];
  const families = new Set([...Object.keys(m.lastSyncSeconds), ...Object.keys(m.lastQueuedSeconds)]);
  for (const fam of families) {
    const last = m.lastSyncSeconds[fam];
    const queued = m.lastQueuedSeconds[fam];
    const label = fam ? `{ip_family="${fam}"}` : '';
    if (last === undefined || last === 0)
      evidence.push(
        `kubeproxy_sync_proxy_rules_last_timestamp_seconds${label} is ${last ?? 'absent'}: no successful sync`,
      );
    else if (opts.bootSeconds !== undefined && last < opts.bootSeconds)
      evidence.push(
        `last successful sync ${new Date(last * 1000).toISOString()} is before boot ${new Date(opts.bootSeconds * 1000).toISOString()}`,
      );
    else if (queued !== undefined && queued - last > lag && opts.nowSeconds - queued > lag)
      evidence.push(
        `change queued at ${new Date(queued * 1000).toISOString()} not synced (last sync ${new Date(last * 1000).toISOString()})`,
      );
  }
  if (m.restoreFailures !== undefined && m.restoreFailures > 0)
    evidence.push(`kubeproxy_sync_proxy_rules_iptables_restore_failures_total = ${m.restoreFailures}`);
  if (evidence.length > 0) {
    findings.push({
      code: 'kube-proxy-not-synced',
      severity: evidence.every((e) =>
        e.startsWith('kubeproxy_sync_proxy_rules_iptables_restore_failures_total'),
      )
        ? 'warning'
        : 'critical',
      title: 'kube-proxy has not completed a recent sync of its rules',
      evidence,
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Read the kube-proxy logs on this node ("Sync failed", iptables-restore errors, API errors); fix the cause and restart kube-proxy. Pods started before the first good sync need recycling.',
    });
  }
  return findings;
}

/** `kube-proxy-not-synced` when kube-proxy's /healthz body says it is unhealthy. */
export function assessKubeProxyHealthz(h: KubeProxyHealthz, body: string): Finding[] {
  if (h.healthy !== false && !Object.values(h.families).some((f) => f.healthy === false)) return [];
  return [
    {
      code: 'kube-proxy-not-synced',
      severity: 'critical',
      title: 'kube-proxy reports itself unhealthy (a queued update was not applied in time)',
      evidence: [body.trim().slice(0, 500)],
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Read the kube-proxy logs on this node for sync errors and restart it.',
    },
  ];
}
