/**
 * What the lab sees of a node's data path from outside, through the same readers and the same
 * judgement the agent and the doctor use (collect/, assess/): whether kube-proxy serves the node
 * as the cluster says it should. Used to know when a node is really ready and to time the data
 * path in scenarios.
 */
import { assessKubeProxy, type KubeProxyAssessment } from '../assess/kube-proxy.ts';
import type { NodeIo } from '../collect/io.ts';
import { readIptablesDumps, readNftKubeProxy } from '../collect/kube-proxy.ts';
import type { Finding } from '../core/findings.ts';
import type { EndpointSlice, Pod, Service } from '../core/objects.ts';
import { run } from '../host/exec.ts';
import type { KubeObjectLister } from '../kube/objects.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';

/** Services, EndpointSlices and Pods as the API has them now. */
export async function clusterState(objects: KubeObjectLister): Promise<ClusterState> {
  const [services, endpointSlices, pods] = await Promise.all([
    objects.list<Service>('v1', 'Service'),
    objects.list<EndpointSlice>('discovery.k8s.io/v1', 'EndpointSlice'),
    objects.list<Pod>('v1', 'Pod'),
  ]);
  return { services, endpointSlices, pods };
}

/** A node's programs, run inside its network namespace (no HTTP or files: the lab reads rules only). */
export function netnsIo(netns: string): NodeIo {
  return {
    exec: (cmd, args, opts) => run('ip', ['netns', 'exec', netns, cmd, ...args], opts),
    httpGet: async () => ({ ok: false, error: 'not read by the lab observer', durationMs: 0 }),
    readDir: async () => {
      throw Object.assign(new Error('not read by the lab observer'), { code: 'EACCES' });
    },
  };
}

/** The shared judgement of kube-proxy on a lab node (kube-proxy is always expected in the lab). */
export async function observeKubeProxy(
  netns: string,
  mode: 'iptables' | 'nftables',
  cluster: ClusterState,
  nodeName: string,
): Promise<KubeProxyAssessment> {
  const io = netnsIo(netns);
  const rules =
    mode === 'nftables'
      ? { nft: await readNftKubeProxy(io, 20_000) }
      : await readIptablesDumps(io, 'auto', 20_000);
  return assessKubeProxy(
    { reportedMode: mode, ...rules },
    {
      expected: expectedServicePorts(cluster, { nodeName }),
      expectation: { expected: 'yes', evidence: 'the lab runs kube-proxy on every node' },
      nowSeconds: Date.now() / 1000,
    },
  );
}

/**
 * What is wrong with a node's kube-proxy rules compared with the cluster (critical and warning
 * findings of the shared judgement; a read that failed is reported as one). Empty means every
 * Service port is programmed as kube-proxy would: the node's service data path is complete.
 */
export async function kubeProxyProblems(
  netns: string,
  mode: 'iptables' | 'nftables',
  cluster: ClusterState,
  nodeName: string,
): Promise<Finding[]> {
  const a = await observeKubeProxy(netns, mode, cluster, nodeName);
  if (a.status === 'ok') return a.findings.filter((f) => f.severity !== 'info');
  const problems = a.findings.filter((f) => f.severity !== 'info');
  return problems.length > 0
    ? problems
    : [
        {
          code: 'kube-proxy-rules-missing',
          severity: 'critical',
          title: `kube-proxy not judged ok: ${a.reason}: ${a.message}`,
          evidence: [],
          subjects: [],
          fix: 'start kube-proxy on this node and check its log',
        },
      ];
}
