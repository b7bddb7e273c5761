/**
 * What the lab can see from outside a node or pod: whether kube-proxy's rules cover every
 * Service, and DNS / TCP probes run from inside a pod's network namespace. Used by scenarios to
 * time the data path; netwarden itself does its own verification (src/checks).
 */

import type { Finding } from '../doctor/findings.ts';
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

/** Result of one probe from inside a pod. */
export interface ProbeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/**
 * Resolves `name` with the pod's resolv.conf (cluster DNS), from inside its namespace. Allows
 * 15 s: glibc retries a lost query after 5 s, and the first UDP query through a fresh DNAT is
 * sometimes lost (the well-known conntrack race of parallel A/AAAA queries).
 */
export async function probeDns(podNetns: string, name: string): Promise<ProbeResult> {
  const t0 = performance.now();
  const res = await run('ip', ['netns', 'exec', podNetns, 'timeout', '15', 'getent', 'hosts', name], {
    timeoutMs: 18_000,
  });
  const ms = Math.round(performance.now() - t0);
  const answer = res.stdout.trim().split(/\s+/)[0];
  return res.code === 0 && answer
    ? { ok: true, detail: `${name} -> ${answer} in ${ms} ms` }
    : { ok: false, detail: `${name}: no answer after ${ms} ms (exit ${res.code})` };
}

/** Opens a TCP connection to ip:port from inside the pod's namespace. */
export async function probeTcp(
  podNetns: string,
  ip: string,
  port: number,
  timeoutS = 3,
): Promise<ProbeResult> {
  const res = await run(
    'ip',
    ['netns', 'exec', podNetns, 'timeout', String(timeoutS), 'bash', '-c', `exec 3<>/dev/tcp/${ip}/${port}`],
    { timeoutMs: (timeoutS + 3) * 1000 },
  );
  if (res.code === 0) return { ok: true, detail: `connected to ${ip}:${port}` };
  const why =
    res.code === 124
      ? `timed out after ${timeoutS} s`
      : res.stderr.trim().split(':').slice(-1)[0]?.trim() || `exit ${res.code}`;
  return { ok: false, detail: `connect ${ip}:${port}: ${why}` };
}
