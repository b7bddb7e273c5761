/**
 * The explicit list of the agent's checks, built from its configuration. Adding a check means
 * adding it here; nothing registers itself on import.
 */
import type { AgentConfig } from '../agent/config.ts';
import { queryA } from '../host/dns.ts';
import { apiDirectCheck, apiViaServiceCheck } from './api/check.ts';
import type { Check } from './check.ts';
import { cniCheck } from './cni/check.ts';
import { clusterDnsCheck } from './dns/check.ts';
import { kubeProxyRulesCheck } from './kube-proxy/rules-check.ts';
import { kubeProxySyncCheck } from './kube-proxy/sync-check.ts';

/** The checks the agent runs each round, in order. */
export function agentChecks(cfg: AgentConfig): Check[] {
  const checks: Check[] = [
    kubeProxyRulesCheck({
      proxyMode: cfg.proxyMode,
      iptablesSave: cfg.iptablesSave,
      kubeProxyMetrics: cfg.kubeProxyMetrics,
    }),
    kubeProxySyncCheck(cfg.kubeProxyMetrics),
    cniCheck(cfg.cniConfDir, cfg.ipamdUrl, cfg.cniHealthUrl),
    apiViaServiceCheck,
    apiDirectCheck,
  ];
  if (cfg.clusterDnsCheck) checks.push(clusterDnsCheck(queryA));
  return checks;
}
