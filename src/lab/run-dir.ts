/**
 * One lab run's folder and the clean-up contract. Every process the lab starts carries
 * `NETWARDEN_LAB_RUN=<id>` in its environment, every network namespace is named `<id>-…`, and the
 * run folder records its owner's pid. So a later run can find and remove everything a killed run
 * left behind (processes, namespaces, /etc/netns entries, files) without touching anything else.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../host/exec.ts';
import { removeCgroupRoot, runCgroupRoots } from './cgroups.ts';
import { waitUntil } from './wait.ts';

export { waitUntil } from './wait.ts';

/** Env var naming the lab run a process belongs to. */
export const RUN_ENV = 'NETWARDEN_LAB_RUN';

/** Where run folders live: NETWARDEN_LAB_DIR or /tmp/netwarden-lab. */
export function labRoot(env: NodeJS.ProcessEnv = process.env): string {
  return env.NETWARDEN_LAB_DIR ?? '/tmp/netwarden-lab';
}

/** What a run folder records about its owner. */
interface OwnerRecord {
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: tells a live owner from a recycled pid. */
  readonly startTicks: string;
  readonly createdAt: string;
}

/** Run ids are short (they prefix interface and namespace names, limited to 15 characters). */
function newRunId(): string {
  return `nw${randomBytes(3).toString('hex')}`;
}

function procStartTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may contain spaces; fields after the closing paren are fixed.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // A killed owner stays a zombie until its parent (often PID 1, slowly) reaps it: not alive.
    if (rest[0] === 'Z' || rest[0] === 'X') return undefined;
    return rest[19];
  } catch {
    return undefined;
  }
}

/** A live run folder. */
export class LabRun {
  readonly id: string;
  readonly dir: string;
  readonly #cleanups: (() => Promise<void> | void)[] = [];

  private constructor(id: string, dir: string) {
    this.id = id;
    this.dir = dir;
  }

  /** Cleans stale runs, then creates a fresh run folder owned by `ownerPid` (default: this process). */
  static async create(opts: { root?: string; ownerPid?: number } = {}): Promise<LabRun> {
    const root = opts.root ?? labRoot();
    await cleanStaleRuns(root);
    const id = newRunId();
    const dir = join(root, id);
    mkdirSync(join(dir, 'logs'), { recursive: true });
    const pid = opts.ownerPid ?? process.pid;
    const owner: OwnerRecord = {
      pid,
      startTicks: procStartTicks(pid) ?? '',
      createdAt: new Date().toISOString(),
    };
    writeFileSync(join(dir, 'owner.json'), `${JSON.stringify(owner)}\n`);
    return new LabRun(id, dir);
  }

  /** Re-opens an existing run folder (for `lab down`/`status` from another process). */
  static open(dir: string, id: string): LabRun {
    return new LabRun(id, dir);
  }

  /** A path inside the run folder; parent folders are created. */
  path(...parts: string[]): string {
    const p = join(this.dir, ...parts);
    mkdirSync(join(p, '..'), { recursive: true });
    return p;
  }

  /** The environment every lab process gets. */
  env(extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
    return { ...process.env, ...extra, [RUN_ENV]: this.id };
  }

  /** Registers a clean-up step; steps run in reverse order on {@link close}. */
  onClose(step: () => Promise<void> | void): void {
    this.#cleanups.push(step);
  }

  /**
   * Runs the clean-up steps, then removes whatever still carries this run's id (processes,
   * namespaces) and the folder itself (kept when `keepFiles` or NETWARDEN_LAB_KEEP_LOGS=1, for a
   * post-mortem; the next lab command removes it as a stale run). Never throws; returns what could
   * not be removed.
   */
  async close(opts: { keepFiles?: boolean } = {}): Promise<string[]> {
    const keepFiles = opts.keepFiles ?? process.env.NETWARDEN_LAB_KEEP_LOGS === '1';
    const problems: string[] = [];
    for (const step of this.#cleanups.reverse()) {
      try {
        await step();
      } catch (err) {
        problems.push(err instanceof Error ? err.message : String(err));
      }
    }
    problems.push(...(await removeRunLeftovers(this.id)));
    if (!keepFiles) rmSync(this.dir, { recursive: true, force: true });
    return problems;
  }
}

/** Pids of processes whose environment names this run. */
export function pidsOfRun(id: string): number[] {
  return pidsWithEnv({ [RUN_ENV]: id });
}

/** Pids of processes (other than this one) whose environment holds every given variable. */
export function pidsWithEnv(vars: Readonly<Record<string, string>>): number[] {
  const needles = Object.entries(vars).map(([k, v]) => `\0${k}=${v}\0`);
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = `\0${readFileSync(`/proc/${entry}/environ`, 'latin1')}\0`;
      if (needles.every((n) => environ.includes(n))) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids.filter((p) => p !== process.pid);
}

/**
 * Kills a run's processes (those carrying its id, and every container in its nodes' cgroup
 * trees), removes those trees, deletes its namespaces and /etc/netns entries. A node's mount
 * namespace ends with its last process, taking its mounts with it. Returns problems.
 */
export async function removeRunLeftovers(id: string): Promise<string[]> {
  const problems = await killRunProcesses(id);
  for (const cg of runCgroupRoots(id)) problems.push(...(await removeCgroupRoot(cg)));
  return [...problems, ...(await deleteRunNamespaces(id))];
}

/** SIGTERM, then SIGKILL, every process carrying this run's id; returns survivors as problems. */
async function killRunProcesses(id: string): Promise<string[]> {
  for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
    const pids = pidsOfRun(id);
    if (pids.length === 0) return [];
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // gone
      }
    }
    await waitUntil(() => pidsOfRun(id).length === 0, signal === 'SIGTERM' ? 3_000 : 2_000);
  }
  const left = pidsOfRun(id);
  return left.length > 0 ? [`processes of run ${id} survived SIGKILL: ${left.join(', ')}`] : [];
}

/** Deletes the network namespaces named `<id>-…` and their /etc/netns folders. */
async function deleteRunNamespaces(id: string): Promise<string[]> {
  const problems: string[] = [];
  const netns = await run('ip', ['netns', 'list'], { timeoutMs: 5_000 }).catch(() => null);
  const names = (netns?.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0] ?? '')
    .filter((n) => n.startsWith(`${id}-`));
  for (const name of names) {
    const res = await run('ip', ['netns', 'delete', name], { timeoutMs: 5_000 });
    if (res.code !== 0) problems.push(`ip netns delete ${name}: ${res.stderr.trim()}`);
  }
  if (existsSync('/etc/netns')) {
    for (const entry of readdirSync('/etc/netns')) {
      if (entry.startsWith(`${id}-`)) rmSync(join('/etc/netns', entry), { recursive: true, force: true });
    }
  }
  return problems;
}

/**
 * Removes runs whose owner is gone (killed test, crashed CLI). Runs whose owner is alive are
 * left alone: they may belong to another lab on this machine. Returns the ids removed.
 */
export async function cleanStaleRuns(root: string = labRoot()): Promise<string[]> {
  if (!existsSync(root)) return [];
  const removed: string[] = [];
  for (const id of readdirSync(root)) {
    // Only run folders (nw + 6 hex); current.json, serve.log and the like are not runs.
    if (!/^nw[0-9a-f]{6}$/.test(id)) continue;
    const dir = join(root, id);
    let owner: OwnerRecord | undefined;
    try {
      owner = JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as OwnerRecord;
    } catch {
      owner = undefined;
    }
    const alive =
      owner !== undefined && procStartTicks(owner.pid) === owner.startTicks && owner.startTicks !== '';
    // A folder without owner.json may be one being created right now by another process.
    const young = owner === undefined && Date.now() - statSync(dir).mtimeMs < 60_000;
    if (alive || young) continue;
    await removeRunLeftovers(id);
    rmSync(dir, { recursive: true, force: true });
    removed.push(id);
  }
  return removed;
}
