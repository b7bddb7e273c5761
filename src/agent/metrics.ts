/** The agent's Prometheus metrics (prefix netwarden_, base units, a `check` label). */
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { CHECK_STATUSES, type CheckResult } from '../core/check.ts';

/** Every metric the gate loop updates. */
export class AgentMetrics {
  readonly checkStatus: Gauge<'check' | 'status'>;
  readonly checkDuration: Histogram<'check'>;
  readonly gateClosed: Gauge;
  readonly gateTransitions: Counter<'transition'>;
  readonly bootToReady: Gauge;
  readonly breakerOpen: Gauge;
  readonly breakerHolds: Counter;
  readonly bootHoldExpired: Counter;
  readonly rounds: Counter<'verdict'>;
  readonly roundDuration: Histogram;
  readonly bootInfo: Gauge<'boot_id'>;
  readonly podsCrashLoopingSinceBoot: Gauge;
  readonly nftListings: Counter<'outcome'>;
  readonly programsStarted: Counter<'program'>;
  readonly heapTrims: Counter<'outcome'>;

  constructor(registry: Registry) {
    const registers = [registry];
    this.checkStatus = new Gauge({
      name: 'netwarden_check_status',
      help: '1 for the current status (Ok, Failing, Unknown, NotApplicable) of each check',
      labelNames: ['check', 'status'],
      registers,
    });
    this.checkDuration = new Histogram({
      name: 'netwarden_check_duration_seconds',
      help: 'how long each check took',
      labelNames: ['check'],
      buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.gateClosed = new Gauge({
      name: 'netwarden_gate_closed',
      help: '1 while the gate of this node is closed',
      registers,
    });
    this.gateTransitions = new Counter({
      name: 'netwarden_gate_transitions_total',
      help: 'gate transitions by kind',
      labelNames: ['transition'],
      registers,
    });
    this.bootToReady = new Gauge({
      name: 'netwarden_boot_to_ready_seconds',
      help: "seconds from this boot's first sighting to its data path being verified",
      registers,
    });
    this.nftListings = new Counter({
      name: 'netwarden_nft_listings_total',
      help: 'steady-round listings of nftables state: reused (the ruleset generation stood) or listed',
      labelNames: ['outcome'],
      registers,
    });
    this.programsStarted = new Counter({
      name: 'netwarden_programs_started_total',
      help: 'programs the agent rounds started on the node (iptables-nft-save once per full kube-proxy rule read), by name',
      labelNames: ['program'],
      registers,
    });
    this.heapTrims = new Counter({
      name: 'netwarden_heap_trims_total',
      help: "times the agent gave the C heap's free memory back to the kernel (malloc_trim, --heap-trim): returned (some was), nothing, or failed (then no more trims)",
      labelNames: ['outcome'],
      registers,
    });
    this.breakerOpen = new Gauge({
      name: 'netwarden_breaker_open',
      help: '1 while the cluster breaker keeps this node untainted despite failures',
      registers,
    });
    this.breakerHolds = new Counter({
      name: 'netwarden_breaker_holds_total',
      help: 'times the breaker prevented a taint',
      registers,
    });
    this.bootHoldExpired = new Counter({
      name: 'netwarden_boot_hold_expired_total',
      help: 'boot holds that reached --max-boot-hold unverified and opened the gate anyway',
      registers,
    });
    this.rounds = new Counter({
      name: 'netwarden_rounds_total',
      help: 'verification rounds by verdict',
      labelNames: ['verdict'],
      registers,
    });
    this.roundDuration = new Histogram({
      name: 'netwarden_round_duration_seconds',
      help: 'duration of a whole round (checks, decision, writes)',
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    });
    this.bootInfo = new Gauge({
      name: 'netwarden_boot_info',
      help: "1 for this node's current boot (status.nodeInfo.bootID); alerts join on it to tie restarts to a boot",
      labelNames: ['boot_id'],
      registers,
    });
    this.podsCrashLoopingSinceBoot = new Gauge({
      name: 'netwarden_pods_crashlooping_since_boot',
      help: 'pods of this node in CrashLoopBackOff whose last crash happened on this boot (since the agent first saw it)',
      registers,
    });
  }

  /** Records a newly seen boot: exactly one boot_id series at a time. */
  recordBoot(bootId: string | undefined): void {
    this.bootInfo.reset();
    if (bootId) this.bootInfo.set({ boot_id: bootId }, 1);
  }

  /** Records one round's check results. */
  recordChecks(results: readonly CheckResult[]): void {
    for (const r of results) {
      for (const s of CHECK_STATUSES)
        this.checkStatus.set({ check: r.check, status: s }, r.status === s ? 1 : 0);
      this.checkDuration.observe({ check: r.check }, r.durationMs / 1000);
    }
  }
}
