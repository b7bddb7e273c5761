/**
 * The field cases (docs/field-cases.md) sorted by the question they answer, so each lands in the
 * one judgement of that question: the ones about Services and kube-proxy's rules in
 * assessKubeProxy (the agent's `kube-proxy` check), the ones about the pod network the CNI gives in
 * assessCni (the agent's `cni` check). Logs are the doctor's only (field-logs.ts). The rules are in
 * the field-*.ts files; this file only says which evidence each judgement hands them.
 */
import type { Finding } from '../core/findings.ts';
import type { Read } from '../core/read.ts';
import type { Version } from '../core/versions.ts';
import type { ConntrackList } from '../netfilter/conntrack.ts';
import type { IpRule } from '../netfilter/ip.ts';
import type { ComponentVersions } from '../sources/components.ts';
import { calicoBackendFindings, vpcCniBackendFindings } from './field-backends.ts';
import { clusterEndpointFindings, cniConfigAgeFindings, type DaemonReadiness } from './field-boot-order.ts';
import { connmarkClearsMarksFindings, nftablesConnmarkFindings } from './field-connmark.ts';
import { hostBackend } from './field-facts.ts';
import { forwardPolicyFindings } from './field-forward.ts';
import {
  calicoOldIptablesFindings,
  firstSyncRaceVersionFindings,
  incompatibleTableFindings,
  nftablesKernelFindings,
  staleClusterIpFlowFindings,
} from './field-kube-proxy.ts';
import type { IptablesDumps } from './iptables-backends.ts';

/** What kube-proxy's judgement hands the field cases besides its dumps. */
export interface KubeProxyFieldEvidence {
  readonly components?: ComponentVersions;
  readonly kernel?: { readonly version: Version; readonly source: string };
  /** `conntrack -L -p udp`: read by the doctor only (a busy node's table is large). */
  readonly conntrackUdp?: Read<ConntrackList>;
}

/** The field-case findings of the kube-proxy question. `programmed`: `ip proto port` keys in the rules now. */
export function kubeProxyFieldCases(
  ev: KubeProxyFieldEvidence,
  judged: {
    readonly mode: string | undefined;
    readonly dumps: IptablesDumps;
    readonly programmed?: ReadonlySet<string>;
  },
): Finding[] {
  const mode = judged.mode === 'nftables' ? 'nftables' : (ev.components?.kubeProxy?.mode ?? judged.mode);
  const flows = ev.conntrackUdp?.status === 'ok' ? ev.conntrackUdp : undefined;
  return [
    ...firstSyncRaceVersionFindings(ev.components?.kubeProxy),
    ...(flows && judged.programmed
      ? staleClusterIpFlowFindings(flows.value.entries, judged.programmed, flows.source)
      : []),
    ...nftablesKernelFindings(mode, ev.kernel),
    ...incompatibleTableFindings(judged.dumps),
    ...calicoOldIptablesFindings(ev.components?.calicoNode, mode),
  ];
}

/** What the CNI judgement hands the field cases. Every field is optional: absent = not read. */
export interface CniFieldEvidence {
  readonly components?: ComponentVersions;
  /** The iptables state read: whole dumps (doctor) or the filter and nat chains the `cni` check reads. */
  readonly dumps?: IptablesDumps;
  /** `nft list tables` (`ip kube-proxy`, `ip aws-cni`, iptables-nft's `ip nat`…). */
  readonly nftTables?: ReadonlySet<string>;
  /** The legacy tables that exist (/proc/net/ip_tables_names). */
  readonly legacyTables?: readonly string[];
  readonly kubeProxyMode?: { readonly mode: string; readonly source: string };
  readonly ipRules?: readonly IpRule[];
  readonly kubernetesClusterIp?: string;
  /** CNI config file → last written (epoch ms). */
  readonly configTimes?: ReadonlyMap<string, number>;
  readonly bootMs?: number;
  readonly podsThisBoot?: readonly string[];
  /** Whether pods here use the node to forward (routed pods), and the line that says so. */
  readonly podsForwarded?: { readonly yes: boolean; readonly evidence: string };
  /** The pod veth prefix when the CNI's naming is known (`eni`); null otherwise. */
  readonly vethPrefix?: string | null;
}

/** The field-case findings of the CNI question. */
export function cniFieldCases(
  ev: CniFieldEvidence,
  cni: {
    readonly vpcCni: boolean;
    readonly confDirPath: string;
    readonly selected?: { readonly file: string; readonly types: readonly string[] };
    readonly daemon: DaemonReadiness;
  },
): Finding[] {
  const dumps: IptablesDumps = ev.dumps ?? { dflt: undefined, nft: undefined, legacy: undefined };
  const c = ev.components;
  const host = hostBackend(dumps, {
    ...(ev.nftTables ? { nftTables: ev.nftTables } : {}),
    ...(ev.legacyTables ? { legacyTables: ev.legacyTables } : {}),
  });
  const connmark = {
    vpcCni: cni.vpcCni,
    ...(c?.vpcCni ? { awsNode: c.vpcCni } : {}),
    ...(c?.calicoNode ? { calicoNode: c.calicoNode } : {}),
    ...(ev.kubeProxyMode ? { kubeProxyMode: ev.kubeProxyMode } : {}),
    dumps,
    ...(ev.nftTables ? { nftTables: ev.nftTables } : {}),
    ...(ev.ipRules ? { ipRules: ev.ipRules } : {}),
    ...(ev.kubernetesClusterIp !== undefined ? { kubernetesClusterIp: ev.kubernetesClusterIp } : {}),
  };
  return [
    ...forwardPolicyFindings(dumps, {
      vethPrefix: ev.vethPrefix ?? null,
      podsForwarded: ev.podsForwarded ?? { yes: false, evidence: 'pods forwarded by this node: not known' },
    }),
    ...nftablesConnmarkFindings(connmark),
    ...connmarkClearsMarksFindings(connmark),
    ...vpcCniBackendFindings(c?.vpcCni, host, dumps),
    ...calicoBackendFindings(c?.calicoNode, host),
    ...cniConfigAgeFindings({
      ...(cni.selected ? { selected: cni.selected } : {}),
      confDirPath: cni.confDirPath,
      ...(ev.configTimes ? { mtimes: ev.configTimes } : {}),
      ...(ev.bootMs !== undefined ? { bootMs: ev.bootMs } : {}),
      daemon: cni.daemon,
      ...(ev.podsThisBoot ? { podsThisBoot: ev.podsThisBoot } : {}),
    }),
    ...clusterEndpointFindings(c?.vpcCni),
  ];
}
