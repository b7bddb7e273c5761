/**
 * The agent's boot gate component (`--boot-gate`): keeps the `netwarden-cni-gate` plugin
 * installed and last in the node's active conflist — again after the CNI daemon rewrites it (the
 * VPC CNI writes 10-aws.conflist at every start; Calico too) — heartbeats so the plugin knows the
 * agent runs, and records "this boot verified" the moment the Node shows the gate opened on this
 * boot, which releases every held pod network set-up at once.
 *
 * The folder is watched (fs.watch, debounced) and rescanned every `rescanMs` in case a change was
 * missed; each pass is bounded (a few small files and one stat of the plugin). Stopping the agent
 * does not uninstall (a restart must not open a window): `netwarden cni-gate uninstall` does.
 */
import { type FSWatcher, watch } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { type GateSettings, gateEntry, verifiedBootId } from '../core/boot-gate.ts';
import type { Node } from '../core/objects.ts';
import { describeError } from '../errors.ts';
import { pluginPath } from './binary.ts';
import { type ConfDirGate, ensureGateInConfDir } from './conf-dir.ts';
import { type CniFolders, installBootGate } from './install.ts';
import { BootGateMetrics } from './metrics.ts';
import { GateState } from './state.ts';

/** What the component needs. */
export interface BootGateDeps {
  readonly settings: GateSettings;
  readonly folders: CniFolders;
  /** The plugin executable to install (shipped in the agent's image). */
  readonly pluginSource: string;
  readonly log: Logger;
  readonly registry: Registry;
  /** Heartbeat period; must stay well below the plugin's heartbeatStale (default 5 s vs 30 s). */
  readonly heartbeatMs?: number;
  /** Rescan period of the CNI folders (default 10 s). */
  readonly rescanMs?: number;
  /** Quiet time after a folder event before reconciling (default 100 ms). */
  readonly debounceMs?: number;
}

/** The /status view of the boot gate. */
export interface BootGateStatus {
  readonly conf: ConfDirGate | undefined;
  readonly bootId: string | undefined;
  readonly verified: boolean;
  readonly lastError: string | undefined;
}

/** The boot gate component. */
export class BootGate {
  readonly #d: BootGateDeps;
  readonly #state: GateState;
  readonly metrics: BootGateMetrics;
  readonly #entry: Record<string, unknown>;
  readonly #timers: NodeJS.Timeout[] = [];
  #watcher: FSWatcher | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<void> | undefined;
  #again = false;
  #conf: ConfDirGate | undefined;
  #binary: { size: number; mtimeMs: number; ino: number } | undefined;
  #bootId: string | undefined;
  #verified: string | undefined;
  #marking: Promise<void> = Promise.resolve();
  #refused: string | undefined;
  #lastError: string | undefined;
  #stopped = false;

  constructor(deps: BootGateDeps) {
    this.#d = deps;
    this.#state = new GateState(deps.settings.stateDir, deps.settings.bootIdFile);
    this.metrics = new BootGateMetrics(deps.registry);
    this.#entry = gateEntry(deps.settings);
  }

  /**
   * Heartbeats first (from then on the plugin holds pods rather than failing open for "agent
   * absent"), then installs, then watches. Never throws: a pass that fails (missing plugin
   * source, a folder not mounted yet) is logged, shows in {@link status} and the
   * `netwarden_cni_gate_installed` metric, and is retried every rescan; the agent's other duties
   * go on meanwhile.
   */
  async start(): Promise<void> {
    await this.#beat();
    await this.#reconcile();
    this.#watch();
    this.#timers.push(setInterval(() => void this.#beat(), this.#d.heartbeatMs ?? 5_000));
    this.#timers.push(setInterval(() => this.#kick(0), this.#d.rescanMs ?? 10_000));
  }

  /** Stops watching and heartbeating; leaves the gate installed. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    clearTimeout(this.#debounce);
    this.#watcher?.close();
    await this.#running;
    await this.#marking;
  }

  /**
   * Call on every change of this agent's Node: once the Node shows this boot verified (the gate
   * opened: `netwarden.dev/boot-id` is the current boot and `datapath-ready-at` is set), held
   * pods are released. A Node whose boot id differs from the local one (stale status just after a
   * reboot) releases nothing.
   */
  nodeChanged(node: Node | undefined): void {
    const id = node
      ? verifiedBootId({
          bootId: node.status?.nodeInfo?.bootID || undefined,
          annotations: node.metadata?.annotations ?? {},
        })
      : undefined;
    if (id === undefined || id === this.#verified) return;
    this.#marking = this.#marking.then(() => this.#markVerified(id));
  }

  /** Where the gate stands. */
  status(): BootGateStatus {
    return {
      conf: this.#conf,
      bootId: this.#bootId,
      verified: this.#verified !== undefined && this.#verified === this.#bootId,
      lastError: this.#lastError,
    };
  }

  async #markVerified(id: string): Promise<void> {
    try {
      const local = await this.#state.bootId();
      if (local !== id) {
        if (this.#refused !== id)
          this.#d.log.warn(
            { nodeBootId: id, localBootId: local },
            'boot gate: the Node reports a verified boot that is not this one; not releasing',
          );
        this.#refused = id;
        return;
      }
      if (await this.#state.markVerified(id))
        this.#d.log.info({ bootId: id }, 'boot gate: this boot verified; held pod network set-ups pass');
      this.#verified = id;
      this.metrics.verified.set(1);
    } catch (err) {
      this.#d.log.error({ err: describeError(err) }, 'boot gate: could not record this boot as verified');
    }
  }

  async #beat(): Promise<void> {
    try {
      const stamp = await this.#state.beat();
      if (stamp.bootId !== this.#bootId) {
        this.#bootId = stamp.bootId;
        this.#verified = await this.#state.verifiedBootId();
      }
      this.metrics.verified.set(this.#verified === stamp.bootId ? 1 : 0);
      this.metrics.syncCounts(await this.#state.counters());
    } catch (err) {
      // The plugin then sees a stale heartbeat and fails open: logged, never fatal.
      this.#d.log.error({ err: describeError(err) }, 'boot gate: heartbeat failed');
    }
  }

  #watch(): void {
    if (this.#watcher || this.#stopped) return;
    try {
      this.#watcher = watch(this.#d.folders.confDir, () => this.#kick(this.#d.debounceMs ?? 100));
      this.#watcher.on('error', (err) => {
        this.#d.log.warn(
          { err: describeError(err) },
          'boot gate: watch of the CNI folder failed; rescanning',
        );
        this.#watcher?.close();
        this.#watcher = undefined;
      });
    } catch (err) {
      // No folder yet (the CNI daemon has not started): the periodic rescan retries.
      this.#d.log.warn({ err: describeError(err), dir: this.#d.folders.confDir }, 'boot gate: cannot watch');
    }
  }

  /** Reconciles after `delayMs` of quiet; at most one pass runs, a request meanwhile runs one more. */
  #kick(delayMs: number): void {
    if (this.#stopped) return;
    clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => {
      if (this.#running) {
        this.#again = true;
        return;
      }
      this.#running = this.#reconcile().finally(() => {
        this.#running = undefined;
        if (this.#again) {
          this.#again = false;
          this.#kick(0);
        }
      });
    }, delayMs);
  }

  async #reconcile(): Promise<void> {
    this.#watch();
    try {
      // The stat spares re-reading the plugin (a few MB) on every rescan when nothing touched it.
      const st = await stat(pluginPath(this.#d.folders.binDir)).catch(() => undefined);
      const b = this.#binary;
      const same = st && b && st.ino === b.ino && st.size === b.size && st.mtimeMs === b.mtimeMs;
      const res = same
        ? {
            binary: 'unchanged' as const,
            conf: await ensureGateInConfDir(this.#d.folders.confDir, this.#entry),
          }
        : await installBootGate(this.#d.folders, this.#d.pluginSource, this.#entry);
      if (res.binary === 'installed')
        this.#d.log.info({ binDir: this.#d.folders.binDir }, 'boot gate: plugin installed');
      const after = await stat(pluginPath(this.#d.folders.binDir));
      this.#binary = { size: after.size, mtimeMs: after.mtimeMs, ino: after.ino };
      this.#report(res.conf);
      this.#lastError = undefined;
    } catch (err) {
      const why = describeError(err);
      // Retried every rescan: logged when the reason changes, not every 10 s.
      if (why !== this.#lastError) this.#d.log.error({ err: why }, 'boot gate: install pass failed');
      this.#lastError = why;
      this.metrics.installed.set(0);
    }
  }

  #report(conf: ConfDirGate): void {
    const before = this.#conf;
    this.#conf = conf;
    this.metrics.installed.set(conf.state === 'installed' ? 1 : 0);
    if (conf.state === 'installed' && conf.changed) {
      this.metrics.conflistWrites.inc();
      this.#d.log.info(
        { file: conf.file, again: before?.state === 'installed' },
        before?.state === 'installed'
          ? 'boot gate: re-inserted into the CNI configuration (it was rewritten)'
          : 'boot gate: inserted into the CNI configuration',
      );
    } else if (
      conf.state !== 'installed' &&
      (before?.state !== conf.state || reasonOf(before) !== reasonOf(conf))
    ) {
      this.#d.log.warn(
        { state: conf.state, reason: reasonOf(conf) },
        'boot gate: not in the CNI configuration',
      );
    }
  }
}

function reasonOf(c: ConfDirGate | undefined): string {
  return c && 'reason' in c ? c.reason : '';
}
