/**
 * The explicit list of the agent's checks, built from its configuration. Adding a check means
 * adding it here; nothing registers itself on import.
 */

import { apiDirectCheck, apiViaServiceCheck } from '../checks/api.ts';
import type { Check } from '../checks/check.ts';
import { cniCheck } from '../checks/cni.ts';
import { clusterDnsCheck } from '../checks/dns.ts';
import { kubeProxyRulesCheck } from '../checks/kube-proxy-rules.ts';
import { kubeProxySyncCheck } from '../checks/kube-proxy-sync.ts';
import { queryA } from '../host/dns.ts';
import type { AgentConfig } from './config.ts';

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
