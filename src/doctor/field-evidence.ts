/**
 * The doctor's reading of a node's inputs into the field cases' evidence (assess/field-cases.ts):
 * the components from the cluster state, the kernel from `uname`, `nft list tables`, conntrack's
 * UDP flows, the CNI config files' times and the boot time, and the logs the cases quote. Every
 * input is optional; a file that cannot be read is a note, never a guess.
 */

import { podsSandboxedSince } from '../assess/field-boot-order.ts';
import type { CniFieldEvidence, KubeProxyFieldEvidence } from '../assess/field-cases.ts';
import {
  type HostBackend,
  kubeProxyModeOf,
  kubernetesClusterIp,
  podsForwardedBy,
} from '../assess/field-facts.ts';
import type { FieldLogInputs } from '../assess/field-logs.ts';
import type { IptablesDumps } from '../assess/iptables-backends.ts';
import { type Read, readOk, readUnknown } from '../core/read.ts';
import { parseKernelVersion } from '../core/versions.ts';
import { describeError } from '../errors.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import { type ConntrackList, parseConntrack } from '../netfilter/conntrack.ts';
import type { IpRoute, IpRule } from '../netfilter/ip.ts';
import { nftTableNames, parseNftJson } from '../netfilter/nft.ts';
import type { ComponentVersions } from '../sources/components.ts';
import { readFelixIptablesLog } from '../sources/felix-log.ts';
import type { SandboxFailure } from '../sources/kubelet-log.ts';
import { parseBootTime, parseFileTimes } from '../sources/node-times.ts';
import type { CniLog } from '../sources/vpc-cni-logs.ts';
import { INPUT_FILES, type NodeInputs } from './inputs.ts';

/** kube-proxy's field evidence: the components, the kernel, conntrack's UDP flows. */
export function kubeProxyFieldEvidence(
  inputs: NodeInputs,
  components: ComponentVersions | undefined,
  notes: string[],
): KubeProxyFieldEvidence {
  const F = INPUT_FILES;
  const uname = inputs.get(F.uname);
  const kernel = uname !== undefined ? parseKernelVersion(uname) : undefined;
  if (uname !== undefined && !kernel) notes.push(`${F.uname}: no kernel release in it`);
  const conntrack = conntrackRead(inputs, notes);
  return {
    ...(components ? { components } : {}),
    ...(kernel ? { kernel: { version: kernel, source: F.uname } } : {}),
    ...(conntrack ? { conntrackUdp: conntrack } : {}),
  };
}

function conntrackRead(inputs: NodeInputs, notes: string[]): Read<ConntrackList> | undefined {
  const name = INPUT_FILES.conntrackUdp;
  const text = inputs.get(name);
  if (text === undefined) return undefined;
  const list = parseConntrack(text);
  if (list.entries.length === 0 && list.skipped > 0) {
    notes.push(`${name}: no conntrack flow recognised (${list.skipped} line(s)); ignored`);
    return readUnknown(name, 'InputUnparsable', 'no conntrack flow recognised');
  }
  if (list.truncated) notes.push(`${name}: more flows than were read; the rest were not checked`);
  return readOk(list, name);
}

/** `nft list tables` (networking/nft-tables.json), else kube-proxy's table when its dump exists. */
export function nftTablesOf(
  inputs: NodeInputs,
  kubeProxyTable: boolean,
  notes: string[],
): ReadonlySet<string> | undefined {
  const name = INPUT_FILES.nftTables;
  const text = inputs.get(name);
  if (text !== undefined) {
    try {
      return nftTableNames(parseNftJson(text, name));
    } catch (err) {
      notes.push(`${name}: ${describeError(err)}`);
    }
  }
  return kubeProxyTable ? new Set(['ip kube-proxy']) : undefined;
}

/** What the CNI judgement's field cases read from a bundle or the live node. */
export function cniFieldEvidence(a: {
  readonly inputs: NodeInputs;
  readonly cluster: ClusterState | undefined;
  readonly components: ComponentVersions | undefined;
  readonly nodeName: string | undefined;
  readonly dumps: IptablesDumps;
  readonly nftTables: ReadonlySet<string> | undefined;
  readonly judgedMode: string | undefined;
  readonly rules: readonly IpRule[] | undefined;
  readonly routes: readonly IpRoute[] | undefined;
  readonly vpcCni: boolean;
  readonly vethPrefix: string;
}): CniFieldEvidence {
  const F = INPUT_FILES;
  const times = a.inputs.get(F.cniTimes);
  const bootText = a.inputs.get(F.bootTime);
  const bootMs = bootText !== undefined ? parseBootTime(bootText) : undefined;
  const mode = kubeProxyModeOf({ judged: a.judgedMode, components: a.components, nftTables: a.nftTables });
  const clusterIp = kubernetesClusterIp(a.cluster?.services);
  const vethPrefix = a.vpcCni ? a.vethPrefix : null;
  return {
    ...(a.components ? { components: a.components } : {}),
    dumps: a.dumps,
    ...(a.nftTables ? { nftTables: a.nftTables } : {}),
    ...(mode ? { kubeProxyMode: mode } : {}),
    ...(a.rules ? { ipRules: a.rules } : {}),
    ...(clusterIp !== undefined ? { kubernetesClusterIp: clusterIp } : {}),
    ...(times !== undefined ? { configTimes: parseFileTimes(times) } : {}),
    ...(bootMs !== undefined ? { bootMs } : {}),
    ...(bootMs !== undefined && a.cluster && a.nodeName !== undefined
      ? { podsThisBoot: podsSandboxedSince(a.cluster.pods, a.nodeName, bootMs) }
      : {}),
    podsForwarded: podsForwardedBy({
      pods: a.cluster?.pods,
      nodeName: a.nodeName,
      routes: a.routes,
      vethPrefix,
      vpcCni: a.vpcCni,
    }),
    vethPrefix,
  };
}

/** The logs the field cases read: ipamd's and the kubelet's as the doctor parsed them, and Felix's. */
export function fieldLogInputs(
  inputs: NodeInputs,
  logs: { readonly ipamd?: CniLog; readonly kubelet?: readonly SandboxFailure[] },
  dumps: IptablesDumps,
  host: HostBackend,
): FieldLogInputs {
  const F = INPUT_FILES;
  const felix = inputs.get(F.calicoNodeLog);
  return {
    ...(logs.ipamd ? { ipamd: { log: logs.ipamd, path: F.ipamdLog } } : {}),
    ...(felix !== undefined ? { felix: { log: readFelixIptablesLog(felix), path: F.calicoNodeLog } } : {}),
    ...(logs.kubelet ? { sandboxFailures: { failures: logs.kubelet, path: F.kubeletLog } } : {}),
    dumps,
    host,
  };
}
