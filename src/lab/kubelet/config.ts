/** The lab kubelet's configuration, written as JSON by the lab and read at kubelet start. */
import { readFileSync } from 'node:fs';
import { z } from 'zod';

/** Schema of the kubelet config file; every path is absolute. */
export const KubeletConfigSchema = z.object({
  runId: z.string().min(1),
  nodeName: z.string().min(1),
  nodeIp: z.string().min(1),
  kubeconfig: z.string().min(1),
  /** Changes on every boot of the node; reported as status.nodeInfo.bootID. */
  bootId: z.string().min(1),
  /** Survives reboots (the node's disk): holds net.d with the CNI conflist. */
  nodeDir: z.string().min(1),
  /** Wiped by a reboot (tmpfs): IPAM state, the CNI-ready flag. */
  bootDir: z.string().min(1),
  cniBinDir: z.string().min(1),
  podLogDir: z.string().min(1),
  /** Multiplies back-off delays (1 = real kubelet timing). */
  timeScale: z.number().positive().max(1),
  faults: z.array(z.string()),
  kubeletVersion: z.string(),
  images: z.object({ node: z.string(), repo: z.string(), coredns: z.string() }),
});

/** A validated kubelet config. */
export type KubeletConfig = z.infer<typeof KubeletConfigSchema>;

/** Reads and validates the config file; throws with the path and the first problem. */
export function readKubeletConfig(path: string): KubeletConfig {
  const parsed = KubeletConfigSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`${path}: ${issue?.path.join('.') ?? ''}: ${issue?.message ?? 'invalid'}`);
  }
  return parsed.data;
}

/** The node's CNI conflist path (on its "disk", like /etc/cni/net.d/10-aws.conflist). */
export function conflistPath(cfg: Pick<KubeletConfig, 'nodeDir'>): string {
  return `${cfg.nodeDir}/net.d/10-lab-vpc.conflist`;
}

/** The file whose existence means "the node's CNI daemon is ready" (see cni-plugins/vpc-rules.ts). */
export function cniReadyFile(cfg: Pick<KubeletConfig, 'bootDir'>): string {
  return `${cfg.bootDir}/cni-ready`;
}

/** Where the lab's VPC-rules plugin records pod addresses for the ipamd stand-in (per boot). */
export function vpcCniStateDir(cfg: Pick<KubeletConfig, 'bootDir'>): string {
  return `${cfg.bootDir}/vpc-cni-state`;
}
