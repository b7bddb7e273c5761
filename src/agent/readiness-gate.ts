/**
 * The pod readiness gate `netwarden.dev/PodNetworkReady`, once per agent round: for this node's pods
 * that list it, reset a True from before this boot, probe the pods not yet verified from inside
 * their own network namespace (the repair probe), and write the condition (core/pod-readiness.ts
 * decides). Bounded: at most `maxProbesPerRound` probes a round, each pod at most every
 * `minProbeIntervalMs`. Writes only when the condition changes; dry-run writes nothing.
 */
import type { Logger } from 'pino';
import type { Clock } from '../core/clock.ts';
import { BOOT_SEEN_AT_ANNOTATION } from '../core/gate.ts';
import { type Node, type Pod, type PodCondition, timeMs } from '../core/objects.ts';
import {
  conditionFromProbe,
  type DesiredPodCondition,
  networkReadyCondition,
  readinessWork,
} from '../core/pod-readiness.ts';
import type { ProbeOutcome } from '../core/probe.ts';
import { clusterProbeConfig, type ProbePlan, podProbePlan } from '../core/probe-plan.ts';
import { describeError } from '../errors.ts';
import type { NetnsLocation, NetnsLocator } from '../host/netns-locator.ts';
import type { PodApi } from '../kube/pods.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';

/** What the readiness gate needs. */
export interface ReadinessGateDeps {
  readonly pods: Pick<PodApi, 'setPodCondition'>;
  readonly locator: NetnsLocator;
  readonly probe: (location: NetnsLocation, plan: ProbePlan) => Promise<ProbeOutcome>;
  readonly clock: Clock;
  readonly log: Logger;
  readonly dryRun: boolean;
  readonly allowSpecialProbeTargets?: boolean;
  readonly maxProbesPerRound?: number;
  readonly minProbeIntervalMs?: number;
}

/** What one round did (for /status and tests). */
export interface ReadinessRound {
  readonly written: readonly { readonly pod: string; readonly condition: DesiredPodCondition }[];
  readonly probed: number;
  /** Gated pods not True at the start of the round (to probe, or just reset): work left to do. */
  readonly waiting: number;
  /** Pods probed for the first time in this round. */
  readonly firstProbes: number;
}

/** Keeps the readiness condition of this node's gated pods. */
export class ReadinessGate {
  readonly #d: ReadinessGateDeps;
  /** Pod uid → when it was last probed. */
  readonly #lastProbe = new Map<string, number>();

  constructor(deps: ReadinessGateDeps) {
    this.#d = deps;
  }

  /** One round. Never throws: a failed write is logged and retried next round. */
  async round(node: Node, pods: readonly Pod[], cluster: ClusterState): Promise<ReadinessRound> {
    const now = this.#d.clock.now();
    const bootStart = timeMs(node.metadata?.annotations?.[BOOT_SEEN_AT_ANNOTATION]);
    const written: { pod: string; condition: DesiredPodCondition }[] = [];
    const toProbe: Pod[] = [];
    const live = new Set<string>();
    let waiting = 0;
    for (const pod of pods) {
      live.add(pod.metadata?.uid ?? '');
      const work = readinessWork(pod, bootStart);
      if (work.kind === 'reset') {
        waiting++;
        if (await this.#write(pod, work.condition, now))
          written.push({ pod: key(pod), condition: work.condition });
      } else if (work.kind === 'probe') toProbe.push(pod);
    }
    waiting += toProbe.length;
    for (const uid of this.#lastProbe.keys()) if (!live.has(uid)) this.#lastProbe.delete(uid);
    const cfg = clusterProbeConfig(cluster.services, this.#d.allowSpecialProbeTargets ?? false);
    const minInterval = this.#d.minProbeIntervalMs ?? 2_000;
    const due = toProbe
      .filter((p) => now - (this.#lastProbe.get(p.metadata?.uid ?? '') ?? 0) >= minInterval)
      // pods never probed first, then the longest waiting
      .sort(
        (a, b) =>
          (this.#lastProbe.get(a.metadata?.uid ?? '') ?? 0) -
          (this.#lastProbe.get(b.metadata?.uid ?? '') ?? 0),
      )
      .slice(0, this.#d.maxProbesPerRound ?? 4);
    if (!cfg || due.length === 0) return { written, probed: 0, waiting, firstProbes: 0 };
    const firstProbes = due.filter((p) => !this.#lastProbe.has(p.metadata?.uid ?? '')).length;
    const located = await this.#d.locator.locate(due.map((p) => p.metadata?.uid ?? ''));
    await Promise.all(
      due.map(async (pod) => {
        const uid = pod.metadata?.uid ?? '';
        this.#lastProbe.set(uid, now);
        const loc = located.get(uid);
        const outcome: ProbeOutcome = loc
          ? await this.#d.probe(loc, podProbePlan(pod, cfg).plan)
          : { status: 'unknown', checks: [], detail: 'network namespace not found yet' };
        const want = conditionFromProbe(outcome, networkReadyCondition(pod));
        if (want && (await this.#write(pod, want, now))) written.push({ pod: key(pod), condition: want });
      }),
    );
    return { written, probed: due.length, waiting, firstProbes };
  }

  /** Writes a condition, keeping lastTransitionTime unless the status flips. */
  async #write(pod: Pod, want: DesiredPodCondition, now: number): Promise<boolean> {
    if (this.#d.dryRun) return false;
    const current = networkReadyCondition(pod);
    const condition: PodCondition = {
      ...want,
      lastProbeTime: new Date(now).toISOString(),
      lastTransitionTime:
        current?.status === want.status && current.lastTransitionTime !== undefined
          ? current.lastTransitionTime
          : new Date(now).toISOString(),
    };
    try {
      await this.#d.pods.setPodCondition(pod.metadata?.namespace ?? '', pod.metadata?.name ?? '', condition);
      return true;
    } catch (err) {
      this.#d.log.warn(
        { pod: key(pod), err: describeError(err) },
        'could not set the pod network readiness condition',
      );
      return false;
    }
  }
}

function key(pod: Pod): string {
  return `${pod.metadata?.namespace}/${pod.metadata?.name}`;
}
