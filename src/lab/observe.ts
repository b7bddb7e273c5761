/**
 * What the lab sees of a node's data path from outside: whether kube-proxy's rules match the
 * cluster (the netfilter model's diff). Used to know when a node is really ready and to time the
 * data path in scenarios.
 */

import type { Finding } from '../core/findings.ts';
import { run } from '../host/exec.ts';
import type { KubeObjectLister } from '../kube/objects.ts';
import type { EndpointSlice, Pod, Service } from '../kube/types.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import {
  checkKubeProxyStructure,
  diffKubeProxy,
  type KubeProxyActual,
} from '../netfilter/diff-kube-proxy.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import { readIptablesState } from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from '../netfilter/nft.ts';

/** Services, EndpointSlices and Pods as the API has them now. */
export async function clusterState(objects: KubeObjectLister): Promise<ClusterState> {
  const [services, endpointSlices, pods] = await Promise.all([
    objects.list<Service>('v1', 'Service'),
    objects.list<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice'),
    objects.list<Pod>('v1', 'Pod'),
  ]);
  return { services, endpointSlices, pods };
}

/** Reads a node's kube-proxy rules (iptables-save of both tables, or the nftables table as JSON). */
export async function readKubeProxyState(
  netns: string,
  mode: 'iptables' | 'nftables',
): Promise<KubeProxyActual | undefined> {
  if (mode === 'nftables') {
    const res = await run('ip', ['netns', 'exec', netns, 'nft', '-j', 'list', 'table', 'ip', 'kube-proxy'], {
      timeoutMs: 20_000,
    });
    return res.code === 0 ? { mode, state: kubeProxyNftState(parseNftJson(res.stdout)) } : undefined;
  }
  const res = await run('ip', ['netns', 'exec', netns, 'iptables-save'], { timeoutMs: 20_000 });
  return res.code === 0 ? { mode, state: readIptablesState(res.stdout) } : undefined;
}

/**
 * What is wrong with a node's kube-proxy rules compared with the cluster (the netfilter model's
 * diff, critical and warning findings only). Empty means every Service port is programmed as
 * kube-proxy would: the node's service data path is complete.
 */
export async function kubeProxyProblems(
  netns: string,
  mode: 'iptables' | 'nftables',
  cluster: ClusterState,
  nodeName: string,
): Promise<Finding[]> {
  const actual = await readKubeProxyState(netns, mode);
  if (!actual)
    return [
      {
        code: 'kube-proxy-rules-missing',
        severity: 'critical',
        title: 'kube-proxy rules unreadable or absent',
        evidence: [],
        subjects: [],
        fix: 'start kube-proxy on this node and check its log',
      },
    ];
  const findings = [
    ...checkKubeProxyStructure(actual),
    ...diffKubeProxy(actual, expectedServicePorts(cluster, { nodeName })),
  ];
  return findings.filter((f) => f.severity !== 'info');
}
