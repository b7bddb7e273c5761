/**
 * The agent's side of the boot gate's node-local state (formats: src/core/boot-gate.ts): the
 * heartbeat that tells the plugin the agent runs, the first sighting of this boot, the "this boot
 * verified" record that releases held pods, and reading back the plugin's counters and log.
 * Every write is atomic (temporary file + rename in the same folder), so the plugin never reads
 * a part of a record.
 */
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type BootStamp,
  formatBootSeen,
  formatHeartbeat,
  GATE_FILES,
  type GateLogSummary,
  type GateOutcome,
  parseBootStamp,
  parseGateCounters,
  parseUptimeMs,
  summarizeGateLog,
} from '../core/boot-gate.ts';
import { NetwardenError } from '../errors.ts';
import { writeFileAtomic } from '../host/atomic-write.ts';

/** Reads a small state file; undefined when absent. */
async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** One node's state folder. */
export class GateState {
  readonly dir: string;
  readonly #bootIdFile: string;
  readonly #uptimeFile: string;

  /** `uptimeFile` is /proc/uptime but for tests of unusual clock values. */
  constructor(dir: string, bootIdFile: string, uptimeFile = '/proc/uptime') {
    this.dir = dir;
    this.#bootIdFile = bootIdFile;
    this.#uptimeFile = uptimeFile;
  }

  /** This node's boot id, as the plugin reads it. */
  async bootId(): Promise<string> {
    const text = await readFile(this.#bootIdFile, 'utf8').catch((err: Error) => {
      throw new NetwardenError('input-unreadable', `boot id file ${this.#bootIdFile}: ${err.message}`);
    });
    const id = text.trim();
    if (id === '' || id.length > 64 || /\s/.test(id))
      throw new NetwardenError(
        'input-unreadable',
        `boot id file ${this.#bootIdFile} does not hold a boot id`,
      );
    return id;
  }

  /** Now on the boot clock (ms). */
  async uptimeMs(): Promise<number> {
    const ms = parseUptimeMs(await readFile(this.#uptimeFile, 'utf8'));
    if (typeof ms !== 'number') throw new NetwardenError('input-unreadable', ms.error);
    return ms;
  }

  /** This boot's id and the boot clock now. */
  async stamp(): Promise<BootStamp> {
    return { bootId: await this.bootId(), uptimeMs: await this.uptimeMs() };
  }

  /**
   * Writes the heartbeat; records the boot's first sighting when nobody has (the plugin counts
   * bootGateDeadline and agentStartGrace from it). Returns the stamp written.
   */
  async beat(): Promise<BootStamp> {
    const stamp = await this.stamp();
    await mkdir(this.dir, { recursive: true });
    const seen = parseBootStamp((await readText(join(this.dir, GATE_FILES.bootSeen))) ?? '');
    if (seen?.bootId !== stamp.bootId)
      await writeFileAtomic(join(this.dir, GATE_FILES.bootSeen), formatBootSeen(stamp), 0o644);
    await writeFileAtomic(join(this.dir, GATE_FILES.heartbeat), formatHeartbeat(stamp, process.pid), 0o644);
    return stamp;
  }

  /** The boot id recorded as verified, if any. */
  async verifiedBootId(): Promise<string | undefined> {
    return (await readText(join(this.dir, GATE_FILES.verified)))?.trim() || undefined;
  }

  /** Records `bootId` as verified (held ADDs of that boot pass at once). True when it wrote. */
  async markVerified(bootId: string): Promise<boolean> {
    if ((await this.verifiedBootId()) === bootId) return false;
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(join(this.dir, GATE_FILES.verified), `${bootId}\n`, 0o644);
    return true;
  }

  /** The plugin's counters (zeros when it never ran). */
  async counters(): Promise<Record<GateOutcome, number>> {
    return parseGateCounters((await readText(join(this.dir, GATE_FILES.counters))) ?? '{}');
  }

  /** The plugin's log (both generations), summarized for one boot or all. */
  async logSummary(bootId?: string): Promise<GateLogSummary> {
    const log = join(this.dir, GATE_FILES.log);
    const text = `${(await readText(`${log}.1`)) ?? ''}\n${(await readText(log)) ?? ''}`;
    return summarizeGateLog(text, bootId);
  }
}
