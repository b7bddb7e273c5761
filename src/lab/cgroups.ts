/**
 * A lab node's cgroup root (cgroup v1, the cgroupfs driver): `/<run>-<node>` in every mounted v1
 * hierarchy, made before the kubelet starts (it refuses a cgroupRoot that does not exist) and
 * removed depth-first when the node powers off. The kubelet puts its QoS and pod cgroups under it,
 * runc every container, so the tree is also how the lab finds a node's container processes, which
 * carry none of the lab's environment variables.
 *
 * Only cgroup v1 is handled: this machine kind has no unified hierarchy of its own. On a v2-only
 * machine {@link cgroupControllers} is empty and {@link createCgroupRoot} says so.
 */
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { NetwardenError } from '../errors.ts';
import { waitUntil } from './wait.ts';

/** Where cgroup hierarchies are mounted. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** The v1 hierarchies mounted under /sys/fs/cgroup (folders, not the `unified` v2 mount). */
export function cgroupControllers(root = CGROUP_ROOT): string[] {
  if (!existsSync(root)) return [];
  return readdirSync(root)
    .filter((c) => c !== 'unified')
    .filter((c) => {
      try {
        return statSync(join(root, c)).isDirectory() && existsSync(join(root, c, 'cgroup.procs'));
      } catch {
        return false;
      }
    })
    .sort();
}

/** The node's cgroup name (one path segment, run-unique). */
export function nodeCgroupName(runId: string, node: string): string {
  return `${runId}-${node}`;
}

/** Creates `/<name>` in every v1 hierarchy; cpuset gets its parent's cpus and mems (else no task may join). */
export function createCgroupRoot(name: string, root = CGROUP_ROOT): void {
  const controllers = cgroupControllers(root);
  if (controllers.length === 0)
    throw new NetwardenError(
      'lab-start-failed',
      `no cgroup v1 hierarchies under ${root}: the lab's kubelet configuration needs cgroup v1 with the cgroupfs driver`,
    );
  for (const c of controllers) {
    const dir = join(root, c, name);
    mkdirSync(dir, { recursive: true });
    if (c === 'cpuset') {
      for (const f of ['cpuset.cpus', 'cpuset.mems']) {
        const current = readFileSync(join(dir, f), 'utf8').trim();
        if (current === '') writeFileSync(join(dir, f), readFileSync(join(root, c, f), 'utf8'));
      }
    }
  }
}

/** Every cgroup folder at or below `/<name>` in `controller`, deepest first. */
function treeDeepestFirst(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...treeDeepestFirst(join(dir, e.name)));
  }
  out.push(dir);
  return out;
}

/** Pids of every process in the node's cgroup tree (read from one hierarchy: all hold the same tasks). */
export function cgroupPids(name: string, root = CGROUP_ROOT): number[] {
  const controller = cgroupControllers(root).find((c) => c === 'pids') ?? cgroupControllers(root)[0];
  if (!controller) return [];
  const pids: number[] = [];
  for (const dir of treeDeepestFirst(join(root, controller, name))) {
    try {
      for (const l of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n'))
        if (/^\d+$/.test(l)) pids.push(Number(l));
    } catch {
      // removed meanwhile
    }
  }
  return pids;
}

/**
 * SIGKILLs every process in the node's tree, waits (bounded) until it is empty, then removes the
 * folders deepest first in every hierarchy. Returns problems (empty when clean); never throws.
 */
export async function removeCgroupRoot(name: string, root = CGROUP_ROOT): Promise<string[]> {
  for (let round = 0; round < 3; round++) {
    const pids = cgroupPids(name, root);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone
      }
    }
    await waitUntil(() => cgroupPids(name, root).length === 0, 3_000);
  }
  const problems: string[] = [];
  const left = cgroupPids(name, root);
  if (left.length > 0) problems.push(`cgroup ${name}: processes survived SIGKILL: ${left.join(', ')}`);
  for (const c of cgroupControllers(root)) {
    for (const dir of treeDeepestFirst(join(root, c, name))) {
      try {
        rmdirSync(dir);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOENT') problems.push(`rmdir ${dir}: ${code}`);
      }
    }
  }
  return problems;
}

/** Names of the cgroup roots under `/` that belong to run `runId` (for the stale-run clean-up). */
export function runCgroupRoots(runId: string, root = CGROUP_ROOT): string[] {
  const names = new Set<string>();
  for (const c of cgroupControllers(root)) {
    for (const e of readdirSync(join(root, c))) if (e.startsWith(`${runId}-`)) names.add(e);
  }
  return [...names].sort();
}
