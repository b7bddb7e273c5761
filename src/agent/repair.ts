/**
 * Repair, once per agent round while the node's data path is verified on this boot: pick the pods
 * that got their network too early and are broken (core/recycle-policy.ts), probe suspects from
 * inside their own network namespace (host/netns-probe.ts), and recycle them within the limits
 * (recycler.ts). Node probe failing means the node is broken: nothing is recycled.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import type { Node, Pod } from '../core/objects.ts';
import type { ProbeOutcome } from '../core/probe.ts';
import { clusterProbeConfig, nodeProbePlan, type ProbePlan, podProbePlan } from '../core/probe-plan.ts';
import { type LimiterState, limiterForBoot } from '../core/rate-limit.ts';
import {
  type RecycleDecision,
  type RecyclePolicyOptions,
  recycleNodeFromNode,
  selectRecycleCandidates,
} from '../core/recycle-policy.ts';
import {
  RECYCLE_STATE_ANNOTATION,
  recycleStateChanged,
  restoreRecycleState,
  serializeRecycleState,
} from '../core/recycle-state.ts';
import type { NetnsLocation, NetnsLocator } from '../host/netns-locator.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import type { RecycleRoundReport, Recycler } from './recycler.ts';

/** How probes run: injectable for tests. */
export type ProbeRunner = (location: NetnsLocation, plan: ProbePlan) => Promise<ProbeOutcome>;

/** What repair needs. */
export interface RepairDeps {
  readonly recycler: Recycler;
  readonly locator: NetnsLocator;
  /** The agent's own namespace (the node's). */
  readonly selfNetns: () => Promise<NetnsLocation | undefined>;
  readonly probe: ProbeRunner;
  readonly clock: Clock;
  readonly log: Logger;
  /** At most this many pods are probed per round (each probe costs a short-lived process). */
  readonly maxProbesPerRound?: number;
  readonly policy?: Partial<RecyclePolicyOptions>;
  /** Let pods' probe-targets name loopback, link-local or metadata addresses (refused by default). */
  readonly allowSpecialProbeTargets?: boolean;
  /**
   * Writes the limiter state to the Node (annotation `netwarden.dev/recycle-state`), so the limits
   * and the loop guard survive an agent restart. Absent in dry run (nothing is written).
   */
  readonly persist?: (annotations: Record<string, string>) => Promise<void>;
}

/** What a round knows besides the node and its pods. */
export interface RepairRoundInput {
  /** By `namespace/name`: the pod's own network state is wrong (the agent's pod-network check). */
  readonly podNetworkProblems?: ReadonlyMap<string, readonly string[]>;
  /** When this boot began (epoch ms): pod status older than that is from the previous boot. */
  readonly bootTimeMs?: number;
}

/** What one repair round did. */
export interface RepairRound {
  readonly decisions: readonly RecycleDecision[];
  readonly report: RecycleRoundReport | undefined;
  readonly nodeProbe: ProbeOutcome | undefined;
  /** Pods probed from their own namespace this round. */
  readonly podsProbed: number;
  /** Repair has work left (candidates or evictions in flight): the agent keeps the fast cadence. */
  readonly pending: boolean;
}

/** Runs repair rounds; keeps the limiter state between them (rebuilt per boot). */
export class Repair {
  readonly #d: RepairDeps;
  #state: LimiterState | undefined;
  /**
   * Pods (by UID) whose own-netns probe passed on this boot while they were healthy and suspect
   * only for getting their network early: they are not probed again while that stays so. After the
   * data path was verified a passing probe settles that suspicion; each probe is a short-lived
   * process, and re-probing every healthy early pod each round was most of a steady agent's CPU.
   * A pod that turns unready or crash-loops, or whose own kernel state goes wrong (pod-network
   * findings), is probed again. Emptied on a new boot; pods that are gone are forgotten.
   */
  #cleared = { bootId: '', uids: new Set<string>() };

  constructor(deps: RepairDeps) {
    this.#d = deps;
  }

  /** Owners the loop breaker gave up on for this boot (node condition: RecyclingDidNotHeal). */
  notHealed: readonly string[] = [];

  /** One round over the node's pods. Does nothing until this boot's data path is verified. */
  async round(
    node: Node,
    pods: readonly Pod[],
    cluster: ClusterState,
    input: RepairRoundInput = {},
  ): Promise<RepairRound> {
    const rn = recycleNodeFromNode(node, input.bootTimeMs);
    if (rn.datapathReadyAtMs === undefined)
      return { decisions: [], report: undefined, nodeProbe: undefined, podsProbed: 0, pending: false };
    const bootId = rn.bootId ?? '';
    // A restarted agent resumes the limits of this boot from the Node, not from zero.
    this.#state ??= restoreRecycleState(node.metadata?.annotations?.[RECYCLE_STATE_ANNOTATION], bootId);
    this.#state = limiterForBoot(this.#state, bootId);
    const now = this.#d.clock.now();
    const problems = input.podNetworkProblems ? { podNetworkProblems: input.podNetworkProblems } : {};

    // First without probes, to find the pods worth probing: those whose network is suspect.
    const options = this.#d.policy ?? {};
    const first = selectRecycleCandidates({ node: rn, pods, now, options, ...problems });
    const cleared = this.#clearedFor(bootId, pods);
    const settled = (d: RecycleDecision): boolean =>
      d.reason === 'Healthy' && cleared.has(d.pod.uid) && !input.podNetworkProblems?.has(d.pod.key);
    const suspects = first.filter(
      (d) =>
        d.action === 'recycle' ||
        d.reason === 'NotReadyWithinGrace' ||
        (d.reason === 'Healthy' && !settled(d)),
    );
    let nodeProbe: ProbeOutcome | undefined;
    const podProbes = new Map<string, ProbeOutcome>();
    const cfg = clusterProbeConfig(cluster.services, this.#d.allowSpecialProbeTargets ?? false);
    if (suspects.length > 0 && cfg) {
      const plans = new Map(pods.map((p) => [p.metadata?.uid ?? '', podProbePlan(p, cfg).plan]));
      const self = await this.#d.selfNetns();
      if (self) nodeProbe = await this.#d.probe(self, nodeProbePlan(cfg, [...plans.values()]));
      const uids = suspects.slice(0, this.#d.maxProbesPerRound ?? 8).map((d) => d.pod.uid);
      const located = await this.#d.locator.locate(uids);
      await Promise.all(
        uids.map(async (uid) => {
          const loc = located.get(uid);
          const plan = plans.get(uid);
          if (loc && plan) podProbes.set(uid, await this.#d.probe(loc, plan));
        }),
      );
    }
    for (const d of suspects) {
      const outcome = podProbes.get(d.pod.uid)?.status;
      if (outcome === 'ok' && d.reason === 'Healthy') cleared.add(d.pod.uid);
      else if (outcome !== undefined) cleared.delete(d.pod.uid);
    }
    const decisions = selectRecycleCandidates({
      node: rn,
      pods,
      ...problems,
      ...(nodeProbe ? { nodeProbe } : {}),
      podProbes,
      now,
      options,
    });
    const { state, report } = await this.#d.recycler.round({
      decisions,
      state: this.#state,
      livePodUids: new Set(pods.map((p) => p.metadata?.uid ?? '')),
      datapathReadyAtMs: rn.datapathReadyAtMs,
    });
    const before = this.#state;
    this.#state = state;
    if (this.#d.persist && recycleStateChanged(before, state)) {
      try {
        await this.#d.persist({ [RECYCLE_STATE_ANNOTATION]: serializeRecycleState(state) });
      } catch (err) {
        this.#d.log.warn({ err: String(err) }, 'could not persist the recycle state');
      }
    }
    this.notHealed = report.notHealed;
    for (const e of report.evicted) this.#d.log.info({ pod: e.pod.key, reason: e.reason }, 'recycled pod');
    for (const r of report.reported)
      this.#d.log.info({ pod: r.pod.key, reason: r.reason }, 'broken pod reported, not recycled');
    const pending = decisions.some((d) => d.action === 'recycle') || report.inFlight > 0;
    return { decisions, report, nodeProbe, podsProbed: podProbes.size, pending };
  }

  /** This boot's cleared pods, without the pods no longer on the node. */
  #clearedFor(bootId: string, pods: readonly Pod[]): Set<string> {
    if (this.#cleared.bootId !== bootId) this.#cleared = { bootId, uids: new Set() };
    const live = new Set(pods.map((p) => p.metadata?.uid ?? ''));
    for (const uid of this.#cleared.uids) if (!live.has(uid)) this.#cleared.uids.delete(uid);
    return this.#cleared.uids;
  }
}
