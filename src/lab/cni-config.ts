/**
 * The lab node's CNI configuration, as the node sees it: `ptp` + `host-local` (a veth and a /32
 * host route per pod, the shape of the AWS VPC CNI), then the chained `lab-vpc-rules` plugin (the
 * VPC CNI's per-pod `ip rule`s). containerd reads it from /etc/cni/net.d and runs the plugins from
 * /opt/cni/bin inside the node's namespaces. Pure.
 */
import { ptpHostLocal } from './cni.ts';
import { ENI_TABLE } from './network.ts';

/** File name of the node's conflist (like 10-aws.conflist). */
export const CNI_CONFLIST_NAME = '10-lab-vpc.conflist';
/** Exists once this boot's CNI daemon is ready (in the node's /run: gone after a reboot). */
export const CNI_READY_FILE = '/run/netwarden-lab/cni-ready';
/** Where lab-vpc-rules records what it programmed per container (volatile, like ipamd's state). */
export const VPC_RULES_STATE_DIR = '/run/netwarden-lab/vpc-rules';

/** The conflist for a node with `podCidr`; `faults` reach the VPC-rules plugin. */
export function labConflist(podCidr: string, faults: readonly string[]): Record<string, unknown> {
  return {
    cniVersion: '1.0.0',
    name: 'lab-vpc',
    plugins: [
      // IPAM state is volatile, like ipamd's: after a reboot addresses are handed out afresh.
      ptpHostLocal(podCidr, '/run/netwarden-lab/ipam'),
      {
        type: 'lab-vpc-rules',
        eniTable: ENI_TABLE,
        readyFile: CNI_READY_FILE,
        stateDir: VPC_RULES_STATE_DIR,
        faults: [...faults],
        logFile: '/var/log/lab-vpc-rules.log',
      },
    ],
  };
}
