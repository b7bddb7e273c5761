/**
 * One repair round: turns the policy's decisions into evictions within the limiter's bounds,
 * writes Events and metrics, and returns the new limiter state and a report. The agent calls
 * `Recycler.round` once per loop iteration; the Recycler itself keeps no state besides its
 * metric handles, so the limiter state can be persisted or rebuilt by the agent.
 *
 * Contracts:
 * - Only the Eviction API is used: a 429 (PDB refusal or API throttling) backs the pod off and is
 *   retried on a later round, never turned into a delete.
 * - `already-gone` (404) counts as done: nothing is recorded against the limits or the owner.
 * - Dry run uses the Eviction API's server-side dry run (`dryRun: ["All"]`): the API server runs
 *   admission and the PDB check and answers as it would, but nothing is evicted. No Events, no
 *   metrics, and the returned state is the input state: a dry run changes nothing, and every round
 *   shows what that round would do.
 * - Events and reports of pods not recycled (bare, opted out, static, loop breaker) are written
 *   once per pod and boot (the limiter remembers them), not every round.
 * - Never throws for API failures: they are listed in `errors` and the pod backs off.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Clock } from '../core/clock.ts';
import {
  admitRecycle,
  clearBackoff,
  DEFAULT_RECYCLE_LIMITS,
  type LimiterDenial,
  type LimiterState,
  ownersNotHealed,
  RECYCLING_DID_NOT_HEAL,
  type RecycleLimits,
  type RecycleRequest,
  recordGaveUp,
  recordRecycle,
  recordRefusal,
  recordReported,
  settleInFlight,
  wasReported,
} from '../core/rate-limit.ts';
import type { PodRef, RecycleDecision, RecycleReason } from '../core/recycle-policy.ts';
import { assertNever, describeError } from '../errors.ts';
import type { EventApi, EventSpec } from '../kube/events.ts';
import type { EvictionApi } from '../kube/eviction.ts';

/** What a Recycler needs. */
export interface RecyclerDeps {
  readonly evictions: EvictionApi;
  readonly events: EventApi;
  readonly clock: Clock;
  /** Metrics are created on (or reused from) this registry, never the global default. */
  readonly registry: Registry;
  readonly nodeName: string;
  readonly nodeUid?: string;
  /** Server-side dry run: nothing is evicted, written or counted. */
  readonly dryRun: boolean;
  readonly limits?: RecycleLimits;
}

/** The input of one round. */
export interface RecycleRoundInput {
  /** The policy's decisions for the node's pods (all of them or only recycle/report ones). */
  readonly decisions: readonly RecycleDecision[];
  /** The limiter state from the previous round (`limiterForBoot(previous, bootId)`). */
  readonly state: LimiterState;
  /** Uids of every pod bound to the node now: an eviction stays in flight until its pod's uid is gone. */
  readonly livePodUids: ReadonlySet<string>;
  /** This boot's data-path-ready time, for the "time to last recycle" gauge. */
  readonly datapathReadyAtMs?: number;
}

/** Why a recycle did not happen this round (also the `reason` label of `netwarden_recycle_blocked_total`, except `backoff` and `in-flight`, which are not counted). */
export type BlockReason = 'pdb' | 'throttled' | 'error' | LimiterDenial;

/** A pod netwarden evicted (or, in a dry run, would have). */
export interface EvictedPod {
  readonly pod: PodRef;
  readonly reason: RecycleReason;
  /** `already-gone`: the pod vanished before the eviction; counted as done. */
  readonly outcome: 'evicted' | 'already-gone';
  readonly ownerKey: string;
  readonly generation: number;
  readonly explanation: string;
}

/** A pod that should be recycled but was not, this round. */
export interface BlockedPod {
  readonly pod: PodRef;
  readonly reason: BlockReason;
  readonly detail: string;
  readonly retryAtMs?: number;
}

/** A broken pod left for an operator (every round, for /status; Events only the first time). */
export interface ReportedPod {
  readonly pod: PodRef;
  readonly reason: RecycleReason | typeof RECYCLING_DID_NOT_HEAL;
  readonly explanation: string;
}

/** What one round did; the agent logs it and serves it on /status. */
export interface RecycleRoundReport {
  readonly atMs: number;
  readonly dryRun: boolean;
  readonly evicted: readonly EvictedPod[];
  readonly blocked: readonly BlockedPod[];
  readonly reported: readonly ReportedPod[];
  /** Owner keys the loop breaker stopped on this boot: the agent puts them in the node condition (reason RecyclingDidNotHeal). */
  readonly notHealed: readonly string[];
  /** Recycles in flight after the round (in a dry run: as if the evictions had happened). */
  readonly inFlight: number;
  readonly errors: readonly {
    readonly pod: PodRef;
    readonly what: 'evict' | 'event';
    readonly error: string;
  }[];
}

/** The result of a round: the state to keep and the report. */
export interface RecycleRoundResult {
  readonly state: LimiterState;
  readonly report: RecycleRoundReport;
}

/** Metric label of a refusal; undefined for refusals that are not counted (they repeat an earlier one). */
const BLOCKED_LABEL: Record<BlockReason, string | undefined> = {
  pdb: 'pdb',
  throttled: 'throttled',
  error: 'error',
  concurrency: 'rate-limit',
  'per-minute': 'rate-limit',
  'per-boot': 'rate-limit',
  'statefulset-in-progress': 'rate-limit',
  'loop-breaker': 'loop-breaker',
  backoff: undefined,
  'in-flight': undefined,
};

/** Metric label of a report decision. */
const REPORT_LABEL: Partial<Record<RecycleReason, string>> = {
  Unowned: 'unowned',
  UnsupportedOwner: 'unsupported-owner',
  OptedOut: 'opted-out',
  StaticPod: 'static-pod',
};

/** The recycler's metric handles. */
export interface RecyclerMetrics {
  readonly recycled: Counter<'reason'>;
  readonly blocked: Counter<'reason'>;
  readonly afterReady: Gauge;
  readonly inFlight: Gauge;
}

function metric<T>(registry: Registry, name: string, make: () => T): T {
  // Reuse on a second Recycler over the same registry: prom-client throws on duplicate names.
  return (registry.getSingleMetric(name) as T | undefined) ?? make();
}

/** Creates (or finds) the recycler's metrics on `registry`. */
export function recyclerMetrics(registry: Registry): RecyclerMetrics {
  const registers = [registry];
  return {
    recycled: metric(
      registry,
      'netwarden_pods_recycled_total',
      () =>
        new Counter({
          name: 'netwarden_pods_recycled_total',
          help: 'Pods netwarden evicted to give them a new network sandbox, by decision reason.',
          labelNames: ['reason'],
          registers,
        }),
    ),
    blocked: metric(
      registry,
      'netwarden_recycle_blocked_total',
      () =>
        new Counter({
          name: 'netwarden_recycle_blocked_total',
          help: 'Recycles of broken pods that did not happen: pdb/throttled per refused eviction, rate-limit per round, unowned/opted-out/static-pod/unsupported-owner/loop-breaker once per pod and boot.',
          labelNames: ['reason'],
          registers,
        }),
    ),
    afterReady: metric(
      registry,
      'netwarden_recycle_after_datapath_ready_seconds',
      () =>
        new Gauge({
          name: 'netwarden_recycle_after_datapath_ready_seconds',
          help: "Seconds from this boot's data-path-ready time to the last pod recycle.",
          registers,
        }),
    ),
    inFlight: metric(
      registry,
      'netwarden_recycles_in_flight',
      () =>
        new Gauge({
          name: 'netwarden_recycles_in_flight',
          help: 'Evicted pods whose object is not gone yet.',
          registers,
        }),
    ),
  };
}

/** Carries out repair rounds for one node. */
export class Recycler {
  readonly #deps: RecyclerDeps;
  readonly #limits: RecycleLimits;
  readonly #metrics: RecyclerMetrics;

  constructor(deps: RecyclerDeps) {
    this.#deps = deps;
    this.#limits = deps.limits ?? DEFAULT_RECYCLE_LIMITS;
    this.#metrics = recyclerMetrics(deps.registry);
  }

  /** Runs one round: settle in-flight recycles, evict what the limits allow, report the rest. Never throws for API failures. */
  async round(input: RecycleRoundInput): Promise<RecycleRoundResult> {
    const now = this.#deps.clock.now();
    const r = new RoundBuilder(settleInFlight(input.state, input.livePodUids, now, this.#limits));
    for (const d of input.decisions) {
      if (d.action === 'recycle') await this.#recycle(r, d, now, input.datapathReadyAtMs);
      else if (d.action === 'report') await this.#report(r, d);
    }
    const state = this.#deps.dryRun ? input.state : r.state;
    if (!this.#deps.dryRun) this.#metrics.inFlight.set(state.inFlight.length);
    return {
      state,
      report: {
        atMs: now,
        dryRun: this.#deps.dryRun,
        evicted: r.evicted,
        blocked: r.blocked,
        reported: r.reported,
        notHealed: ownersNotHealed(r.state),
        inFlight: r.state.inFlight.length,
        errors: r.errors,
      },
    };
  }

  async #recycle(
    r: RoundBuilder,
    d: RecycleDecision,
    now: number,
    readyAt: number | undefined,
  ): Promise<void> {
    const owner = d.owner ?? { kind: 'Pod', key: `Pod/${d.pod.key}` };
    const req: RecycleRequest = {
      podUid: d.pod.uid,
      podKey: d.pod.key,
      podCreatedMs: d.podCreatedMs,
      ownerKey: owner.key,
      ownerKind: owner.kind,
    };
    const admission = admitRecycle(r.state, req, now, this.#limits);
    if (!admission.ok) {
      r.blocked.push({
        pod: d.pod,
        reason: admission.denial,
        detail: admission.detail,
        ...(admission.retryAtMs !== undefined ? { retryAtMs: admission.retryAtMs } : {}),
      });
      if (admission.denial === 'loop-breaker')
        await this.#loopBreaker(r, d, owner.key, admission.detail, now);
      else this.#countBlocked(admission.denial);
      return;
    }
    let result: Awaited<ReturnType<EvictionApi['evict']>>;
    try {
      result = await this.#deps.evictions.evict(d.pod.namespace, d.pod.name, { dryRun: this.#deps.dryRun });
    } catch (err) {
      r.errors.push({ pod: d.pod, what: 'evict', error: describeError(err) });
      r.blocked.push({ pod: d.pod, reason: 'error', detail: describeError(err) });
      r.state = recordRefusal(r.state, d.pod.uid, 'error', now, this.#limits);
      this.#countBlocked('error');
      return;
    }
    switch (result.kind) {
      case 'evicted': {
        r.state = recordRecycle(r.state, req, admission.generation, now);
        r.evicted.push({
          pod: d.pod,
          reason: d.reason,
          outcome: 'evicted',
          ownerKey: owner.key,
          generation: admission.generation,
          explanation: d.explanation,
        });
        if (this.#deps.dryRun) return;
        this.#metrics.recycled.inc({ reason: d.reason });
        if (readyAt !== undefined) this.#metrics.afterReady.set((now - readyAt) / 1000);
        await this.#emitBoth(r, d.pod, {
          type: 'Normal',
          reason: d.reason,
          action: 'Evict',
          note: `Evicted by netwarden for a new network sandbox (try ${admission.generation} for ${owner.key}): ${d.explanation}`,
        });
        return;
      }
      case 'already-gone':
        r.state = clearBackoff(r.state, d.pod.uid);
        r.evicted.push({
          pod: d.pod,
          reason: d.reason,
          outcome: 'already-gone',
          ownerKey: owner.key,
          generation: admission.generation,
          explanation: d.explanation,
        });
        return;
      case 'blocked-by-pdb':
      case 'throttled': {
        const reason = result.kind === 'blocked-by-pdb' ? 'pdb' : 'throttled';
        r.state = recordRefusal(r.state, d.pod.uid, reason, now, this.#limits);
        const retryAtMs = r.state.backoff[d.pod.uid]?.nextAtMs;
        r.blocked.push({
          pod: d.pod,
          reason,
          detail: result.message,
          ...(retryAtMs !== undefined ? { retryAtMs } : {}),
        });
        this.#countBlocked(reason);
        return;
      }
      default:
        assertNever(result, 'eviction result');
    }
  }

  /** The owner's pods stay broken after recycling: stop for this boot, say so once per pod. */
  async #loopBreaker(
    r: RoundBuilder,
    d: RecycleDecision,
    ownerKey: string,
    detail: string,
    now: number,
  ): Promise<void> {
    r.state = recordGaveUp(r.state, ownerKey, now);
    const explanation = `${detail}; not recycling ${ownerKey} again on this boot: ${d.explanation}`;
    r.reported.push({ pod: d.pod, reason: RECYCLING_DID_NOT_HEAL, explanation });
    if (this.#deps.dryRun || wasReported(r.state, d.pod.uid, RECYCLING_DID_NOT_HEAL)) return;
    r.state = recordReported(r.state, d.pod.uid, RECYCLING_DID_NOT_HEAL);
    this.#countBlocked('loop-breaker');
    await this.#emitBoth(r, d.pod, {
      type: 'Warning',
      reason: RECYCLING_DID_NOT_HEAL,
      action: 'Report',
      note: explanation,
    });
  }

  async #report(r: RoundBuilder, d: RecycleDecision): Promise<void> {
    r.reported.push({ pod: d.pod, reason: d.reason, explanation: d.explanation });
    if (this.#deps.dryRun || wasReported(r.state, d.pod.uid, d.reason)) return;
    r.state = recordReported(r.state, d.pod.uid, d.reason);
    const label = REPORT_LABEL[d.reason];
    if (label) this.#metrics.blocked.inc({ reason: label });
    await this.#emitBoth(r, d.pod, {
      type: 'Warning',
      reason: d.reason,
      action: 'Report',
      note: `Broken pod not recycled: ${d.explanation}`,
    });
  }

  #countBlocked(reason: BlockReason): void {
    const label = BLOCKED_LABEL[reason];
    if (label && !this.#deps.dryRun) this.#metrics.blocked.inc({ reason: label });
  }

  /** One Event on the pod and one on the node; failures are listed, never thrown. */
  async #emitBoth(r: RoundBuilder, pod: PodRef, e: Omit<EventSpec, 'subject'>): Promise<void> {
    const { nodeName, nodeUid } = this.#deps;
    const specs: EventSpec[] = [
      {
        ...e,
        subject: {
          kind: 'Pod',
          namespace: pod.namespace,
          name: pod.name,
          ...(pod.uid ? { uid: pod.uid } : {}),
        },
      },
      {
        ...e,
        note: `Pod ${pod.key}: ${e.note}`,
        subject: { kind: 'Node', name: nodeName, ...(nodeUid ? { uid: nodeUid } : {}) },
      },
    ];
    for (const spec of specs) {
      try {
        await this.#deps.events.emit(spec);
      } catch (err) {
        r.errors.push({ pod, what: 'event', error: describeError(err) });
      }
    }
  }
}

/** The mutable working set of one round (local to `round`, never kept). */
class RoundBuilder {
  state: LimiterState;
  readonly evicted: EvictedPod[] = [];
  readonly blocked: BlockedPod[] = [];
  readonly reported: ReportedPod[] = [];
  readonly errors: { pod: PodRef; what: 'evict' | 'event'; error: string }[] = [];

  constructor(state: LimiterState) {
    this.state = state;
  }
}
