/** The boot gate's Prometheus metrics (prefix netwarden_cni_gate_). */
import { Counter, Gauge, type Registry } from 'prom-client';
import { GATE_OUTCOMES, type GateOutcome } from '../core/boot-gate.ts';

/** Metrics the agent exports for the boot gate. */
export class BootGateMetrics {
  /** Mirrors the plugin's counters file (the plugin is a separate process per ADD). */
  readonly adds: Counter<'outcome'>;
  readonly installed: Gauge;
  readonly verified: Gauge;
  readonly conflistWrites: Counter;
  readonly #seen = new Map<GateOutcome, number>();

  constructor(registry: Registry) {
    const registers = [registry];
    this.adds = new Counter({
      name: 'netwarden_cni_gate_adds_total',
      help: 'pod network set-ups (CNI ADD) through the boot gate, by outcome (passed, exempt, released, retry, failed_open_*)',
      labelNames: ['outcome'],
      registers,
    });
    for (const o of GATE_OUTCOMES) this.adds.inc({ outcome: o }, 0);
    this.installed = new Gauge({
      name: 'netwarden_cni_gate_installed',
      help: '1 while the boot gate is the last plugin of the CNI configuration the runtime uses',
      registers,
    });
    this.verified = new Gauge({
      name: 'netwarden_cni_gate_boot_verified',
      help: '1 once this boot is recorded as verified for the boot gate (held pods pass)',
      registers,
    });
    this.conflistWrites = new Counter({
      name: 'netwarden_cni_gate_conflist_writes_total',
      help: 'times the agent (re)inserted the boot gate into the CNI configuration (e.g. after the CNI daemon rewrote it)',
      registers,
    });
  }

  /**
   * Adds what the plugin counted since the last sync. A count below the last one means the file
   * started over (a reboot clears /run): everything in it is new.
   */
  syncCounts(counts: Readonly<Record<GateOutcome, number>>): void {
    for (const o of GATE_OUTCOMES) {
      const now = counts[o];
      const before = this.#seen.get(o) ?? 0;
      const delta = now >= before ? now - before : now;
      if (delta > 0) this.adds.inc({ outcome: o }, delta);
      this.#seen.set(o, now);
    }
  }
}
