/**
 * The node agent's loop: each round run the checks, decide the gate (core/gate.ts), and make the
 * Node say so (condition, taint, annotations), with Events on transitions; then, once this boot's
 * data path is verified, one repair round. State that matters lives on the Node, so a restarted
 * agent continues where the last one stopped. A new boot closes the gate in the very first round,
 * before any check runs.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Check, CheckContext } from '../checks/check.ts';
import type { PodNetworkCheck } from '../checks/pod-network.ts';
import { countingPrograms } from '../collect/io.ts';
import { NftReads, readNftGeneration } from '../collect/nft-reads.ts';
import { ipStateOnce } from '../collect/pods.ts';
import { type CheckResult, combine, type Verdict } from '../core/check.ts';
import type { Clock } from '../core/clock.ts';
import { crashLoopingSince } from '../core/crashloop.ts';
import {
  CONDITION_TYPE,
  decideGate,
  GATED_LABEL,
  type GateDecision,
  type GateMemory,
  type GateNodeView,
  type GatePolicy,
  initialGateMemory,
  READY_AT_ANNOTATION,
  REASON_NEW_BOOT,
  TAINT_EFFECT,
  TAINT_KEY,
} from '../core/gate.ts';
import type { Node, Pod } from '../core/objects.ts';
import { describeError } from '../errors.ts';
import type { HeapTrimmer } from '../host/heap-trim.ts';
import type { EventApi } from '../kube/events.ts';
import { annotationsPatch, conditionPatch, taintPatch } from '../kube/node-patches.ts';
import type { NodeApi } from '../kube/nodes.ts';
import type { AgentCaches } from './caches.ts';
import type { AgentConfig } from './config.ts';
import { HeapTrimSchedule } from './heap-trim.ts';
import { AgentMetrics } from './metrics.ts';
import type { NodeTotal } from './node-total.ts';
import { gateClusterView, gateNodeView, simulate } from './node-view.ts';
import type { ReadinessGate } from './readiness-gate.ts';
import type { Repair, RepairRound } from './repair.ts';
import { runCheck } from './run-check.ts';
import { type LastRound, statusDocument, Timeline } from './status.ts';

/** kube-proxy pods are listed cluster-wide at most this often (only ever asked for on nodes without its rules). */
const KUBE_PROXY_PODS_TTL_MS = 5 * 60_000;

/** Everything the agent needs; all of it injectable. */
export interface AgentDeps {
  readonly cfg: AgentConfig;
  readonly nodes: NodeApi;
  readonly events: EventApi;
  readonly caches: AgentCaches;
  /** The number of selected Nodes (the breaker's total); absent: only the gated ones and this one count. */
  readonly nodeTotal?: NodeTotal;
  readonly checks: readonly Check[];
  /** The check whose per-pod problems feed repair's candidates. */
  readonly podNetwork?: PodNetworkCheck;
  readonly checkContext: Omit<
    CheckContext,
    | 'cluster'
    | 'nodeName'
    | 'timeoutMs'
    | 'steady'
    | 'clusterGeneration'
    | 'node'
    | 'kubeProxyPods'
    | 'bootTimeMs'
    | 'nftReads'
    | 'ipState'
  >;
  /** Lists kube-proxy pods cluster-wide (by label); absent: not listable. */
  readonly listKubeProxyPods?: () => Promise<readonly Pod[]>;
  /** When this boot of the node began (epoch ms), if known (the kernel's btime). */
  readonly bootTimeMs?: number;
  readonly clock: Clock;
  readonly log: Logger;
  readonly registry: Registry;
  /** Recycling of pods that got their network too early (off when absent). */
  readonly repair?: Repair;
  /** The `netwarden.dev/PodNetworkReady` readiness gate of pods that ask for it (off when absent). */
  readonly readinessGate?: ReadinessGate;
  /** Gives the C heap's free memory back after rounds, at most once a minute (off when absent). */
  readonly heapTrimmer?: HeapTrimmer;
}

/** First delay of the readiness gate's between-round pass after a pod change. */
const READINESS_SOON_MS = 1_000;
const NO_READINESS_WORK = { waiting: 0, firstProbes: 0 } as const;

/** The node agent. */
export class Agent {
  readonly #d: AgentDeps;
  readonly metrics: AgentMetrics;
  /** {@link AgentDeps.checkContext}, counting the programs it starts (netwarden_programs_started_total). */
  readonly #io: AgentDeps['checkContext'];
  #memory: GateMemory | undefined;
  #bootId: string | undefined;
  #bootSeenAt = 0;
  #last: LastRound | undefined;
  readonly #timeline = new Timeline();
  #rounds = 0;
  #stopped = false;
  #wake: (() => void) | undefined;
  /** Pending early wake-ups, one per cause, so a slow one never delays an urgent one. */
  readonly #wakeTimers = new Map<'boot' | 'settled', NodeJS.Timeout>();
  /**
   * Per cause, the latest wake-up asked for (epoch ms) while its timer was pending: the timer
   * wakes the loop, then is set again for this time, so the last change of a burst is checked
   * once it has settled, not only at the next steady round.
   */
  readonly #wakeLater = new Map<'boot' | 'settled', number>();
  /** A wake-up came while a round ran: the next round starts without the pause. */
  #wakeMissed = false;
  #dryRunView: Partial<GateNodeView> = {};
  #repair: RepairRound | undefined;
  readonly #advisory = new Map<string, CheckResult>();
  readonly #advisoryRunning = new Set<string>();
  #kubeProxyPods: { at: number; pods: readonly Pod[] | undefined } | undefined;
  /** Steady rounds' reuse of nftables listings, keyed by the ruleset generation. */
  readonly #nftReads = new NftReads();
  #nftGenerationWarned = false;
  /** The readiness gate between rounds: its timer, current delay, and one round at a time. */
  #readinessTimer: NodeJS.Timeout | undefined;
  #readinessDueAt = 0;
  #readinessDelayMs = READINESS_SOON_MS;
  #readinessChain: Promise<{ waiting: number; firstProbes: number }> = Promise.resolve(NO_READINESS_WORK);
  readonly #heapTrims: HeapTrimSchedule | undefined;

  constructor(deps: AgentDeps) {
    this.#d = deps;
    this.metrics = new AgentMetrics(deps.registry);
    this.#io = countingPrograms(deps.checkContext, (program) =>
      this.metrics.programsStarted.inc({ program }),
    );
    this.#heapTrims = deps.heapTrimmer
      ? new HeapTrimSchedule(deps.heapTrimmer, () => deps.clock.now(), this.metrics.heapTrims)
      : undefined;
  }

  /** True once caches are synced and one round has completed (/readyz). */
  ready(): boolean {
    return this.#d.caches.synced() && this.#rounds > 0;
  }

  /** Asks for a round soon (this node rebooted: the gate must close at once). */
  poke(): void {
    this.#wakeIn('boot', this.#d.cfg.checkInterval);
  }

  /**
   * A Service or EndpointSlice changed: asks for one round once the change has settled
   * (`--sync-grace`), so the kernel is checked against it without waiting for the steady
   * interval. Coalesced: during churn at most one extra round per grace period, and the last
   * change of a burst gets its round once it has settled too (a change while the wake-up for an
   * earlier one was pending used to wait for the next steady round, up to 30 s more).
   */
  pokeWhenSettled(): void {
    this.#wakeIn('settled', this.#d.cfg.syncGrace + this.#d.cfg.checkInterval);
  }

  /**
   * A pod of this node changed: serve the pod readiness gate within a second, between rounds. An
   * open gate has rounds only every --steady-interval, and a gated pod should turn Ready about when
   * its own probe can first pass, not up to 30 s later. Coalesced: a pass already due within a
   * second stands. A pass probes (bounded, as in a round) and runs no check.
   */
  pokeReadiness(): void {
    if (!this.#d.readinessGate || this.#stopped) return;
    const at = Date.now() + READINESS_SOON_MS;
    if (this.#readinessTimer && this.#readinessDueAt <= at) return;
    clearTimeout(this.#readinessTimer);
    this.#armReadiness(READINESS_SOON_MS);
  }

  #armReadiness(ms: number): void {
    this.#readinessDueAt = Date.now() + ms;
    this.#readinessTimer = setTimeout(() => {
      this.#readinessTimer = undefined;
      void this.#readinessBetweenRounds();
    }, ms);
  }

  /**
   * One readiness-only pass. While pods still wait (a probe failing, a namespace not found yet)
   * another pass follows, 1 s after one that probed a pod for the first time, else at twice the
   * last delay up to --steady-interval: a pod that stays broken costs a probe per steady interval,
   * not one every 2 s. The delay does not restart on a pod change, since the agent's own condition
   * writes are pod changes too.
   */
  async #readinessBetweenRounds(): Promise<void> {
    const node = this.#d.caches.node();
    if (!node || !this.#d.caches.synced() || this.#stopped) return;
    const r = await this.#readinessRound(node);
    if (this.#stopped || this.#readinessTimer) return;
    if (r.waiting === 0) {
      this.#readinessDelayMs = READINESS_SOON_MS;
      return;
    }
    this.#readinessDelayMs =
      r.firstProbes > 0
        ? READINESS_SOON_MS
        : Math.min(this.#readinessDelayMs * 2, this.#d.cfg.steadyInterval);
    this.#armReadiness(this.#readinessDelayMs);
  }

  /**
   * Wakes the loop in `ms`. Coalesced per cause: while a timer is pending a later ask only moves
   * {@link #wakeLater}, so churn brings at most one extra round per timer's length. A wake-up
   * during a round is kept for its end ({@link #wakeMissed}), not lost.
   */
  #wakeIn(cause: 'boot' | 'settled', ms: number): void {
    const due = Date.now() + ms;
    if (this.#wakeTimers.has(cause)) {
      if (due > (this.#wakeLater.get(cause) ?? 0)) this.#wakeLater.set(cause, due);
      return;
    }
    this.#wakeTimers.set(
      cause,
      setTimeout(() => {
        this.#wakeTimers.delete(cause);
        if (this.#wake) this.#wake();
        else this.#wakeMissed = true;
        const later = this.#wakeLater.get(cause);
        this.#wakeLater.delete(cause);
        if (later !== undefined && !this.#stopped) this.#wakeIn(cause, Math.max(0, later - Date.now()));
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
      this.#heapTrims?.afterRound();
      if (roundMs > 1_000) {
        const slow = this.#last?.results
          .filter((r) => r.durationMs > 500)
          .map((r) => `${r.check} ${Math.round(r.durationMs)} ms`);
        this.#d.log.debug({ roundMs: Math.round(roundMs), slow }, 'slow round');
      }
      // Fast while closed or while an open gate is failing (so it re-closes promptly), slow when all is well.
      const steady = this.#memory?.closed === false && this.#memory.failures === 0 && !this.#repair?.pending;
      const pause = steady ? this.#d.cfg.steadyInterval : this.#d.cfg.checkInterval;
      // Stopped during the round, or woken during it: no pause.
      if (this.#stopped) break;
      if (this.#wakeMissed) {
        this.#wakeMissed = false;
        continue;
      }
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
    this.#wakeLater.clear();
    clearTimeout(this.#readinessTimer);
    this.#readinessTimer = undefined;
    this.#wake?.();
  }

  /** One round: (new boot? close at once) else checks → verdict → decision → writes → repair. */
  async round(): Promise<void> {
    const { cfg, caches } = this.#d;
    const node = caches.node();
    if (!node || !caches.synced()) return;
    // In dry-run nothing is written, so the Node never shows our decisions: overlay them here.
    const view = { ...gateNodeView(node), ...this.#dryRunView };
    this.#noteBoot(view);
    this.#memory ??= initialGateMemory(view, this.#policy());
    const newBoot = view.bootId !== undefined && view.annotatedBootId !== view.bootId;
    // A new boot is gated before any check: the checks may take seconds, pods are arriving now.
    const results = newBoot ? [] : await this.#runChecks();
    const verdict: Verdict = newBoot
      ? { status: 'Unknown', reason: REASON_NEW_BOOT, message: 'new boot' }
      : combine(results);
    // The breaker is consulted only while the gate is closed or a check fails (core/gate.ts), and
    // never for a new boot: only then is the total worth a request (and worth waiting for).
    const breakerMatters = !newBoot && (this.#memory.closed || verdict.status === 'Failing');
    const total = breakerMatters ? await this.#d.nodeTotal?.fresh() : this.#d.nodeTotal?.known();
    const now = this.#d.clock.now();
    const decision = decideGate(
      this.#policy(),
      view,
      verdict,
      this.#memory,
      // Without any count the total is the nodes seen (the gated and this one): a stricter breaker.
      gateClusterView(caches.gatedNodes(), total ?? 0, cfg.nodeName, now, cfg.bootHoldGrace),
      now,
    );
    await this.#apply(node, decision);
    if (cfg.dryRun) this.#dryRunView = simulate(view, decision);
    this.#memory = decision.memory;
    this.#rounds++;
    // Repair only once this boot's data path is verified (the gate is open): a pod recycled
    // earlier would get its network too early as well.
    if (this.#d.repair && !decision.memory.closed && !newBoot) await this.#repairRound(node);
    await this.#readinessRound(node);
    this.#record(results, verdict, decision);
  }

  #noteBoot(view: GateNodeView): void {
    if (view.bootId === this.#bootId) return;
    this.#bootId = view.bootId;
    this.#bootSeenAt = this.#d.clock.now();
    this.#timeline.reset();
    this.#line('boot-seen', `bootID ${view.bootId ?? '?'}`);
    this.metrics.recordBoot(view.bootId);
  }

  async #repairRound(node: Node): Promise<void> {
    const { caches, repair } = this.#d;
    try {
      this.#repair = await repair?.round(caches.node() ?? node, caches.pods(), caches.cluster(), {
        ...(this.#d.podNetwork ? { podNetworkProblems: this.#d.podNetwork.problems() } : {}),
        ...(this.#d.bootTimeMs !== undefined ? { bootTimeMs: this.#d.bootTimeMs } : {}),
      });
    } catch (err) {
      this.#d.log.error({ err: describeError(err) }, 'repair round failed');
    }
  }

  /** One pass of the readiness gate, never two at once (rounds and between-round passes queue). */
  #readinessRound(node: Node): Promise<{ waiting: number; firstProbes: number }> {
    const { caches, readinessGate } = this.#d;
    if (!readinessGate) return Promise.resolve(NO_READINESS_WORK);
    this.#readinessChain = this.#readinessChain.then(async () => {
      try {
        const r = await readinessGate.round(caches.node() ?? node, caches.pods(), caches.cluster());
        for (const w of r.written)
          this.#line('pod-network-ready', `${w.pod}: ${w.condition.status} ${w.condition.reason}`);
        return r;
      } catch (err) {
        this.#d.log.error({ err: describeError(err) }, 'readiness gate round failed');
        return NO_READINESS_WORK;
      }
    });
    return this.#readinessChain;
  }

  /** Metrics and the timeline: every change of a check's status and of the verdict, nothing else. */
  #record(results: readonly CheckResult[], verdict: Verdict, decision: GateDecision): void {
    this.metrics.recordChecks(results);
    this.metrics.rounds.inc({ verdict: verdict.status });
    this.metrics.gateClosed.set(decision.memory.closed ? 1 : 0);
    this.metrics.breakerOpen.set(decision.memory.breakerHeld ? 1 : 0);
    this.metrics.podsCrashLoopingSinceBoot.set(crashLoopingSince(this.#d.caches.pods(), this.#bootSeenAt));
    for (const r of results) {
      const before = this.#last?.results.find((x) => x.check === r.check);
      if (before?.status !== r.status || before.reason !== r.reason)
        this.#line(`check-${r.check}`, `${r.status} ${r.reason}: ${r.message}`);
    }
    if (this.#last?.verdict.status !== verdict.status || this.#last?.verdict.reason !== verdict.reason)
      this.#line(`verdict-${verdict.status.toLowerCase()}`, `${verdict.reason}: ${verdict.message}`);
    this.#last = { results, verdict, decision, at: this.#d.clock.now() };
  }

  /** The /status document. */
  status(): unknown {
    return statusDocument({
      node: this.#d.cfg.nodeName,
      bootId: this.#bootId,
      mode: this.#d.cfg.mode,
      dryRun: this.#d.cfg.dryRun,
      memory: this.#memory,
      last: this.#last,
      repair: this.#repair,
      timeline: this.#timeline.lines(),
    });
  }

  #policy(): GatePolicy {
    const c = this.#d.cfg;
    return {
      mode: c.mode,
      openAfterPasses: c.openAfterPasses,
      closeAfterFailures: c.closeAfterFailures,
      taint: c.taint,
      maxGatedFraction: c.maxGatedFraction,
      maxBootHoldMs: c.maxBootHold,
      bootHoldGraceMs: c.bootHoldGrace,
    };
  }

  /** kube-proxy pods cluster-wide, cached; undefined when they cannot be listed. */
  async #listKubeProxyPods(): Promise<readonly Pod[] | undefined> {
    const list = this.#d.listKubeProxyPods;
    if (!list) return undefined;
    const now = this.#d.clock.now();
    if (this.#kubeProxyPods && now - this.#kubeProxyPods.at < KUBE_PROXY_PODS_TTL_MS)
      return this.#kubeProxyPods.pods;
    let pods: readonly Pod[] | undefined;
    try {
      pods = await list();
    } catch (err) {
      this.#d.log.warn({ err: describeError(err) }, 'could not list kube-proxy pods');
    }
    this.#kubeProxyPods = { at: now, pods };
    return pods;
  }

  /**
   * The nftables ruleset generation, read before the round's listings; undefined (nothing is
   * reused) when `--nft-generation-bin` is empty or the read fails — said once at warn level.
   */
  async #nftGeneration(): Promise<number | undefined> {
    const bin = this.#d.cfg.nftGenerationBin;
    if (!bin) return undefined;
    const r = await readNftGeneration(this.#io, bin, Math.min(this.#d.cfg.checkTimeout, 3_000));
    if (r.status === 'ok') return r.value;
    const detail = {
      source: r.source,
      reason: r.status === 'unknown' ? r.reason : 'absent',
      detail: r.detail,
    };
    if (!this.#nftGenerationWarned)
      this.#d.log.warn(detail, 'cannot read the nftables generation: steady rounds list everything');
    else this.#d.log.debug(detail, 'nftables generation unknown');
    this.#nftGenerationWarned = true;
    return undefined;
  }

  /**
   * Runs the gating checks and waits for them; advisory checks run beside the rounds and report
   * their latest finished result, so a slow advisory check (a DNS query timing out while the data
   * path is broken) never delays the gate.
   */
  async #runChecks(): Promise<CheckResult[]> {
    const { cfg, caches, checks } = this.#d;
    const checkContext = this.#io;
    const steady = this.#memory?.closed === false && this.#memory.failures === 0;
    this.#nftReads.startRound(steady ? await this.#nftGeneration() : undefined);
    const ctx: CheckContext = {
      ...checkContext,
      nodeName: cfg.nodeName,
      node: () => caches.node(),
      timeoutMs: cfg.checkTimeout,
      cluster: () => caches.cluster(),
      kubeProxyPods: () => this.#listKubeProxyPods(),
      ...(this.#d.bootTimeMs !== undefined ? { bootTimeMs: this.#d.bootTimeMs } : {}),
      steady,
      clusterGeneration: caches.generation(),
      ...(steady ? { nftReads: this.#nftReads } : {}),
      // The cni and pod-network checks share one `ip` listing per round (3 s: local netlink dumps).
      ipState: ipStateOnce(checkContext, Math.min(cfg.checkTimeout, 3_000)),
    };
    for (const check of checks.filter((c) => !c.gating)) {
      if (this.#advisoryRunning.has(check.name)) continue;
      this.#advisoryRunning.add(check.name);
      void runCheck(check, ctx, cfg.checkTimeout).then((r) => {
        this.#advisory.set(check.name, r);
        this.#advisoryRunning.delete(check.name);
      });
    }
    const gating = await Promise.all(
      checks.filter((c) => c.gating).map((c) => runCheck(c, ctx, cfg.checkTimeout)),
    );
    const listings = this.#nftReads.takeCounts();
    this.metrics.nftListings.inc({ outcome: 'reused' }, listings.reused);
    this.metrics.nftListings.inc({ outcome: 'listed' }, listings.listed);
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
   * taint comes off (repair reads it). The gated label rides in the taint's own request, so the
   * other agents' breakers see exactly the tainted nodes; a label out of step with the taint
   * (a taint placed by an older version) is corrected the same way. Each write is idempotent;
   * dry-run only logs.
   */
  async #apply(node: Node, d: GateDecision): Promise<void> {
    const { cfg, nodes, log } = this.#d;
    const name = cfg.nodeName;
    const taint = { key: TAINT_KEY, effect: TAINT_EFFECT };
    const label = { label: GATED_LABEL };
    if (cfg.dryRun) {
      if (d.transition)
        log.info(
          { transition: d.transition, condition: d.condition, taint: d.taint, annotations: d.annotations },
          'dry-run: would apply',
        );
      return;
    }
    // The cached Node decides whether a write is needed at all, so a steady round costs no request.
    // Nothing is re-written periodically (no heartbeat): an unchanged gate costs zero writes, and
    // "is the agent running" is the NetwardenAgentAbsent alert's question (the Node cannot say).
    const condition = { type: CONDITION_TYPE, ...d.condition };
    const now = this.#d.clock.now();
    if (d.taint === 'present' && taintPatch(node, taint, 'present', GATED_LABEL))
      await nodes.setTaint(name, taint, 'present', label);
    if (annotationsPatch(node, d.annotations)) await nodes.setAnnotations(name, d.annotations);
    if (conditionPatch(node, condition, now)) await nodes.setCondition(name, condition);
    if (d.taint === 'absent' && taintPatch(node, taint, 'absent', GATED_LABEL))
      await nodes.setTaint(name, taint, 'absent', label);
    if (d.taint === 'keep' && taintPatch(node, taint, 'keep', GATED_LABEL))
      await nodes.setTaint(name, taint, 'keep', label);
    if (d.transition) await this.#onTransition(node, d);
  }

  async #onTransition(node: Node, d: GateDecision): Promise<void> {
    const transition = d.transition as NonNullable<GateDecision['transition']>;
    this.metrics.gateTransitions.inc({ transition });
    if (transition === 'breaker-held') this.metrics.breakerHolds.inc();
    if (transition === 'boot-hold-expired') this.metrics.bootHoldExpired.inc();
    if (transition === 'opened' && d.annotations[READY_AT_ANNOTATION])
      this.metrics.bootToReady.set((this.#d.clock.now() - this.#bootSeenAt) / 1000);
    this.#line(`gate-${transition}`, `${d.condition.reason}: ${d.condition.message}`);
    this.#d.log.info({ transition, condition: d.condition }, `gate ${transition}`);
    const event = TRANSITION_EVENTS[transition];
    try {
      await this.#d.events.emit({
        subject: {
          kind: 'Node',
          name: this.#d.cfg.nodeName,
          ...(node.metadata?.uid ? { uid: node.metadata.uid } : {}),
        },
        type: event.type,
        reason: event.reason,
        action: event.action,
        note: `${event.note}: ${d.condition.reason}: ${d.condition.message}`,
      });
    } catch (err) {
      this.#d.log.warn({ err: describeError(err) }, 'could not record event');
    }
  }

  #line(event: string, detail?: string): void {
    this.#timeline.add(this.#d.clock.now(), event, detail);
  }
}

/** The Event each gate transition records on the Node. */
const TRANSITION_EVENTS: Record<
  NonNullable<GateDecision['transition']>,
  { type: 'Normal' | 'Warning'; reason: string; action: string; note: string }
> = {
  opened: {
    type: 'Normal',
    reason: 'DataPathGateOpened',
    action: 'RemoveTaint',
    note: 'Data path verified; gate opened',
  },
  'closed-new-boot': {
    type: 'Warning',
    reason: 'DataPathGateClosed',
    action: 'AddTaint',
    note: 'Gate closed',
  },
  closed: { type: 'Warning', reason: 'DataPathGateClosed', action: 'AddTaint', note: 'Gate closed' },
  'breaker-held': {
    type: 'Warning',
    reason: 'DataPathBreakerOpen',
    action: 'RemoveTaint',
    note: 'Data path failing; breaker keeps the node schedulable',
  },
  'boot-hold-expired': {
    type: 'Warning',
    reason: 'DataPathBootHoldExpired',
    action: 'RemoveTaint',
    note: 'Boot hold expired unverified; gate opened',
  },
};
