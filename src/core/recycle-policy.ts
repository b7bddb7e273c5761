/**
 * Which pods on a node to recycle after its data path was verified: a pure function of the node's
 * pods, what netwarden knows about the node and each pod's network, and `now`.
 *
 * A pod is recycled when ALL hold:
 * 1. its network is suspect: it was set up on this boot before this boot's data path was verified
 *    (`PodReadyToStartContainers` True since before `datapath-ready-at`), OR its own per-pod
 *    kernel state is wrong now (a pod-route / pod-rule / Calico-chain finding names it);
 * 2. it is broken: a container waiting in CrashLoopBackOff, or containers not ready for longer
 *    than the grace period counted from when the data path became ready, or its own-netns probe
 *    fails on a target the node itself reaches;
 * 3. it may be recycled: not host-network, not static/mirror, not terminating or finished, not
 *    opted out (`netwarden.dev/recycle: "never"`), and controlled by a ReplicaSet, StatefulSet,
 *    DaemonSet or Job — other pods are reported, not recycled, unless `netwarden.dev/recycle:
 *    "always"`.
 * A pod that started early but is healthy is never recycled (it is `skip`/`Healthy`).
 *
 * Nothing is recycled while the node's data path is unverified on this boot (a replacement would
 * get its network too early as well) or while the node-level probe fails (the node is broken, not
 * the pod: recycling cannot help and the gate must stay closed).
 */

import { formatDuration } from './duration.ts';
import type { Finding, FindingCode } from './findings.ts';
import { BOOT_ID_ANNOTATION, READY_AT_ANNOTATION } from './gate.ts';
import { type Node, type Pod, type PodCondition, timeMs } from './objects.ts';
import type { ProbeOutcome } from './probe.ts';

/** Pod annotation: `never` opts a pod out of recycling, `always` allows recycling a pod without a controller. */
export const RECYCLE_ANNOTATION = 'netwarden.dev/recycle';
/** Annotation the kubelet puts on the mirror pod of a static pod. */
export const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

/** The finding codes that name pods whose own kernel state is wrong. */
export const POD_NETWORK_FINDING_CODES: readonly FindingCode[] = [
  'pod-route-missing',
  'pod-rule-missing',
  'calico-endpoint-chains-missing',
];

/** Owner kinds whose controller recreates an evicted pod. */
export const DEFAULT_RECYCLABLE_OWNER_KINDS: readonly string[] = [
  'ReplicaSet',
  'StatefulSet',
  'DaemonSet',
  'Job',
];

/** What the policy needs to know about the node. */
export interface RecycleNode {
  readonly name: string;
  /** `status.nodeInfo.bootID`. */
  readonly bootId?: string;
  /** When this boot's data path was verified; undefined while it is not (or not on this boot). */
  readonly datapathReadyAtMs?: number;
  /** When the node booted, if known (e.g. /proc/stat btime); pod status older than this is stale. */
  readonly bootTimeMs?: number;
}

/** Tunables of the policy. */
export interface RecyclePolicyOptions {
  /** How long containers may be not ready, counted from the later of their transition and data-path-ready. */
  readonly notReadyGraceMs: number;
  /** Controller kinds whose pods are recycled without `recycle: always`. */
  readonly recyclableOwnerKinds: readonly string[];
  /**
   * Recycle pods with findings even before the data path is verified on this boot. Off by default:
   * DESIGN.md repairs only after verification, and a replacement started earlier is itself early.
   */
  readonly recycleBeforeVerified: boolean;
}

/**
 * Defaults. 2 min of not-ready after the data path is ready: apps that retry their connections
 * recover within seconds once kube-proxy and the CNI are programmed, slow starters get time.
 */
export const DEFAULT_RECYCLE_POLICY: RecyclePolicyOptions = {
  notReadyGraceMs: 120_000,
  recyclableOwnerKinds: DEFAULT_RECYCLABLE_OWNER_KINDS,
  recycleBeforeVerified: false,
};

/** Everything the decision is made from. */
export interface RecyclePolicyInput {
  readonly node: RecycleNode;
  /** The pods bound to the node (others are skipped). */
  readonly pods: readonly Pod[];
  /** By pod key `namespace/name`: evidence lines of its wrong per-pod state (see `podProblemsFromFindings`). */
  readonly podNetworkProblems?: ReadonlyMap<string, readonly string[]>;
  /** The probe from the node's own network namespace. */
  readonly nodeProbe?: ProbeOutcome;
  /** By pod uid: the probe from the pod's network namespace. */
  readonly podProbes?: ReadonlyMap<string, ProbeOutcome>;
  readonly options?: Partial<RecyclePolicyOptions>;
  readonly now: number;
}

/** What to do with a pod. `report`: broken but not ours to recycle (an operator must look). */
export type RecycleAction = 'recycle' | 'report' | 'skip';

/** Why, as a CamelCase token (Event reason, metric label, node condition reason). */
export type RecycleReason =
  // recycle
  | 'NetworkBeforeDataPathReady'
  | 'PodNetworkStateMissing'
  // report
  | 'Unowned'
  | 'UnsupportedOwner'
  | 'OptedOut'
  | 'StaticPod'
  // skip
  | 'Healthy'
  | 'NotReadyWithinGrace'
  | 'NetworkAfterDataPathReady'
  | 'NoPodNetwork'
  | 'StatusFromPreviousBoot'
  | 'HostNetwork'
  | 'Terminating'
  | 'Finished'
  | 'NotOnThisNode'
  | 'DataPathNotVerified'
  | 'NodeDataPathBroken';

/** A pod, by the names everything else uses. */
export interface PodRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  /** `namespace/name`. */
  readonly key: string;
}

/** The controller (or, for a bare pod, the pod itself) that recycle attempts are counted against. */
export interface OwnerRef {
  readonly kind: string;
  readonly name: string;
  readonly uid: string;
  /** Stable per owner: `Kind/namespace/name:uid` (bare pods: `Pod/namespace/name`, since a recreated bare pod keeps its name). */
  readonly key: string;
}

/** The decision for one pod. */
export interface RecycleDecision {
  readonly pod: PodRef;
  readonly action: RecycleAction;
  readonly reason: RecycleReason;
  /** One line for a person, with the evidence, e.g. "network set up 12:00:03Z, 38s before data path ready 12:00:41Z; container app CrashLoopBackOff (5 restarts, last exit 1)". */
  readonly explanation: string;
  /** The separate facts the explanation is made of. */
  readonly evidence: readonly string[];
  readonly owner?: OwnerRef;
  readonly podCreatedMs?: number;
  /** When the pod's network was set up (PodReadyToStartContainers True). */
  readonly networkSetupMs?: number;
}

/** `namespace/name` of a pod. */
export function podKey(pod: Pod): string {
  return `${pod.metadata?.namespace ?? 'default'}/${pod.metadata?.name ?? ''}`;
}

/** The pod's identity. */
export function podRef(pod: Pod): PodRef {
  const namespace = pod.metadata?.namespace ?? 'default';
  const name = pod.metadata?.name ?? '';
  return { namespace, name, uid: pod.metadata?.uid ?? '', key: `${namespace}/${name}` };
}

/** The pod's controller (ownerReference with controller=true), if any. */
export function controllerOf(pod: Pod): OwnerRef | undefined {
  const ref = (pod.metadata?.ownerReferences ?? []).find((o) => o.controller === true);
  if (!ref) return undefined;
  const ns = pod.metadata?.namespace ?? 'default';
  return { kind: ref.kind, name: ref.name, uid: ref.uid, key: `${ref.kind}/${ns}/${ref.name}:${ref.uid}` };
}

function bareOwner(pod: Pod): OwnerRef {
  const r = podRef(pod);
  return { kind: 'Pod', name: r.name, uid: r.uid, key: `Pod/${r.key}` };
}

/**
 * What the repair needs from the Node object: its boot id and this boot's data-path-ready time.
 * `datapath-ready-at` counts only when the `boot-id` annotation equals `status.nodeInfo.bootID`;
 * otherwise it was written on an earlier boot and says nothing about this one.
 */
export function recycleNodeFromNode(node: Node, bootTimeMs?: number): RecycleNode {
  const ann = node.metadata?.annotations ?? {};
  const bootId = node.status?.nodeInfo?.bootID;
  const readyAt = ann[READY_AT_ANNOTATION];
  const sameBoot = bootId !== undefined && bootId !== '' && ann[BOOT_ID_ANNOTATION] === bootId;
  const readyMs = sameBoot && readyAt !== undefined ? timeMs(readyAt) : undefined;
  return {
    name: node.metadata?.name ?? '',
    ...(bootId ? { bootId } : {}),
    ...(readyMs !== undefined ? { datapathReadyAtMs: readyMs } : {}),
    ...(bootTimeMs !== undefined ? { bootTimeMs } : {}),
  };
}

/**
 * Per-pod evidence from network findings: pods named by a pod-route / pod-rule / Calico-chain
 * finding, keyed `namespace/name`. Findings that name IPs (checkRoutedPodConsistency) are mapped
 * through `pods`' IPs. Subjects and evidence lines are parallel in those findings; run the diff
 * with a `maxEvidence` at least the node's pod count, or pods past the cap are not named.
 */
export function podProblemsFromFindings(
  findings: readonly Finding[],
  pods: readonly Pod[] = [],
): Map<string, string[]> {
  const byIp = new Map<string, string>();
  for (const p of pods) if (p.status?.podIP && !p.spec?.hostNetwork) byIp.set(p.status.podIP, podKey(p));
  const out = new Map<string, string[]>();
  for (const f of findings) {
    if (!POD_NETWORK_FINDING_CODES.includes(f.code)) continue;
    f.subjects.forEach((s, i) => {
      const key = s.kind === 'pod' ? s.name : s.kind === 'ip' ? byIp.get(s.name) : undefined;
      if (key === undefined) return;
      const line = `${f.code}: ${f.evidence[i] ?? f.title}`;
      out.set(key, [...(out.get(key) ?? []), line]);
    });
  }
  return out;
}

/** Who is broken according to the probes. */
export type ProbeVerdict =
  /** A core check fails from the node itself: nothing a pod recycle can fix. */
  | 'node-broken'
  /** The pod fails a target the node reaches: this pod's own network is broken. */
  | 'pod-broken'
  | 'ok'
  /** No pod probe, it could not run, or its failures cannot be attributed (the node did not reach the target either, or was not probed). */
  | 'unknown';

/** The node-vs-pod verdict from the node's probe and (optionally) one pod's. */
export function judgeProbes(
  nodeProbe: ProbeOutcome | undefined,
  podProbe?: ProbeOutcome,
): { readonly verdict: ProbeVerdict; readonly evidence: readonly string[] } {
  const nodeFails = (nodeProbe?.checks ?? []).filter((c) => c.core && !c.ok);
  if (nodeProbe?.status !== 'unknown' && nodeFails.length > 0) {
    return { verdict: 'node-broken', evidence: nodeFails.map((c) => `node probe: ${c.detail}`) };
  }
  if (podProbe === undefined || podProbe.status === 'unknown') {
    return {
      verdict: 'unknown',
      evidence: podProbe ? [`own-netns probe did not run: ${podProbe.detail}`] : [],
    };
  }
  const podFails = podProbe.checks.filter((c) => !c.ok);
  if (podFails.length === 0) return { verdict: 'ok', evidence: [] };
  const nodeChecks = new Map(
    (nodeProbe?.status === 'unknown' ? [] : (nodeProbe?.checks ?? [])).map((c) => [c.key, c]),
  );
  const attributed: string[] = [];
  const unattributed: string[] = [];
  for (const c of podFails) {
    const n = nodeChecks.get(c.key);
    if (n?.ok) attributed.push(`own-netns probe failed: ${c.detail} (node reaches it: ${n.detail})`);
    else
      unattributed.push(
        `own-netns probe failed: ${c.detail} (${n ? 'fails from the node too' : 'not checked from the node'})`,
      );
  }
  return attributed.length > 0
    ? { verdict: 'pod-broken', evidence: attributed }
    : { verdict: 'unknown', evidence: unattributed };
}

/** Decides, for every pod given, whether to recycle, report or skip it. Sorted: recycles (oldest network first), reports, skips. */
export function selectRecycleCandidates(input: RecyclePolicyInput): RecycleDecision[] {
  const opts: RecyclePolicyOptions = { ...DEFAULT_RECYCLE_POLICY, ...input.options };
  const node = judgeProbes(input.nodeProbe);
  const nodeBroken = node.verdict === 'node-broken' ? node.evidence : [];
  const decisions = input.pods.map((pod) => decide(pod, input, opts, nodeBroken));
  const rank: Record<RecycleAction, number> = { recycle: 0, report: 1, skip: 2 };
  return decisions.sort(
    (a, b) =>
      rank[a.action] - rank[b.action] ||
      (a.networkSetupMs ?? Number.POSITIVE_INFINITY) - (b.networkSetupMs ?? Number.POSITIVE_INFINITY) ||
      a.pod.key.localeCompare(b.pod.key),
  );
}

type DecisionBody = Omit<RecycleDecision, 'pod' | 'explanation' | 'evidence'> & {
  readonly evidence: readonly string[];
};

function decide(
  pod: Pod,
  input: RecyclePolicyInput,
  opts: RecyclePolicyOptions,
  nodeBroken: readonly string[],
): RecycleDecision {
  const ref = podRef(pod);
  const created = timeMs(pod.metadata?.creationTimestamp);
  const d = decideInner(pod, ref, input, opts, nodeBroken);
  return {
    pod: ref,
    ...d,
    ...(created !== undefined ? { podCreatedMs: created } : {}),
    explanation: d.evidence.join('; '),
  };
}

function skip(reason: RecycleReason, ...evidence: string[]): DecisionBody {
  return { action: 'skip', reason, evidence };
}

function decideInner(
  pod: Pod,
  ref: PodRef,
  input: RecyclePolicyInput,
  opts: RecyclePolicyOptions,
  nodeBroken: readonly string[],
): DecisionBody {
  const out = outOfScope(pod, input.node, opts, nodeBroken);
  if (out) return out;
  const readyAt = input.node.datapathReadyAtMs;

  // (1) network suspect
  const timing = networkTiming(pod, input.node);
  const problems = input.podNetworkProblems?.get(ref.key) ?? [];
  const suspect = [...(timing.early ? [timing.text] : []), ...problems];
  if (suspect.length === 0) return skip(timing.skipReason, timing.text);

  // (2) broken
  const health = healthEvidence(pod, readyAt, input, opts);
  if (health.broken.length === 0) {
    return skip(health.waiting ? 'NotReadyWithinGrace' : 'Healthy', ...suspect, health.waiting ?? 'healthy');
  }

  // (3) ours to recycle
  const evidence = [...suspect, ...health.broken];
  const base = timing.setupMs !== undefined ? { networkSetupMs: timing.setupMs } : {};
  const refusal = notOurs(pod, opts);
  if (refusal) {
    return {
      action: 'report',
      reason: refusal.reason,
      evidence: [`not recycled: ${refusal.why}`, ...evidence],
      ...(refusal.owner ? { owner: refusal.owner } : {}),
      ...base,
    };
  }
  return {
    action: 'recycle',
    reason: timing.early ? 'NetworkBeforeDataPathReady' : 'PodNetworkStateMissing',
    evidence,
    owner: controllerOf(pod) ?? bareOwner(pod),
    ...base,
  };
}

/** Pods the repair does not look at, and rounds in which it looks at none. */
function outOfScope(
  pod: Pod,
  node: RecycleNode,
  opts: RecyclePolicyOptions,
  nodeBroken: readonly string[],
): DecisionBody | undefined {
  if (pod.spec?.nodeName !== node.name)
    return skip('NotOnThisNode', `bound to ${pod.spec?.nodeName ?? 'no node'}`);
  if (pod.spec?.hostNetwork) return skip('HostNetwork', 'uses the node network namespace');
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed') return skip('Finished', `phase ${phase}`);
  if (pod.metadata?.deletionTimestamp) return skip('Terminating', 'already being deleted');
  if (nodeBroken.length > 0) return skip('NodeDataPathBroken', 'the node itself fails', ...nodeBroken);
  if (node.datapathReadyAtMs === undefined && !opts.recycleBeforeVerified) {
    return skip('DataPathNotVerified', 'the data path is not verified on this boot yet');
  }
  return undefined;
}

/** Why a broken pod is reported instead of recycled, or undefined when it may be recycled. */
function notOurs(
  pod: Pod,
  opts: RecyclePolicyOptions,
): { reason: RecycleReason; why: string; owner?: OwnerRef } | undefined {
  const ann = pod.metadata?.annotations ?? {};
  if (ann[MIRROR_POD_ANNOTATION] !== undefined)
    return { reason: 'StaticPod', why: 'static pod (restart it on the node)' };
  const optIn = ann[RECYCLE_ANNOTATION];
  if (optIn === 'never') return { reason: 'OptedOut', why: `annotation ${RECYCLE_ANNOTATION}: "never"` };
  if (optIn === 'always') return undefined;
  const controller = controllerOf(pod);
  const allow = `annotate ${RECYCLE_ANNOTATION}: "always" to allow`;
  if (!controller) return { reason: 'Unowned', why: `no controller recreates it (${allow})` };
  if (!opts.recyclableOwnerKinds.includes(controller.kind)) {
    return {
      reason: 'UnsupportedOwner',
      why: `controlled by ${controller.kind} ${controller.name}, not a kind known to recreate pods (${allow})`,
      owner: controller,
    };
  }
  return undefined;
}

const clock = (ms: number): string => `${new Date(ms).toISOString().slice(11, 19)}Z`;

const NETWORK_CONDITION_TYPES = ['PodReadyToStartContainers', 'PodHasNetwork'];

function condition(pod: Pod, types: readonly string[]): PodCondition | undefined {
  return (pod.status?.conditions ?? []).find((c) => types.includes(c.type));
}

interface Timing {
  readonly early: boolean;
  readonly setupMs?: number;
  readonly text: string;
  readonly skipReason: RecycleReason;
}

/** When the pod's network was set up, relative to the data path becoming ready on this boot. */
function networkTiming(pod: Pod, node: RecycleNode): Timing {
  const c = condition(pod, NETWORK_CONDITION_TYPES);
  const setupMs = c?.status === 'True' ? timeMs(c.lastTransitionTime) : undefined;
  if (setupMs === undefined) {
    return {
      early: false,
      text: 'no pod network set up (PodReadyToStartContainers not True)',
      skipReason: 'NoPodNetwork',
    };
  }
  if (node.bootTimeMs !== undefined && setupMs < node.bootTimeMs) {
    return {
      early: false,
      setupMs,
      text: `network status ${clock(setupMs)} predates the boot at ${clock(node.bootTimeMs)} (not updated by the kubelet yet)`,
      skipReason: 'StatusFromPreviousBoot',
    };
  }
  const readyAt = node.datapathReadyAtMs;
  if (readyAt !== undefined && setupMs < readyAt) {
    return {
      early: true,
      setupMs,
      text: `network set up ${clock(setupMs)}, ${formatDuration(readyAt - setupMs)} before data path ready ${clock(readyAt)}`,
      skipReason: 'NetworkAfterDataPathReady',
    };
  }
  return {
    early: false,
    setupMs,
    text:
      readyAt === undefined
        ? `network set up ${clock(setupMs)}, data path not verified yet`
        : `network set up ${clock(setupMs)}, after data path ready ${clock(readyAt)}`,
    skipReason: 'NetworkAfterDataPathReady',
  };
}

/**
 * Evidence that the pod is broken now, or why it is not yet judged broken (`waiting`). Not-ready
 * counts only in phase Running (all containers created: pulling an image or running init
 * containers is not a network symptom) and uses ContainersReady when present, so a pod held back
 * only by a readiness gate (e.g. a load balancer's) is not mistaken for broken.
 */
function healthEvidence(
  pod: Pod,
  readyAt: number | undefined,
  input: RecyclePolicyInput,
  opts: RecyclePolicyOptions,
): { broken: string[]; waiting?: string } {
  const broken: string[] = [];
  const statuses = [
    ...(pod.status?.initContainerStatuses ?? []).map((s) => ({ s, what: 'init container' })),
    ...(pod.status?.containerStatuses ?? []).map((s) => ({ s, what: 'container' })),
  ];
  for (const { s, what } of statuses) {
    if (s.state?.waiting?.reason !== 'CrashLoopBackOff') continue;
    const exit = s.lastState?.terminated?.exitCode;
    broken.push(
      `${what} ${s.name} CrashLoopBackOff (${s.restartCount} restarts${exit !== undefined ? `, last exit ${exit}` : ''})`,
    );
  }
  let waiting: string | undefined;
  const ready = condition(pod, ['ContainersReady']) ?? condition(pod, ['Ready']);
  if (pod.status?.phase === 'Running' && ready?.status !== 'True') {
    // Counted from the later of the transition and data-path-ready: before the data path works,
    // not being ready is expected and says nothing about the pod.
    const since = Math.max(
      timeMs(ready?.lastTransitionTime) ?? readyAt ?? input.now,
      readyAt ?? Number.NEGATIVE_INFINITY,
    );
    const forMs = input.now - since;
    if (forMs > opts.notReadyGraceMs) broken.push(`containers not ready for ${formatDuration(forMs)}`);
    else
      waiting = `containers not ready for ${formatDuration(Math.max(forMs, 0))}, within the ${formatDuration(opts.notReadyGraceMs)} grace`;
  }
  const probe = judgeProbes(input.nodeProbe, input.podProbes?.get(pod.metadata?.uid ?? ''));
  if (probe.verdict === 'pod-broken') broken.push(...probe.evidence);
  return waiting !== undefined ? { broken, waiting } : { broken };
}
