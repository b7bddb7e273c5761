/**
 * Should kube-proxy serve this node? Decided from evidence, never guessed: a cluster without
 * kube-proxy (Cilium's kube-proxy replacement and similar) has no kube-proxy rules by design, and
 * judging its nodes by kube-proxy's rules would hold every one of them forever.
 *
 * Evidence, strongest first:
 * 1. the operator's setting (`--kube-proxy expected|absent`);
 * 2. a kube-proxy pod bound to this node (the kubelet recreates it after a reboot, so on a
 *    rebooted node it is there before its rules are);
 * 3. kube-proxy answering on this node (its metrics port), or its rules in this boot's kernel;
 * 4. kube-proxy pods on other nodes, while this node is young enough for the DaemonSet controller
 *    not to have bound one here yet (a node that has long existed without one is excluded by the
 *    DaemonSet's node selector: kube-proxy is not expected here);
 * 5. otherwise kube-proxy is absent by design.
 * Without a view of the cluster's pods the answer is `unknown` unless 1 or 3 decide it.
 */
import { isKubeProxyPod } from '../core/components.ts';
import type { Pod } from '../core/objects.ts';
import { timeMs } from '../core/objects.ts';

/** The operator's setting: judge automatically, or take kube-proxy as expected/absent. */
export type KubeProxySetting = 'auto' | 'expected' | 'absent';

/** What is known about kube-proxy pods and this node. */
export interface KubeProxyPresenceInput {
  readonly setting: KubeProxySetting;
  readonly nodeName: string | undefined;
  /** The cluster's pods that may be kube-proxy (any superset is fine); undefined = not looked up. */
  readonly pods: readonly Pod[] | undefined;
  /** When this node's Node object was created (epoch ms), if known. */
  readonly nodeCreatedMs?: number;
  readonly nowMs: number;
  /** kube-proxy answered on this node (metrics/healthz), or its rules exist in this boot's kernel. */
  readonly seenOnNode?: string;
}

/** The answer, with the one line of evidence it rests on. */
export interface KubeProxyExpectation {
  readonly expected: 'yes' | 'no' | 'unknown';
  readonly evidence: string;
}

/** How long after a Node is created the DaemonSet controller may take to bind a kube-proxy pod to it. */
export const NEW_NODE_GRACE_MS = 10 * 60_000;

/** Label selector that finds kube-proxy pods in kubeadm, EKS, GKE and kops clusters. */
export const KUBE_PROXY_LABEL_SELECTOR = 'k8s-app=kube-proxy';

/** Decides whether kube-proxy should serve this node. */
export function kubeProxyExpectation(input: KubeProxyPresenceInput): KubeProxyExpectation {
  if (input.setting === 'expected')
    return { expected: 'yes', evidence: 'kube-proxy is expected by configuration' };
  if (input.setting === 'absent')
    return { expected: 'no', evidence: 'kube-proxy is absent by configuration' };
  const live = (input.pods ?? []).filter(
    (p) =>
      isKubeProxyPod(p) &&
      p.status?.phase !== 'Succeeded' &&
      p.status?.phase !== 'Failed' &&
      !p.metadata?.deletionTimestamp,
  );
  const here = live.find((p) => input.nodeName !== undefined && p.spec?.nodeName === input.nodeName);
  if (here)
    return {
      expected: 'yes',
      evidence: `kube-proxy pod ${here.metadata?.namespace}/${here.metadata?.name} is bound to this node`,
    };
  if (input.seenOnNode) return { expected: 'yes', evidence: input.seenOnNode };
  if (input.pods === undefined)
    return {
      expected: 'unknown',
      evidence: 'no view of the cluster pods: cannot tell whether kube-proxy runs here',
    };
  const elsewhere = live.filter((p) => p.spec?.nodeName);
  if (elsewhere.length === 0)
    return {
      expected: 'no',
      evidence: 'no kube-proxy pod anywhere in the cluster (kube-proxy replacement or no Service proxy)',
    };
  const example = `${elsewhere[0]?.metadata?.name} on ${elsewhere[0]?.spec?.nodeName}`;
  const age = input.nodeCreatedMs !== undefined ? input.nowMs - input.nodeCreatedMs : undefined;
  if (age !== undefined && age > NEW_NODE_GRACE_MS)
    return {
      expected: 'no',
      evidence: `kube-proxy runs on ${elsewhere.length} other node(s) (e.g. ${example}) but none is bound to this node, which exists for ${Math.round(age / 60_000)} min: excluded by its DaemonSet`,
    };
  return {
    expected: 'yes',
    evidence: `kube-proxy runs on ${elsewhere.length} other node(s) (e.g. ${example}) and this node is new`,
  };
}

/** The creation time of a Node, for {@link KubeProxyPresenceInput.nodeCreatedMs}. */
export function nodeCreatedMs(node: { metadata?: { creationTimestamp?: Date | string } } | undefined) {
  return timeMs(node?.metadata?.creationTimestamp);
}
