/**
 * A lab node's own view of the filesystem: a private mount namespace, held open by one small
 * process (`unshare --mount --propagation private`), in which the node's folders from the run
 * folder are bound over the standard paths, as a real machine has them on its own disk:
 *
 * | path in the node                 | from the run folder                | survives a reboot |
 * |----------------------------------|------------------------------------|-------------------|
 * | /run                             | nodes/<n>/run (wiped at boot)      | no                |
 * | /var/lib/kubelet                 | nodes/<n>/disk/kubelet             | yes               |
 * | /var/lib/containerd              | nodes/<n>/disk/containerd          | yes               |
 * | /var/lib/cni                     | nodes/<n>/disk/cni                 | yes               |
 * | /etc/cni/net.d                   | nodes/<n>/disk/cni-net.d           | yes               |
 * | /opt/cni/bin                     | nodes/<n>/disk/cni-bin             | yes               |
 * | /var/log                         | nodes/<n>/disk/log                 | yes               |
 * | /proc/sys/kernel/random/boot_id  | nodes/<n>/boot_id (new per boot)   | new content       |
 *
 * Every node process (containerd, kubelet, the CNI daemon, the agent) is entered into this
 * namespace and the node's network namespace with nsenter. Propagation is private, so nothing the
 * kubelet or containerd mounts (pod volumes, shm, pod netns files, overlay snapshots) reaches the
 * host's mount table; when the node powers off, its last process ends and the kernel drops the
 * namespace with every mount in it. The empty mount points are created on the host once if
 * missing (a folder, never a mount, and nothing inside them is touched).
 */
import { join } from 'node:path';

/** One bind mount: a host path (file or folder) onto a path in the node. */
export interface NodeMount {
  readonly source: string;
  readonly target: string;
  /** Persists across reboots (the node's disk) or not (volatile, wiped at boot). */
  readonly persistent: boolean;
  readonly file?: boolean;
}

/** The node's mounts, from its folder `<run>/nodes/<name>`. */
export function nodeMounts(nodeDir: string): NodeMount[] {
  const disk = (p: string, target: string): NodeMount => ({
    source: join(nodeDir, 'disk', p),
    target,
    persistent: true,
  });
  return [
    { source: join(nodeDir, 'run'), target: '/run', persistent: false },
    disk('kubelet', '/var/lib/kubelet'),
    disk('containerd', '/var/lib/containerd'),
    disk('cni', '/var/lib/cni'),
    disk('cni-net.d', '/etc/cni/net.d'),
    disk('cni-bin', '/opt/cni/bin'),
    disk('log', '/var/log'),
    {
      source: join(nodeDir, 'boot_id'),
      target: '/proc/sys/kernel/random/boot_id',
      persistent: false,
      file: true,
    },
  ];
}

const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;

/**
 * The shell program the namespace holder runs: bind every mount, print `mounted <bootId>`, then
 * wait forever (it is killed when the node powers off). Any failed mount exits non-zero with the
 * mount named on stderr. The boot ID tells this boot's holder from the last one's: the node's log
 * file is appended to across reboots, so a bare `mounted` of the previous boot would be taken for
 * this one's and the node's programs entered before the bind mounts (containerd then missed
 * /run/netwarden-lab/containerd.toml).
 */
export function holderScript(mounts: readonly NodeMount[], bootId: string): string {
  const lines = ['set -eu'];
  for (const m of mounts) {
    if (!m.file) lines.push(`[ -d ${quote(m.target)} ] || mkdir -p ${quote(m.target)}`);
    lines.push(
      `mount --bind ${quote(m.source)} ${quote(m.target)} || { echo "bind ${m.source} -> ${m.target} failed" >&2; exit 1; }`,
    );
  }
  lines.push(`echo mounted ${quote(bootId)}`, 'exec sleep infinity');
  return lines.join('\n');
}

/** nsenter arguments that enter a node: its mount namespace (held by `holderPid`) and its network namespace. */
export function enterNodeArgs(holderPid: number, netns: string): string[] {
  return [`--mount=/proc/${holderPid}/ns/mnt`, `--net=/var/run/netns/${netns}`, '--'];
}
