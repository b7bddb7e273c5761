/**
 * A lab node's containerd: its configuration (root, state and socket at the standard paths, which
 * the node's mount namespace maps to the node's own folders; the CRI plugin with runc, the lab's
 * pause image and the node's CNI folders) and image import through `ctr`.
 *
 * Debian's containerd 1.6 is the runtime: it serves CRI v1, which the kubelet requires. It lacks
 * the newer RuntimeConfig call (the kubelet logs that once and uses its own cgroupDriver), and the
 * Kubernetes project no longer tests 1.x with kubelet 1.36; the lab runs it because it works here
 * and installs from the machine's own package registry (see DEVELOPERS.md).
 */
import { NetwardenError } from '../errors.ts';
import { run } from '../host/exec.ts';

/** Paths as the node sees them (inside its mount namespace). */
export const CONTAINERD_SOCKET = '/run/containerd/containerd.sock';
/** The containerd namespace the CRI plugin (and so the kubelet) uses. */
export const CRI_NAMESPACE = 'k8s.io';

/** containerd's config.toml for a lab node; pure. */
export function containerdConfig(o: { sandboxImage: string }): string {
  return `# Written by the netwarden lab for one node; paths are the node's own (its mount namespace).
version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
# Snapshotters and services the lab does not use; their probing only costs start-up time.
disabled_plugins = [
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = "${CONTAINERD_SOCKET}"

[ttrpc]
  address = ""

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "/var/lib/containerd/opt"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${o.sandboxImage}"
  # Processes on this machine lack CAP_SYS_RESOURCE, so lowering oom_score_adj (which the CRI
  # asks for sandboxes) fails; containers keep at least the runtime's own score instead.
  restrict_oom_score_adj = true
  disable_apparmor = true
  enable_selinux = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  max_container_log_line_size = 16384

  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    discard_unpacked_layers = false

    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"

      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false

  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/opt/cni/bin"
    conf_dir = "/etc/cni/net.d"
    max_conf_num = 1
`;
}

/**
 * Imports an OCI or Docker image archive into the containerd listening on `socket` (a path the
 * caller can reach), in the CRI's namespace, unpacked for its snapshotter. Throws naming the tar.
 */
export async function importImage(socket: string, tarPath: string, timeoutMs = 120_000): Promise<void> {
  const res = await run('ctr', ['-a', socket, '-n', CRI_NAMESPACE, 'images', 'import', tarPath], {
    timeoutMs,
    maxOutputBytes: 1024 * 1024,
  });
  if (res.code !== 0)
    throw new NetwardenError(
      'exec-failed',
      `ctr images import ${tarPath} into ${socket}: ${res.timedOut ? 'timed out' : res.stderr.trim() || `exit ${res.code}`}`,
    );
}

/** The image names the containerd at `socket` holds in the CRI namespace. */
export async function listImages(socket: string): Promise<string[]> {
  const res = await run('ctr', ['-a', socket, '-n', CRI_NAMESPACE, 'images', 'ls', '-q'], {
    timeoutMs: 30_000,
  });
  if (res.code !== 0)
    throw new NetwardenError('exec-failed', `ctr images ls at ${socket}: ${res.stderr.trim()}`);
  return res.stdout.split('\n').filter(Boolean);
}

/** The runtime's version string as `containerd --version` prints it, e.g. `1.6.20~ds1`. */
export async function containerdVersion(): Promise<string> {
  const res = await run('containerd', ['--version'], { timeoutMs: 10_000 });
  return res.stdout.trim().split(/\s+/)[2] ?? 'unknown';
}
