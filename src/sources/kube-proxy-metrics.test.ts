import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { assessKubeProxySync } from '../assess/kube-proxy-sync.ts';
import { kubeProxyMetrics, parsePrometheusText } from './kube-proxy-metrics.ts';

const OLD = `# HELP kubeproxy_sync_proxy_rules_last_timestamp_seconds [ALPHA] The last time proxy rules were successfully synced
# TYPE kubeproxy_sync_proxy_rules_last_timestamp_seconds gauge
kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7e+09
kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds 1.7e+09
kubeproxy_sync_proxy_rules_iptables_total{table="nat"} 230012
kubeproxy_sync_proxy_rules_iptables_restore_failures_total 0
kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="+Inf"} 12
`;
const NEW = `kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 0
kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds{ip_family="IPv4"} 1700000100
kubeproxy_sync_proxy_rules_iptables_restore_failures_total{ip_family="IPv4"} 3
`;

describe('parsePrometheusText', () => {
  it('reads samples, labels with escapes, +Inf, and skips comments', () => {
    const { samples, warnings } = parsePrometheusText(
      `${OLD}x{a="b\\"c",d="e"} +Inf 1700000000000\nnot a sample line at all ~\n`,
    );
    expect(warnings).toHaveLength(1);
    expect(samples.find((s) => s.name === 'x')).toEqual({
      name: 'x',
      labels: { a: 'b"c', d: 'e' },
      value: Infinity,
    });
    expect(samples.find((s) => s.name === 'kubeproxy_sync_proxy_rules_iptables_total')?.labels.table).toBe(
      'nat',
    );
  });

  it('never throws (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 500 }), (t) => void parsePrometheusText(t)),
      { numRuns: 300 },
    );
  });
});

describe('kube-proxy sync assessment', () => {
  it('is quiet for a recent sync (no ip_family label, older releases)', () => {
    const m = kubeProxyMetrics(parsePrometheusText(OLD).samples);
    expect(m.lastSyncSeconds['']).toBe(1.7e9);
    expect(m.iptablesRules.nat).toBe(230012);
    expect(assessKubeProxySync(m, { nowSeconds: 1.7e9 + 30 })).toEqual([]);
  });

  it.each([
    ['never synced (ip_family label)', NEW, { nowSeconds: 1700000200 }, 'critical'],
    ['synced before boot', OLD, { nowSeconds: 1.7e9 + 30, bootSeconds: 1.7e9 + 10 }, 'critical'],
    [
      'queued change not applied',
      OLD.replace('queued_timestamp_seconds 1.7e+09', 'queued_timestamp_seconds 1700000500'),
      { nowSeconds: 1700001000 },
      'critical',
    ],
    [
      'restore failures only',
      OLD.replace('failures_total 0', 'failures_total 2'),
      { nowSeconds: 1.7e9 + 30 },
      'warning',
    ],
  ])('%s', (_n, text, opts, severity) => {
    const f = assessKubeProxySync(kubeProxyMetrics(parsePrometheusText(text).samples), opts);
    expect(f.map((x) => [x.code, x.severity])).toEqual([['kube-proxy-not-synced', severity]]);
  });
});
