/**
 * The node agent's loop: watch the Node, the other nodes (for the breaker), Services and
 * EndpointSlices; each round run the checks, decide the gate (core/gate.ts), and make the Node say
 * so (condition, taint, annotations), with Events on transitions. State that matters lives on the
 * Node, so a restarted agent continues where the last one stopped. A new boot closes the gate in
 * the very first round, before any check runs.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Check, CheckContext } from '../checks/check.ts';
import { type CheckResult, combine, type Verdict } from '../core/check.ts';
import type { Clock } from '../core/clock.ts';
import { crashLoopingSince } from '../core/crashloop.ts';
import {
  BOOT_ID_ANNOTATION,
  CONDITION_TYPE,
  decideGate,
  type GateClusterView,
  type GateDecision,
  type GateMemory,
  type GateNodeView,
  initialGateMemory,
  READY_AT_ANNOTATION,
  REASON_NEW_BOOT,
  TAINT_EFFECT,
  TAINT_KEY,
} from '../core/gate.ts';
import { describeError } from '../errors.ts';
import type { EventApi } from '../kube/events.ts';
import { annotationsPatch, conditionPatch, taintPatch } from '../kube/node-patches.ts';
import type { NodeApi } from '../kube/nodes.ts';
import type { EndpointSlice, Node, Pod, Service } from '../kube/types.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import type { AgentConfig } from './config.ts';
import { AgentMetrics } from './metrics.ts';
import type { Repair, RepairRound } from './repair.ts';

/** An unchanged condition is re-written this often, so its lastHeartbeatTime shows the agent is alive. */
const CONDITION_HEARTBEAT_MS = 60_000;

/** The caches the agent's watches fill. */
export interface AgentCaches {
  node(): Node | undefined;
  nodes(): readonly Node[];
  cluster(): ClusterState;
  /** Pods bound to this node. */
  pods(): readonly Pod[];
  /** Moves whenever a Service or EndpointSlice changes. */
  generation(): number;
  synced(): boolean;
}

/** Everything the agent needs; all of it injectable. */
export interface AgentDeps {
  readonly cfg: AgentConfig;
  readonly nodes: NodeApi;
  readonly events: EventApi;
  readonly caches: AgentCaches;
  readonly checks: readonly Check[];
  readonly checkContext: Omit<
    CheckContext,
    'cluster' | 'nodeName' | 'timeoutMs' | 'steady' | 'clusterGeneration'
  >;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** Recycling of pods that got their network too early (off when absent). */
  readonly repair?: Repair;
}

/** One line of this boot's timeline (/status). */
export interface TimelineLine {
  readonly at: string;
  readonly event: string;
  readonly detail?: string;
}

/** The node view the gate needs, read off the Node object. */
export function gateNodeView(node: Node): GateNodeView {
  const annotations = node.metadata?.annotations ?? {};
  const condition = node.status?.conditions?.find((c) => c.type === CONDITION_TYPE);
  return {
    bootId: node.status?.nodeInfo?.bootID || undefined,
    annotatedBootId: annotations[BOOT_ID_ANNOTATION],
    readyAt: annotations[READY_AT_ANNOTATION],
    tainted: (node.spec?.taints ?? []).some((t) => t.key === TAINT_KEY && t.effect === TAINT_EFFECT),
    conditionStatus: condition?.status as GateNodeView['conditionStatus'],
    conditionReason: condition?.reason,
  };
}

/** The breaker's view: selected nodes, and the others gated for a non-boot reason. */
export function gateClusterView(nodes: readonly Node[], self: string): GateClusterView {
  const otherGatedNonBoot = nodes
    .filter((n) => {
      if (n.metadata?.name === self) return false;
      const v = gateNodeView(n);
      return v.tainted && v.conditionReason !== REASON_NEW_BOOT;
    })
    .map((n) => n.metadata?.name ?? '');
  return { self, selectedNodes: Math.max(nodes.length, 1), otherGatedNonBoot };
}

/** The node agent. */
export class Agent {
  readonly #d: AgentDeps;
  readonly metrics: AgentMetrics;
  #memory: GateMemory | undefined;
  #bootId: string | undefined;
  #bootSeenAt = 0;
  #last: { results: CheckResult[]; verdict: Verdict; decision: GateDecision; at: number } | undefined;
  #timeline: TimelineLine[] = [];
  #rounds = 0;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** Pending early wake-ups, one per cause, so a slow one never delays an urgent one. */
  readonly #wakeTimers = new Map<'boot' | 'settled', NodeJS.Timeout>();
  #dryRunView: Partial<GateNodeView> = {};
  #repair: RepairRound | undefined;
  readonly #advisory = new Map<string, CheckResult>();
  readonly #advisoryRunning = new Set<string>();

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.metrics = new AgentMetrics(deps.registry);
  }

  /** True once caches are synced and one round has completed (/readyz). */
  ready(): boolean {
    return this.#d.caches.synced() && this.#rounds > 0;
  }

  /** Asks for a round soon (this node rebooted: the gate must close at once). */
  poke(): void {
    this.#wakeIn('boot', this.#d.cfg.checkIntervalMs);
  }

  /**
   * A Service or EndpointSlice changed: asks for one round once the change has settled
   * (`--sync-grace`), so the kernel is checked against it without waiting for the steady
   * interval. Coalesced: during churn at most one extra round per grace period.
   */
  pokeWhenSettled(): void {
    this.#wakeIn('settled', this.#d.cfg.syncGraceMs + this.#d.cfg.checkIntervalMs);
  }

  #wakeIn(cause: 'boot' | 'settled', ms: number): void {
    if (this.#wakeTimers.has(cause)) return;
    this.#wakeTimers.set(
      cause,
      setTimeout(() => {
        this.#wakeTimers.delete(cause);
        this.#wake?.();
      }, ms),
    );
  }

  /** Runs rounds until {@link stop}; never throws (a failed round is logged and retried). */
  async run(): Promise<void> {
    while (!this.#stopped) {
      const t0 = performance.now();
      try {
        await this.round();
      } catch (err) {
        this.#d.log.error({ err: describeError(err) }, 'round failed');
      }
      const roundMs = performance.now() - t0;
      this.metrics.roundDuration.observe(roundMs / 1000);
      if (roundMs > 1_000) {
        const slow = this.#last?.results
          .filter((r) => r.durationMs > 500)
          .map((r) => `${r.check} ${Math.round(r.durationMs)} ms`);
        this.#d.log.debug({ roundMs: Math.round(roundMs), slow }, 'slow round');
      }
      // Fast while closed or while an open gate is failing (so it re-closes promptly), slow when all is well.
      const steady = this.#memory?.closed === false && this.#memory.failures === 0 && !this.#repair?.pending;
      const pause = steady ? this.#d.cfg.steadyIntervalMs : this.#d.cfg.checkIntervalMs;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, pause);
        this.#wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.#wake = undefined;
    }
  }

  /** Stops after the current round. */
  stop(): void {
    this.#stopped = true;
    for (const t of this.#wakeTimers.values()) clearTimeout(t);
    this.#wakeTimers.clear();
    this.#wake?.();
  }

  /** One round: (new boot? close at once) else checks → verdict → decision → writes. */
  async round(): Promise<void> {
    const { cfg, caches } = this.#d;
    const node = caches.node();
    if (!node || !caches.synced()) return;
    // In dry-run nothing is written, so the Node never shows our decisions: overlay them here.
    const view = { ...gateNodeView(node), ...this.#dryRunView };
    if (view.bootId !== this.#bootId) {
      this.#bootId = view.bootId;
      this.#bootSeenAt = this.#d.clock.now();
      this.#timeline = [];
      this.#line('boot-seen', `bootID ${view.bootId ?? '?'}`);
      this.metrics.recordBoot(view.bootId);
    }
    this.#memory ??= initialGateMemory(view, this.#policy());
    const newBoot = view.bootId !== undefined && view.annotatedBootId !== view.bootId;
    // A new boot is gated before any check: the checks may take seconds, pods are arriving now.
    const results = newBoot ? [] : await this.#runChecks();
    const verdict = newBoot
      ? { status: 'Unknown' as const, reason: REASON_NEW_BOOT, message: 'new boot' }
      : combine(results);
    const decision = decideGate(
      this.#policy(),
      view,
      verdict,
      this.#memory,
      gateClusterView(caches.nodes(), cfg.nodeName),
      this.#d.clock.now(),
    );
    await this.#apply(node, decision);
    if (this.#d.cfg.dryRun) this.#dryRunView = simulate(view, decision);
    this.#memory = decision.memory;
    this.#rounds++;
    // Repair only once this boot's data path is verified (the gate is open): a pod recycled
    // earlier would get its network too early as well.
    if (this.#d.repair && !decision.memory.closed && !newBoot) {
      try {
        this.#repair = await this.#d.repair.round(caches.node() ?? node, caches.pods(), caches.cluster());
      } catch (err) {
        this.#d.log.error({ err: describeError(err) }, 'repair round failed');
      }
    }
    this.metrics.recordChecks(results);
    this.metrics.rounds.inc({ verdict: verdict.status });
    this.metrics.gateClosed.set(decision.memory.closed ? 1 : 0);
    this.metrics.breakerOpen.set(decision.memory.breakerHeld ? 1 : 0);
    this.metrics.podsCrashLoopingSinceBoot.set(crashLoopingSince(caches.pods(), this.#bootSeenAt));
    // The timeline notes every change of a check's status and of the verdict, nothing else.
    for (const r of results) {
      const before = this.#last?.results.find((x) => x.check === r.check);
      if (before?.status !== r.status || before.reason !== r.reason)
        this.#line(`check-${r.check}`, `${r.status} ${r.reason}: ${r.message}`);
    }
    if (this.#last?.verdict.status !== verdict.status || this.#last?.verdict.reason !== verdict.reason) {
      this.#line(`verdict-${verdict.status.toLowerCase()}`, `${verdict.reason}: ${verdict.message}`);
    }
    this.#last = { results, verdict, decision, at: this.#d.clock.now() };
  }

  /** The /status document. */
  status(): unknown {
    const last = this.#last;
    return {
      node: this.#d.cfg.nodeName,
      bootId: this.#bootId,
      mode: this.#d.cfg.mode,
      dryRun: this.#d.cfg.dryRun,
      gate: this.#memory
        ? {
            closed: this.#memory.closed,
            breakerHeld: this.#memory.breakerHeld,
            passes: this.#memory.passes,
            failures: this.#memory.failures,
          }
        : null,
      lastRound: last
        ? {
            at: new Date(last.at).toISOString(),
            verdict: last.verdict,
            condition: last.decision.condition,
            checks: last.results.map((r) => ({ ...r, evidence: r.evidence?.slice(0, 20) ?? [] })),
          }
        : null,
      repair: this.#repair
        ? {
            pending: this.#repair.pending,
            nodeProbe: this.#repair.nodeProbe ?? null,
            decisions: this.#repair.decisions
              .filter((d) => d.action !== 'skip' || d.reason === 'Healthy')
              .map((d) => ({
                pod: d.pod.key,
                action: d.action,
                reason: d.reason,
                explanation: d.explanation,
              })),
            report: this.#repair.report ?? null,
          }
        : null,
      timeline: this.#timeline,
    };
  }

  #policy() {
    const c = this.#d.cfg;
    return {
      mode: c.mode,
      openAfterPasses: c.openAfterPasses,
      closeAfterFailures: c.closeAfterFailures,
      taint: c.taint,
      maxGatedFraction: c.maxGatedFraction,
    };
  }

  /**
   * Runs the gating checks and waits for them; advisory checks run beside the rounds and report
   * their latest finished result, so a slow advisory check (a DNS query timing out while the data
   * path is broken) never delays the gate.
   */
  async #runChecks(): Promise<CheckResult[]> {
    const { cfg, caches, checks, checkContext } = this.#d;
    const ctx: CheckContext = {
      ...checkContext,
      nodeName: cfg.nodeName,
      timeoutMs: cfg.checkTimeoutMs,
      cluster: () => caches.cluster(),
      steady: this.#memory?.closed === false && this.#memory.failures === 0,
      clusterGeneration: caches.generation(),
    };
    for (const check of checks.filter((c) => !c.gating)) {
      if (this.#advisoryRunning.has(check.name)) continue;
      this.#advisoryRunning.add(check.name);
      void runCheck(check, ctx, cfg.checkTimeoutMs).then((r) => {
        this.#advisory.set(check.name, r);
        this.#advisoryRunning.delete(check.name);
      });
    }
    const gating = await Promise.all(
      checks.filter((c) => c.gating).map((c) => runCheck(c, ctx, cfg.checkTimeoutMs)),
    );
    // Pods recycled twice on this boot and still broken: the node is not fixed by recycling.
    const notHealed = this.#d.repair?.notHealed ?? [];
    if (notHealed.length > 0) {
      gating.push({
        check: 'repair',
        gating: true,
        status: 'Failing',
        reason: 'RecyclingDidNotHeal',
        message: `replacements of ${notHealed.join(', ')} are broken too; recycling stopped for this boot`,
        durationMs: 0,
      });
    }
    return [...gating, ...this.#advisory.values()];
  }

  /**
   * Makes the Node match the decision. Order matters: when closing, the taint goes on first (keep
   * new pods away as early as possible); when opening, `datapath-ready-at` is written before the
   * taint comes off (repair reads it). Each write is idempotent; dry-run only logs.
   */
  async #apply(node: Node, d: GateDecision): Promise<void> {
    const { cfg, nodes, log } = this.#d;
    const name = cfg.nodeName;
    const taint = { key: TAINT_KEY, effect: TAINT_EFFECT };
    if (cfg.dryRun) {
      if (d.transition)
        log.info(
          { transition: d.transition, condition: d.condition, taint: d.taint, annotations: d.annotations },
          'dry-run: would apply',
        );
      return;
    }
    // The cached Node decides whether a write is needed at all, so a steady round costs no request.
    const condition = { type: CONDITION_TYPE, ...d.condition };
    const now = this.#d.clock.now();
    if (d.taint === 'present' && taintPatch(node, taint, 'present'))
      await nodes.setTaint(name, taint, 'present');
    if (annotationsPatch(node, d.annotations)) await nodes.setAnnotations(name, d.annotations);
    if (conditionPatch(node, condition, now, CONDITION_HEARTBEAT_MS))
      await nodes.setCondition(name, condition, { heartbeatMs: CONDITION_HEARTBEAT_MS });
    if (d.taint === 'absent' && taintPatch(node, taint, 'absent'))
      await nodes.setTaint(name, taint, 'absent');
    if (d.transition) await this.#onTransition(node, d);
  }

  async #onTransition(node: Node, d: GateDecision): Promise<void> {
    const transition = d.transition as NonNullable<GateDecision['transition']>;
    this.metrics.gateTransitions.inc({ transition });
    if (transition === 'breaker-held') this.metrics.breakerHolds.inc();
    if (transition === 'opened') {
      const seconds = (this.#d.clock.now() - this.#bootSeenAt) / 1000;
      const readyAt = d.annotations[READY_AT_ANNOTATION];
      if (readyAt) this.metrics.bootToReady.set(seconds);
    }
    this.#line(`gate-${transition}`, `${d.condition.reason}: ${d.condition.message}`);
    this.#d.log.info({ transition, condition: d.condition }, `gate ${transition}`);
    const opened = transition === 'opened';
    const note = `${opened ? 'Data path verified; gate opened' : transition === 'breaker-held' ? 'Data path failing; breaker keeps the node schedulable' : 'Gate closed'}: ${d.condition.reason}: ${d.condition.message}`;
    try {
      await this.#d.events.emit({
        subject: {
          kind: 'Node',
          name: this.#d.cfg.nodeName,
          ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
        },
        type: opened ? 'Normal' : 'Warning',
        reason: opened
          ? 'DataPathGateOpened'
          : transition === 'breaker-held'
            ? 'DataPathBreakerOpen'
            : 'DataPathGateClosed',
        action: opened ? 'RemoveTaint' : 'AddTaint',
        note,
      });
    } catch (err) {
      this.#d.log.warn({ err: describeError(err) }, 'could not record event');
    }
  }

  #line(event: string, detail?: string): void {
    this.#timeline.push({
      at: new Date(this.#d.clock.now()).toISOString(),
      event,
      ...(detail ? { detail } : {}),
    });
    if (this.#timeline.length > 200) this.#timeline.shift();
  }
}

/** The node view after `decision` had been applied: what dry-run pretends the Node now says. */
export function simulate(view: GateNodeView, d: GateDecision): Partial<GateNodeView> {
  const a = d.annotations;
  return {
    annotatedBootId: BOOT_ID_ANNOTATION in a ? (a[BOOT_ID_ANNOTATION] ?? undefined) : view.annotatedBootId,
    readyAt: READY_AT_ANNOTATION in a ? (a[READY_AT_ANNOTATION] ?? undefined) : view.readyAt,
    tainted: d.taint === 'keep' ? view.tainted : d.taint === 'present',
    conditionStatus: d.condition.status,
    conditionReason: d.condition.reason,
  };
}

/** Runs one check with its deadline; a timeout or a throw becomes Unknown. Never throws. */
export async function runCheck(check: Check, ctx: CheckContext, timeoutMs: number): Promise<CheckResult> {
  const t0 = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<{ status: 'Unknown'; reason: string; message: string }>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({ status: 'Unknown', reason: 'CheckTimedOut', message: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    );
  });
  try {
    const r = await Promise.race([check.run(ctx), deadline]);
    return { check: check.name, gating: check.gating, durationMs: performance.now() - t0, ...r };
  } catch (err) {
    return {
      check: check.name,
      gating: check.gating,
      durationMs: performance.now() - t0,
      status: 'Unknown',
      reason: 'CheckCrashed',
      message: describeError(err),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Keeps the latest objects from the watches, for the checks and the gate. A Service whose object
 * or EndpointSlices changed less than `settleMs` ago is left out of the expected state: kube-proxy
 * needs a moment (its min sync period, then iptables-restore) to program a change, and normal
 * Service churn must not look like a broken node. Objects from the initial list count as settled.
 */
export class WatchCaches implements AgentCaches {
  readonly #self: string;
  readonly #nodes = new Map<string, Node>();
  readonly #services = new Map<string, Service>();
  readonly #slices = new Map<string, EndpointSlice>();
  readonly #pods = new Map<string, Pod>();
  readonly #synced = new Set<string>();
  /** `namespace/service` → when it (or one of its slices) last changed after the initial list. */
  readonly #changedAt = new Map<string, number>();
  #generation = 0;
  /** The last {@link cluster} answer; dropped by any Service, EndpointSlice or Pod event. */
  #clusterView: { generation: number; state: ClusterState } | undefined;
  #unsettledKey = '';
  #selfBoot: string | undefined;
  readonly #expect: number;
  readonly #settleMs: number;
  readonly #now: () => number;

  /** `expect` is the number of watches that must report synced before the caches are usable. */
  constructor(self: string, opts: { expect?: number; settleMs?: number; now?: () => number } = {}) {
    this.#self = self;
    this.#expect = opts.expect ?? 4;
    this.#settleMs = opts.settleMs ?? 10_000;
    this.#now = opts.now ?? Date.now;
  }

  node(): Node | undefined {
    return this.#nodes.get(this.#self);
  }
  nodes(): readonly Node[] {
    return [...this.#nodes.values()];
  }
  cluster(): ClusterState {
    const now = this.#now();
    const unsettled = this.#refreshSettled(now);
    // Several checks ask each round; rebuilding thousands of entries each time is pure garbage.
    if (this.#clusterView?.generation === this.#generation) return this.#clusterView.state;
    const serviceKey = (s: EndpointSlice): string =>
      `${s.metadata?.namespace}/${s.metadata?.labels?.['kubernetes.io/service-name'] ?? ''}`;
    const state: ClusterState = {
      services: [...this.#services.values()].filter(
        (s) => !unsettled.has(`${s.metadata?.namespace}/${s.metadata?.name}`),
      ),
      endpointSlices: [...this.#slices.values()].filter((s) => !unsettled.has(serviceKey(s))),
      pods: [...this.#pods.values()],
    };
    this.#clusterView = { generation: this.#generation, state };
    return state;
  }
  synced(): boolean {
    return this.#synced.size >= this.#expect;
  }
  generation(): number {
    this.#refreshSettled(this.#now());
    return this.#generation;
  }

  /** The Services still settling; moves the generation when that set changes. */
  #refreshSettled(now: number): Set<string> {
    const unsettled = new Set<string>();
    for (const [k, at] of this.#changedAt) {
      if (now - at < this.#settleMs) unsettled.add(k);
      else this.#changedAt.delete(k); // settled: forget it, the map stays small
    }
    // A Service that just settled changes the expected state without any watch event.
    const key = [...unsettled].sort().join(',');
    if (key !== this.#unsettledKey) {
      this.#unsettledKey = key;
      this.#generation++;
    }
    return unsettled;
  }
  /** Pods of this node. */
  pods(): readonly Pod[] {
    return [...this.#pods.values()];
  }

  /** Handlers for one watch, storing into the right map. */
  handlers<T extends { metadata?: { name?: string; namespace?: string; uid?: string } }>(
    kind: 'nodes' | 'services' | 'slices' | 'pods',
    onChange?: () => void,
  ) {
    const map = { nodes: this.#nodes, services: this.#services, slices: this.#slices, pods: this.#pods }[
      kind
    ] as Map<string, T>;
    return {
      onEvent: (ev: { type: string; object: T }) => {
        const key = `${ev.object.metadata?.namespace ?? ''}/${ev.object.metadata?.name ?? ''}`;
        const k = kind === 'nodes' ? (ev.object.metadata?.name ?? '') : key;
        // managedFields are often the largest part of an object and nothing here reads them.
        if (ev.object.metadata) delete (ev.object.metadata as { managedFields?: unknown }).managedFields;
        if (ev.type === 'DELETED') map.delete(k);
        else map.set(k, ev.object);
        if (kind !== 'nodes') this.#clusterView = undefined;
        if (this.#synced.has(kind) && (kind === 'services' || kind === 'slices')) {
          const labels = (ev.object.metadata as { labels?: Record<string, string> } | undefined)?.labels;
          const svc =
            kind === 'services'
              ? key
              : `${ev.object.metadata?.namespace ?? ''}/${labels?.['kubernetes.io/service-name'] ?? ''}`;
          this.#changedAt.set(svc, this.#now());
          this.#generation++;
        }
        // Of the nodes, only a new boot of this one wakes the loop early (the gate must close at
        // once); the kubelet's periodic status updates must not turn into extra rounds.
        if (kind !== 'nodes') onChange?.();
        else if (k === this.#self) {
          const boot = (ev.object as Node).status?.nodeInfo?.bootID;
          if (boot !== this.#selfBoot) {
            this.#selfBoot = boot;
            onChange?.();
          }
        }
      },
      onSynced: () => this.#synced.add(kind),
    };
  }
}
