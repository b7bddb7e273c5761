/**
 * The VPC CNI's connection mark against kube-proxy and Calico (docs/field-cases.md, cases 1 and 2).
 *
 * 1. `kube-proxy-nftables-vpc-cni-connmark` (amazon-vpc-cni-k8s#3563, fixed in v1.23.0): before
 *    v1.23.0 the VPC CNI marks pod connections to non-VPC destinations in iptables nat PREROUTING.
 *    With kube-proxy in nftables mode its DNAT is a base chain of its own at the same priority, so
 *    the AWS rule can see the ClusterIP first, mark the connection for the primary ENI, and a pod on
 *    a secondary ENI loses its Service traffic. A dump cannot show which of two equal-priority base
 *    chains runs first, so even the full rule shape is a warning: the confirming evidence is a probe
 *    from such a pod, never this rule.
 * 2. `vpc-cni-nft-connmark-clears-marks` (#3872, fix #3875 not released): v1.23.0's nftables restore
 *    assigns the whole packet mark, clearing Calico eBPF's "seen" bit; Calico then drops the packet
 *    ("From workload without BPF seen mark"). A non-zero drop counter is a warning (it may predate the
 *    upgrade); proving it grows needs two reads, which this judgement does not make.
 */
import type { Finding } from '../core/findings.ts';
import { ipv4InCidr } from '../core/ipv4.ts';
import type { IpRule } from '../netfilter/ip.ts';
import type { CalicoNodeComponent, VpcCniComponent } from '../sources/components.ts';
import { componentLine, dumpsByBackend, rangeLine, versionState } from './field-facts.ts';
import type { IptablesDumps } from './iptables-backends.ts';

/** What the connmark cases read. */
export interface ConnmarkInputs {
  /** The VPC CNI is this node's CNI (its config, ipamd, its rules). */
  readonly vpcCni: boolean;
  readonly awsNode?: VpcCniComponent;
  readonly calicoNode?: CalicoNodeComponent;
  readonly kubeProxyMode?: { readonly mode: string; readonly source: string };
  /** Dumps holding nat PREROUTING (and AWS-CONNMARK-CHAIN-0), when read; and the filter table for Calico. */
  readonly dumps: IptablesDumps;
  /** `nft list tables` (`ip aws-cni` is VPC CNI v1.23's own table), when listed. */
  readonly nftTables?: ReadonlySet<string>;
  /** `ip rule`: the 1536 `from <pod>` rules name the pods on secondary ENIs. */
  readonly ipRules?: readonly IpRule[];
  /** The `default/kubernetes` Service's ClusterIP, when the cluster view has it. */
  readonly kubernetesClusterIp?: string;
}

const CASE1 = 'kube-proxy-nftables-vpc-cni-connmark';
const CASE2 = 'vpc-cni-nft-connmark-clears-marks';

const FIX1 =
  "Upgrade the VPC CNI to v1.23.0 or later (it restores the mark in its own nftables table after kube-proxy's DNAT). " +
  'Until then add the Service CIDR to AWS_VPC_K8S_CNI_EXCLUDE_SNAT_CIDRS on aws-node, or run kube-proxy in iptables mode.';

/** Case 1 findings. */
export function nftablesConnmarkFindings(i: ConnmarkInputs): Finding[] {
  if ((!i.vpcCni && !i.awsNode) || i.kubeProxyMode?.mode !== 'nftables') return [];
  if (i.nftTables?.has('ip aws-cni') || i.awsNode?.settings.externalSnat === true) return [];
  const withJump = dumpsByBackend(i.dumps).find((d) => d.state.aws.connmarkJump !== undefined);
  const state = versionState(CASE1, 'vpc-cni', i.awsNode?.image.version);
  const modeLine = `kube-proxy mode nftables (${i.kubeProxyMode.source})`;
  const awsLine = i.awsNode ? componentLine('aws-node', i.awsNode) : 'aws-node: not in the cluster view';
  const subjects = [{ kind: 'node' as const, name: 'aws-node (VPC CNI)' }];
  if (withJump) {
    const returns = withJump.state.aws.connmarkReturns;
    const ip = i.kubernetesClusterIp;
    if (ip !== undefined && returns.some((cidr) => ipv4InCidr(ip, cidr))) return [];
    const secondary = (i.ipRules ?? []).filter((r) => r.priority === 1536 && r.from !== 'all');
    return [
      {
        code: CASE1,
        severity: 'warning',
        title:
          'kube-proxy runs in nftables mode while the VPC CNI marks connections in iptables nat PREROUTING: pods on secondary ENIs may not reach ClusterIPs',
        evidence: [
          modeLine,
          awsLine,
          `${withJump.name}: ${withJump.state.aws.connmarkJump}`,
          `AWS-CONNMARK-CHAIN-0 leaves alone: ${returns.join(', ') || 'nothing'}${ip !== undefined ? ` (not the kubernetes ClusterIP ${ip})` : ''}`,
          secondary.length > 0
            ? `${secondary.length} pod address(es) on secondary ENIs: ${secondary
                .slice(0, 5)
                .map((r) => r.text)
                .join('; ')}`
            : 'no 1536 rule read: pods on secondary ENIs not known',
          "a dump cannot show whether kube-proxy's nat prerouting chain runs before the AWS one (equal priority): a probe from a secondary-ENI pod to a ClusterIP decides",
        ],
        subjects,
        fix: FIX1,
      },
    ];
  }
  if (state === 'fixed') return [];
  const possible = state === 'unknown';
  return [
    {
      code: CASE1,
      severity: 'warning',
      title: `${possible ? 'Possible: the VPC CNI (version unknown)' : 'The VPC CNI before v1.23.0'} with kube-proxy in nftables mode marks Service traffic of pods on secondary ENIs for the wrong interface`,
      evidence: [modeLine, awsLine, rangeLine(CASE1, 'vpc-cni')],
      subjects,
      fix: FIX1,
    },
  ];
}

/** Case 2 findings. */
export function connmarkClearsMarksFindings(i: ConnmarkInputs): Finding[] {
  if (!i.awsNode && !i.vpcCni) return [];
  const state = versionState(CASE2, 'vpc-cni', i.awsNode?.image.version);
  if (state === 'fixed') return [];
  const drops = dumpsByBackend(i.dumps).flatMap((d) =>
    d.state.calicoBpfDrops.map(
      (x) => `${d.name}: ${x.rule}${x.packets !== undefined ? ` (${x.packets} packets dropped so far)` : ''}`,
    ),
  );
  const bpf = i.calicoNode?.bpfEnabled === true || drops.length > 0;
  const calicoMaybeBpf = i.calicoNode !== undefined && i.calicoNode.bpfEnabled === undefined;
  if (!bpf && !(calicoMaybeBpf && state === 'affected')) return [];
  const evidence = [
    i.awsNode ? componentLine('aws-node', i.awsNode) : 'aws-node: not in the cluster view',
    rangeLine(CASE2, 'vpc-cni'),
    ...(i.calicoNode ? [componentLine('calico-node', i.calicoNode)] : []),
    ...(i.calicoNode?.bpfEnabled === true ? ['calico-node FELIX_BPFENABLED=true'] : []),
    ...drops,
    ...(i.nftTables?.has('ip aws-cni')
      ? ['table ip aws-cni exists (the VPC CNI restores the mark in nftables)']
      : []),
    ...(drops.some((d) => /\(\d*[1-9]\d* packets/.test(d))
      ? ['a drop counter above zero may predate the upgrade: read it twice; a growing count is the proof']
      : []),
  ];
  const severity = bpf ? 'warning' : 'info';
  const possible = state === 'unknown' || !bpf;
  return [
    {
      code: CASE2,
      severity,
      title: `${possible ? 'Possible: ' : ''}the VPC CNI's nftables connmark restore (v1.23.0 and later, fix not released) clears Calico eBPF's mark: Calico drops pod traffic "From workload without BPF seen mark"${bpf ? '' : ' (if Calico runs its eBPF data plane)'}`,
      evidence,
      subjects: [{ kind: 'node', name: 'aws-node (VPC CNI)' }],
      fix: 'Roll aws-node back to v1.22.4 (reported to restore traffic), or upgrade to the first release that contains amazon-vpc-cni-k8s#3875 once it ships.',
    },
  ];
}
