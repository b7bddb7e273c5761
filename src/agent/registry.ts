/**
 * The explicit list of the agent's checks, built from its configuration. Adding a check means
 * writing it in src/checks/ and adding it here; nothing registers itself on import.
 */
import { apiDirectCheck, apiViaServiceCheck } from '../checks/api.ts';
import type { Check } from '../checks/check.ts';
import { cniCheck } from '../checks/cni.ts';
import { clusterDnsCheck } from '../checks/dns.ts';
import { kubeProxyCheck } from '../checks/kube-proxy.ts';
import { type PodNetworkCheck, podNetworkCheck } from '../checks/pod-network.ts';
import { queryA } from '../host/dns.ts';
import type { AgentConfig } from './config.ts';

/** The checks the agent runs each round, in order, and the pod check whose findings feed repair. */
export function agentChecks(cfg: AgentConfig): { checks: Check[]; podNetwork: PodNetworkCheck } {
  const podNetwork = podNetworkCheck({
    confDir: cfg.cniConfDir,
    ipamdUrl: cfg.ipamdUrl,
    iptablesSave: cfg.iptablesSave,
  });
  const checks: Check[] = [
    kubeProxyCheck({
      proxyMode: cfg.proxyMode,
      iptablesSave: cfg.iptablesSave,
      kubeProxyMetrics: cfg.kubeProxyMetrics,
      kubeProxy: cfg.kubeProxy,
    }),
    cniCheck({
      confDir: cfg.cniConfDir,
      ipamdUrl: cfg.ipamdUrl,
      healthUrl: cfg.cniHealthUrl,
      iptablesSave: cfg.iptablesSave,
    }),
    apiViaServiceCheck,
    apiDirectCheck,
    podNetwork,
  ];
  if (cfg.clusterDnsCheck) checks.push(clusterDnsCheck(queryA));
  return { checks, podNetwork };
}
