/**
 * Finding pods' network namespaces on a real node: scan /proc/<pid>/cgroup for the pod UID and
 * take /proc/<pid>/ns/net (needs hostPID). Works with containerd and CRI-O, cgroup v1 and v2, the
 * cgroupfs and systemd drivers, without knowing the runtime.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

/** A network namespace: a path nsenter accepts and its identity (`net:[inode]`). */
export interface NetnsLocation {
  readonly path: string;
  readonly netnsId: string;
  /** How it was found, for logs: `lab name …`, `pid 1234`. */
  readonly via: string;
}

/** Finds pods' network namespaces by pod uid. Pods not found are absent from the map. */
export interface NetnsLocator {
  locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>>;
}

/** The location of the namespace at `path` (a /var/run/netns bind mount or a /proc/<pid>/ns/net link), or undefined when it is not there. */
export async function netnsLocationAt(path: string, via: string): Promise<NetnsLocation | undefined> {
  try {
    const st = await stat(path);
    return { path, netnsId: `net:[${st.ino}]`, via };
  } catch {
    return undefined;
  }
}

const UID_IN_CGROUP =
  /(?:^|[/-])pod([0-9a-f]{8}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{4}[-_][0-9a-f]{12})(?:\.slice)?(?=\/|$)/i;

/**
 * The pod uid in a /proc/<pid>/cgroup file, or undefined for processes outside a pod. Handles
 * cgroup v1 and v2, the cgroupfs driver (`/kubepods/burstable/pod<uid>/<container>`) and the
 * systemd driver (`kubepods-burstable-pod<uid with _ for ->.slice`), and paths made relative by a
 * private cgroup namespace (`/../kubepods-…`).
 */
export function podUidFromCgroup(text: string): string | undefined {
  for (const line of text.split('\n')) {
    const path = line.split(':').slice(2).join(':');
    for (const seg of path.split('/')) {
      const m = UID_IN_CGROUP.exec(seg);
      if (m?.[1]) return m[1].replaceAll('_', '-').toLowerCase();
    }
  }
  return undefined;
}

/**
 * Real nodes: scans `<procRoot>/<pid>/cgroup` for the wanted pod uids and takes the first
 * matching process's `ns/net`. Namespaces equal to PID 1's are skipped (host-network pods share
 * the node's namespace; probing it would say nothing about the pod). Needs hostPID. Processes
 * that exit during the scan are ignored.
 */
export class ProcNetnsLocator implements NetnsLocator {
  readonly #proc: string;

  constructor(opts: { procRoot?: string } = {}) {
    this.#proc = opts.procRoot ?? '/proc';
  }

  async locate(podUids: readonly string[]): Promise<Map<string, NetnsLocation>> {
    const wanted = new Set(podUids.map((u) => u.toLowerCase()));
    const out = new Map<string, NetnsLocation>();
    if (wanted.size === 0) return out;
    const host = await netnsLocationAt(join(this.#proc, '1', 'ns', 'net'), 'pid 1');
    const pids = (await readdir(this.#proc))
      .filter((p) => /^\d+$/.test(p))
      .sort((a, b) => Number(a) - Number(b));
    for (const pid of pids) {
      if (out.size === wanted.size) break;
      const uid = await readCgroupUid(join(this.#proc, pid, 'cgroup'));
      if (uid === undefined || !wanted.has(uid) || out.has(uid)) continue;
      const loc = await netnsLocationAt(join(this.#proc, pid, 'ns', 'net'), `pid ${pid}`);
      if (loc && loc.netnsId !== host?.netnsId) out.set(uid, loc);
    }
    return out;
  }
}

async function readCgroupUid(path: string): Promise<string | undefined> {
  try {
    return podUidFromCgroup(await readFile(path, 'utf8'));
  } catch {
    return undefined; // exited, or not readable: not a candidate
  }
}
