/**
 * Prometheus text-format parser and the kube-proxy sync metrics read from it
 * (`kubeproxy_sync_proxy_rules_last_timestamp_seconds` and friends, with or without `ip_family`).
 */
import type { ParseWarning } from '../netfilter/iptables-save.ts';

/** One sample. */
export interface PromSample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+-?\d+)?\s*$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Parses Prometheus exposition text; bad lines are warnings. */
export function parsePrometheusText(
  text: string,
  maxSamples = 1_000_000,
): { samples: PromSample[]; warnings: ParseWarning[] } {
  const samples: PromSample[] = [];
  const warnings: ParseWarning[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && samples.length < maxSamples; i++) {
    const line = (lines[i] as string).trim();
    if (line.length === 0 || line.startsWith('#')) continue;
    if (line.length > 16_384) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'line too long' });
      continue;
    }
    const m = SAMPLE.exec(line);
    const raw = m?.[4];
    const value =
      raw === undefined ? Number.NaN : raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
    if (!m || (Number.isNaN(value) && raw !== 'NaN')) {
      if (warnings.length < 50) warnings.push({ line: i + 1, message: 'not a Prometheus sample' });
      continue;
    }
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? '').matchAll(LABEL))
      labels[l[1] as string] = (l[2] as string).replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c));
    samples.push({ name: m[1] as string, labels, value });
  }
  return { samples, warnings };
}

/** The kube-proxy sync metrics (per `ip_family` when labelled, else key `''`). */
export interface KubeProxyMetrics {
  readonly lastSyncSeconds: Readonly<Record<string, number>>;
  readonly lastQueuedSeconds: Readonly<Record<string, number>>;
  readonly restoreFailures?: number;
  readonly iptablesRules: Readonly<Record<string, number>>;
  readonly present: boolean;
}

/** Extracts kube-proxy metrics from samples. */
export function kubeProxyMetrics(samples: readonly PromSample[]): KubeProxyMetrics {
  const lastSync: Record<string, number> = {};
  const lastQueued: Record<string, number> = {};
  const rules: Record<string, number> = {};
  let failures: number | undefined;
  let present = false;
  for (const s of samples) {
    if (!s.name.startsWith('kubeproxy_')) continue;
    present = true;
    const fam = s.labels.ip_family ?? '';
    if (s.name === 'kubeproxy_sync_proxy_rules_last_timestamp_seconds') lastSync[fam] = s.value;
    else if (s.name === 'kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds') lastQueued[fam] = s.value;
    else if (s.name === 'kubeproxy_sync_proxy_rules_iptables_restore_failures_total')
      failures = (failures ?? 0) + s.value;
    else if (s.name === 'kubeproxy_sync_proxy_rules_iptables_total')
      rules[`${s.labels.table ?? ''}${fam ? `/${fam}` : ''}`] = s.value;
  }
  return {
    lastSyncSeconds: lastSync,
    lastQueuedSeconds: lastQueued,
    ...(failures !== undefined ? { restoreFailures: failures } : {}),
    iptablesRules: rules,
    present,
  };
}
