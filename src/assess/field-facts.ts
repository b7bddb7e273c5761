/**
 * What the field-case rules (docs/field-cases.md, the field-*.ts files here) share: how a
 * component's version relates to a case's affected range, how a component is named in evidence,
 * and which iptables backend the host itself uses. Pure.
 *
 * The rules' contract (the safety bar): a version or a setting alone is at most a warning and never
 * holds a node; an unknown version makes a finding "possible" (said in its title), never certain;
 * only kernel state that shows the data path broken now is critical.
 */
import { type FieldCaseComponent, fieldCaseRange } from '../core/field-case-versions.ts';
import type { FindingCode } from '../core/findings.ts';
import type { Pod, Service } from '../core/objects.ts';
import { formatVersion, inRange, type Version } from '../core/versions.ts';
import type { IpRoute } from '../netfilter/ip.ts';
import type { IptablesNodeState } from '../netfilter/iptables-state.ts';
import type { ComponentBase, ComponentVersions } from '../sources/components.ts';
import type { IptablesDumps } from './iptables-backends.ts';

/** Where a version stands against a case's range. */
export type VersionState = 'affected' | 'fixed' | 'unknown';

/** The state of `version` for `code` (`unknown` when the version is). */
export function versionState(
  code: FindingCode,
  component: FieldCaseComponent,
  version: Version | undefined,
): VersionState {
  if (!version) return 'unknown';
  return inRange(version, fieldCaseRange(code, component).affected) ? 'affected' : 'fixed';
}

/** `aws-node v1.22.3-eksbuild.1 (Pod kube-system/aws-node-x7k2q)`, or `… version unknown (digest only)`. */
export function componentLine(name: string, c: ComponentBase): string {
  const v = c.image.version;
  const version = v
    ? `${c.image.tag ?? formatVersion(v)}`
    : `version unknown (${c.image.digest ? 'image pinned by digest' : `tag ${c.image.tag ?? 'absent'}`})`;
  return `${name} ${version} (${c.source.kind} ${c.source.namespace}/${c.source.name})`;
}

/** `affected range < 1.23.0 (source)` for evidence. */
export function rangeLine(code: FindingCode, component: FieldCaseComponent): string {
  const r = fieldCaseRange(code, component);
  return `affected: ${r.affected.text}${r.confirmed ? '' : ' (upper bound not confirmed)'} — ${r.source}`;
}

/** The iptables backend the host itself uses, and the lines that say so. */
export interface HostBackend {
  readonly backend: 'nft' | 'legacy' | 'both' | undefined;
  readonly evidence: readonly string[];
}

const KUBE_HINT_CHAINS = ['KUBE-IPTABLES-HINT', 'KUBE-KUBELET-CANARY'];
const IPTABLES_NFT_TABLES = ['ip filter', 'ip nat', 'ip mangle', 'ip raw', 'ip security'];

/**
 * Decides the host's backend the way the iptables wrappers do: the backend holding the kubelet's
 * hint chains (KUBE-IPTABLES-HINT, KUBE-KUBELET-CANARY) or kube-proxy's rules; else the only one
 * with tables; else the default `iptables-save`'s. `nftTables` (from `nft list tables`) and
 * `legacyTables` (/proc/net/ip_tables_names) say which backends hold tables when no dump was read.
 */
export function hostBackend(
  d: IptablesDumps,
  listed: { readonly nftTables?: ReadonlySet<string>; readonly legacyTables?: readonly string[] } = {},
): HostBackend {
  const nftKube = d.nft !== d.legacy && holdsKubeChains(d.nft);
  const legacyKube = d.nft !== d.legacy && holdsKubeChains(d.legacy);
  if (nftKube !== legacyKube) {
    const b = nftKube ? 'nft' : 'legacy';
    return { backend: b, evidence: [`the kubelet's and kube-proxy's KUBE-* chains are in iptables-${b}`] };
  }
  const { nftTables, legacyTables } = tablesHeld(d, listed);
  if (nftTables && legacyTables)
    return { backend: 'both', evidence: ['iptables-nft and iptables-legacy both hold tables'] };
  if (nftTables || legacyTables) {
    const b = nftTables ? 'nft' : 'legacy';
    return { backend: b, evidence: [`only iptables-${b} holds tables`] };
  }
  const dflt = d.dflt?.summary.backend;
  return dflt === 'nft' || dflt === 'legacy'
    ? { backend: dflt, evidence: [d.dflt?.summary.generatedBy ?? 'iptables-save'] }
    : { backend: undefined, evidence: [] };
}

/** Which backends hold any table, from the dumps and the listings. */
function tablesHeld(
  d: IptablesDumps,
  listed: { readonly nftTables?: ReadonlySet<string>; readonly legacyTables?: readonly string[] },
): { nftTables: boolean; legacyTables: boolean } {
  const nftDump = (d.nft?.summary.tables.length ?? 0) > 0;
  const nftListed = [...(listed.nftTables ?? [])].some((t) => IPTABLES_NFT_TABLES.includes(t));
  const legacyDump = d.legacy !== d.nft && (d.legacy?.summary.tables.length ?? 0) > 0;
  const legacyListed = (listed.legacyTables?.length ?? 0) > 0 || d.nft?.summary.legacyTablesPresent === true;
  return { nftTables: nftDump || nftListed, legacyTables: legacyDump || legacyListed };
}

/** The kubelet's hint chains or kube-proxy's rules are in this dump. */
function holdsKubeChains(s: IptablesNodeState | undefined): boolean {
  if (!s) return false;
  if ((s.kubeRules.nat ?? 0) > 0 || (s.kubeRules.filter ?? 0) > 0) return true;
  return [...s.chains.values()].some((set) => KUBE_HINT_CHAINS.some((c) => set.has(c)));
}

/** The distinct dumps that were read, each with the backend it shows. */
export function dumpsByBackend(
  d: IptablesDumps,
): { readonly name: string; readonly state: IptablesNodeState }[] {
  const out: { name: string; state: IptablesNodeState }[] = [];
  for (const [name, s] of [
    ['iptables-nft', d.nft],
    ['iptables-legacy', d.legacy],
    ['iptables', d.dflt],
  ] as const) {
    if (!s || out.some((o) => o.state === s)) continue;
    out.push({
      name: name === 'iptables' && s.summary.backend !== 'unknown' ? `iptables-${s.summary.backend}` : name,
      state: s,
    });
  }
  return out;
}

/** The `default/kubernetes` Service's ClusterIP, when the cluster view holds it. */
export function kubernetesClusterIp(services: readonly Service[] | undefined): string | undefined {
  const s = services?.find((x) => x.metadata?.namespace === 'default' && x.metadata.name === 'kubernetes');
  return s?.spec?.clusterIP;
}

/**
 * kube-proxy's mode and where it was read: what its judgement decided from the kernel, else its
 * flag or configuration in the cluster view, else its nftables table existing.
 */
export function kubeProxyModeOf(from: {
  readonly judged?: string | undefined;
  readonly components?: ComponentVersions | undefined;
  readonly nftTables?: ReadonlySet<string> | undefined;
}): { readonly mode: string; readonly source: string } | undefined {
  if (from.judged === 'iptables' || from.judged === 'nftables' || from.judged === 'ipvs')
    return { mode: from.judged, source: "kube-proxy's rules in the kernel" };
  const k = from.components?.kubeProxy;
  if (k?.mode !== undefined)
    return {
      mode: k.mode,
      source: k.modeFrom === 'flag' ? '--proxy-mode' : `${k.config?.configMap ?? 'its configuration'}`,
    };
  if (from.nftTables?.has('ip kube-proxy')) return { mode: 'nftables', source: 'table ip kube-proxy exists' };
  return undefined;
}

/**
 * Whether pods on this node use the node to forward their traffic: a routed pod (not host-network,
 * with an address) bound here, a route to a pod veth, or the VPC CNI (which routes every pod).
 */
export function podsForwardedBy(from: {
  readonly pods?: readonly Pod[] | undefined;
  readonly nodeName?: string | undefined;
  readonly routes?: readonly IpRoute[] | undefined;
  readonly vethPrefix?: string | null | undefined;
  readonly vpcCni: boolean;
}): { readonly yes: boolean; readonly evidence: string } {
  const pod = (from.pods ?? []).find(
    (p) =>
      p.spec?.nodeName === from.nodeName &&
      from.nodeName !== undefined &&
      !p.spec?.hostNetwork &&
      p.status?.podIP,
  );
  if (pod)
    return {
      yes: true,
      evidence: `pod ${pod.metadata?.namespace}/${pod.metadata?.name} (${pod.status?.podIP}) is routed through this node`,
    };
  const prefix = from.vethPrefix;
  const route = prefix
    ? from.routes?.find((r) => r.table === 'main' && r.dev?.startsWith(prefix))
    : undefined;
  if (route) return { yes: true, evidence: `route to a pod veth: ${route.text}` };
  if (from.vpcCni) return { yes: true, evidence: 'the VPC CNI routes every pod through the node' };
  return { yes: false, evidence: 'no routed pod seen on this node' };
}
