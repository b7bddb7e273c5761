/**
 * The doctor's analysis: NodeInputs (+ optional cluster state) → findings. Pure apart from the
 * parsing it delegates to; the same function serves bundles and live nodes. Every input is
 * optional: a missing file removes the checks that need it and nothing else.
 */

import { capEvidence, type Finding, sortFindings } from '../core/findings.ts';
import { describeError } from '../errors.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import {
  checkKubeProxyStructure,
  diffKubeProxy,
  type KubeProxyActual,
} from '../netfilter/diff-kube-proxy.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import {
  type IpLink,
  type IpRoute,
  type IpRule,
  parseIpLinkJson,
  parseIpRoutes,
  parseIpRules,
} from '../netfilter/ip.ts';
import { hasKubeProxyRules, type IptablesNodeState, readIptablesState } from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from '../netfilter/nft.ts';
import {
  checkRoutedPodConsistency,
  diffPodNetworks,
  expectedPodNetworks,
  type PodAssignment,
} from '../netfilter/pods.ts';
import { cniConfigFindings, readCniConfigDir } from '../sources/cni-config.ts';
import { parseKubeProxyHealthz } from '../sources/kube-proxy-healthz.ts';
import { assessKubeProxySync, kubeProxyMetrics, parsePrometheusText } from '../sources/kube-proxy-metrics.ts';
import { parseSandboxFailures, sandboxFailureFindings } from '../sources/kubelet-log.ts';
import {
  parseEnvSettings,
  parseIpamCheckpoint,
  parseIpamdEnis,
  parseIpamdPods,
  withDeviceNumbers,
} from '../sources/vpc-cni-introspection.ts';
import { parseVpcCniLog, vpcCniLogFindings } from '../sources/vpc-cni-logs.ts';
import { INPUT_FILES, type NodeInputs } from './inputs.ts';

/** Options of one analysis. */
export interface AnalyzeOptions {
  readonly cluster?: ClusterState;
  /** The node's name as the cluster knows it (for local endpoints and pods). */
  readonly nodeName?: string;
  /** Used when the node name can be neither read nor inferred (the live node's hostname). */
  readonly fallbackNodeName?: string;
  /** kube-proxy mode; `auto` decides from what is present. */
  readonly proxyMode?: 'auto' | 'iptables' | 'nftables';
  /** iptables backend kube-proxy uses, when known (`--iptables-backend`); else inferred. */
  readonly kubeProxyBackend?: 'nft' | 'legacy';
  readonly maxEvidence?: number;
  /** Seconds since the epoch "now" (for metric staleness); taken from the inputs when absent. */
  readonly nowSeconds?: number;
}

/** The analysis result. */
export interface DoctorReport {
  readonly node?: string;
  readonly inputs: {
    readonly source: string;
    readonly found: readonly string[];
    readonly missing: readonly string[];
    readonly notes: readonly string[];
  };
  readonly proxyMode?: string;
  readonly findings: readonly Finding[];
}

interface Ctx {
  readonly inputs: NodeInputs;
  readonly opts: AnalyzeOptions;
  readonly findings: Finding[];
  readonly parseNotes: string[];
}

function safe<T>(ctx: Ctx, what: string, fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    ctx.parseNotes.push(`${what}: ${describeError(err)}`);
    return undefined;
  }
}

function iptablesDump(ctx: Ctx, name: string): IptablesNodeState | undefined {
  const text = ctx.inputs.get(name);
  if (text === undefined) return undefined;
  const state = readIptablesState(text);
  const s = state.summary;
  if (s.tables.length === 0 && s.unrecognizedLines > 0) {
    ctx.parseNotes.push(
      `${name}: not iptables-save output (${s.unrecognizedLines} unrecognised line(s)); ignored`,
    );
    return undefined;
  }
  if (s.warnings.length > 0) {
    ctx.parseNotes.push(
      `${name}: ${s.warnings.length} warning(s), first: line ${s.warnings[0]?.line}: ${s.warnings[0]?.message}`,
    );
  }
  return state;
}

/** Infers the node name from the kubelet log (registration lines). */
export function nodeNameFromKubeletLog(text: string): string | undefined {
  const m =
    /Successfully registered node"? node="([^"]+)"/.exec(text) ??
    /Attempting to register node"? node="([^"]+)"/.exec(text) ??
    /Successfully registered node ([a-z0-9.-]+)/.exec(text) ??
    /Attempting to register node ([a-z0-9.-]+)/.exec(text);
  return m?.[1];
}

/** Infers the node name from the pods whose IPs the node routes (most common nodeName). */
export function nodeNameFromPods(cluster: ClusterState, localIps: ReadonlySet<string>): string | undefined {
  const votes = new Map<string, number>();
  for (const p of cluster.pods) {
    const ip = p.status?.podIP;
    const node = p.spec?.nodeName;
    if (!ip || !node || p.spec?.hostNetwork || !localIps.has(ip)) continue;
    votes.set(node, (votes.get(node) ?? 0) + 1);
  }
  let best: string | undefined;
  let n = 0;
  for (const [k, v] of votes) if (v > n) [best, n] = [k, v];
  return best;
}

/** What was read from iptables and nftables, and the kube-proxy view chosen from it. */
interface NetfilterFacts {
  readonly dflt: IptablesNodeState | undefined;
  readonly nftBackend: IptablesNodeState | undefined;
  readonly legacyBackend: IptablesNodeState | undefined;
  /** The dump kube-proxy's rules are checked in. */
  readonly iptables: IptablesNodeState | undefined;
  readonly actual: KubeProxyActual | undefined;
  readonly ipvs: boolean;
}

/** What was read about routing, ipamd and the CNI. */
interface HostFacts {
  readonly rules: readonly IpRule[] | undefined;
  readonly routes: readonly IpRoute[] | undefined;
  readonly links: readonly IpLink[] | undefined;
  readonly assignments: PodAssignment[] | undefined;
  readonly env: Readonly<Record<string, string>>;
  readonly cniFiles: readonly { readonly name: string; readonly content: string }[] | undefined;
  readonly calicoPresent: boolean;
  readonly vpcCni: boolean;
  readonly vethPrefix: string;
}

function readNetfilter(ctx: Ctx): NetfilterFacts {
  const F = INPUT_FILES;
  const dflt = iptablesDump(ctx, F.iptablesSave);
  const nftBackend =
    iptablesDump(ctx, F.iptablesNftSave) ?? (dflt?.summary.backend === 'nft' ? dflt : undefined);
  const legacyBackend =
    iptablesDump(ctx, F.iptablesLegacySave) ?? (dflt?.summary.backend === 'legacy' ? dflt : undefined);
  const iptables = chooseIptables(ctx, dflt, nftBackend, legacyBackend);
  const nftText = ctx.inputs.get(F.nftKubeProxy);
  const nft =
    nftText !== undefined
      ? safe(ctx, F.nftKubeProxy, () => kubeProxyNftState(parseNftJson(nftText, F.nftKubeProxy)))
      : undefined;
  let mode = ctx.opts.proxyMode ?? 'auto';
  if (mode === 'auto')
    mode = nft?.tablePresent && !(iptables && iptables.clusterIpRules.size > 0) ? 'nftables' : 'iptables';
  let actual: KubeProxyActual | undefined;
  if (mode === 'nftables' && nft) actual = { mode: 'nftables', state: nft };
  else if (mode === 'nftables')
    ctx.parseNotes.push(
      `kube-proxy nftables mode but ${F.nftKubeProxy} is missing or unreadable: kube-proxy rules not checked`,
    );
  else if (iptables) actual = { mode: 'iptables', state: iptables };
  const ipvs = actual?.mode === 'iptables' && actual.state.ipvsClusterIpSet;
  return { dflt, nftBackend, legacyBackend, iptables, actual, ipvs };
}

function readHost(ctx: Ctx, nf: NetfilterFacts): HostFacts {
  const F = INPUT_FILES;
  const rules = parsed<IpRule>(ctx, F.ipRuleJson, F.ipRule, parseIpRules);
  const routes = parsed<IpRoute>(ctx, F.ipRouteJson, F.ipRoute, parseIpRoutes);
  const linkText = ctx.inputs.get(F.ipLinkJson);
  const links =
    linkText !== undefined ? safe(ctx, F.ipLinkJson, () => parseIpLinkJson(linkText).items) : undefined;
  const assignments = ipamdAssignments(ctx);
  const env = { ...envOf(ctx, F.networkutilsEnv), ...envOf(ctx, F.ipamdEnv) };
  const cniFiles = ctx.inputs.cniFiles();
  const anyCni = (needle: string): boolean => (cniFiles ?? []).some((f) => f.content.includes(needle));
  const vethPrefix =
    env.AWS_VPC_K8S_CNI_VETHPREFIX ??
    (cniFiles ?? [])
      .map((f) => /"vethPrefix"\s*:\s*"([a-z0-9]+)"/.exec(f.content)?.[1])
      .find((v) => v !== undefined) ??
    'eni';
  return {
    rules,
    routes,
    links,
    assignments,
    env,
    cniFiles,
    calicoPresent: (nf.iptables?.calicoPresent ?? false) || anyCni('"calico"'),
    vpcCni:
      assignments !== undefined ||
      ctx.inputs.get(F.ipamdLog) !== undefined ||
      (nf.iptables?.aws.present ?? false) ||
      anyCni('"aws-cni"'),
    vethPrefix,
  };
}

/** --node, then the bundle's node-name file, the kubelet log, the pods whose IPs the node routes, the fallback. */
function resolveNodeName(ctx: Ctx, host: HostFacts): string | undefined {
  const F = INPUT_FILES;
  const given = ctx.opts.nodeName ?? ctx.inputs.get(F.nodeName)?.trim();
  if (given) return given;
  const kubelet = ctx.inputs.get(F.kubeletLog);
  const fromLog = kubelet ? nodeNameFromKubeletLog(kubelet) : undefined;
  if (fromLog) return fromLog;
  if (ctx.opts.cluster) {
    const local = new Set<string>([
      ...(host.assignments ?? []).map((a) => a.ip),
      ...(host.routes ?? []).filter((r) => r.dev?.startsWith(host.vethPrefix)).map((r) => r.dst),
    ]);
    const inferred = nodeNameFromPods(ctx.opts.cluster, local);
    if (inferred) return inferred;
  }
  return ctx.opts.fallbackNodeName;
}

function kubeProxyFindings(ctx: Ctx, nf: NetfilterFacts, node: string | undefined): void {
  const { actual } = nf;
  if (nf.ipvs) {
    ctx.findings.push({
      code: 'input-parse-warnings',
      severity: 'info',
      title: 'kube-proxy runs in IPVS mode: per-ClusterIP checks are not implemented for IPVS',
      evidence: ['nat KUBE-SERVICES matches --match-set KUBE-CLUSTER-IP'],
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Check `ipvsadm -Ln` and `ip addr show kube-ipvs0` by hand.',
    });
  } else if (actual) {
    ctx.findings.push(...checkKubeProxyStructure(actual));
    if (ctx.opts.cluster) {
      const expected = expectedServicePorts(ctx.opts.cluster, node !== undefined ? { nodeName: node } : {});
      ctx.findings.push(...diffKubeProxy(actual, expected, { maxEvidence: ctx.opts.maxEvidence ?? 20 }));
      const unknown = expected.ports.filter((p) => p.verdict === 'unknown').length;
      if (unknown > 0)
        ctx.parseNotes.push(
          `${unknown} service port(s) with internalTrafficPolicy Local not checked: node name unknown (use --node)`,
        );
    }
  }
  ctx.findings.push(...backendFindings(nf.dflt, nf.nftBackend, nf.legacyBackend, ctx.opts.kubeProxyBackend));
  kubeProxyHealth(ctx);
}

function cniFindings(ctx: Ctx, host: HostFacts): void {
  if (host.cniFiles === undefined) return;
  const np = (host.env.ENABLE_NETWORK_POLICY ?? host.env.NETWORK_POLICY_ENFORCING_MODE ?? '').toLowerCase();
  ctx.findings.push(
    ...cniConfigFindings(
      readCniConfigDir(host.cniFiles),
      {
        ...(host.vpcCni ? { vpcCni: true } : {}),
        calicoPresent: host.calicoPresent,
        vpcCniNetworkPolicy: np === 'true' || np === 'standard' || np === 'strict',
      },
      ctx.inputs.source === 'live' ? '/etc/cni/net.d' : 'cni',
    ),
  );
}

function podFindings(ctx: Ctx, nf: NetfilterFacts, host: HostFacts, node: string | undefined): void {
  const max = ctx.opts.maxEvidence ?? 20;
  const { rules, routes, links, assignments, vethPrefix } = host;
  const cluster = ctx.opts.cluster;
  const expectedPods =
    (cluster && node) || assignments
      ? expectedPodNetworks({
          ...(cluster ? { pods: cluster.pods } : {}),
          ...(node !== undefined ? { nodeName: node } : {}),
          ...(assignments ? { assignments } : {}),
          vethPrefix,
        }).filter((p) => p.name !== '')
      : undefined;
  const filterChains = nf.iptables?.chains.get('filter');
  if (expectedPods && expectedPods.length > 0) {
    const actual = {
      ...(rules ? { rules } : {}),
      ...(routes ? { routes } : {}),
      ...(links ? { links } : {}),
      ...(filterChains ? { filterChains } : {}),
    };
    ctx.findings.push(
      ...diffPodNetworks(expectedPods, actual, { calico: host.calicoPresent, maxEvidence: max }),
    );
  } else if (rules && routes && host.vpcCni) {
    ctx.findings.push(...checkRoutedPodConsistency(rules, routes, { vethPrefix, maxEvidence: max }));
    if (host.calicoPresent && filterChains)
      ctx.findings.push(...calicoFromRoutes(routes, filterChains, vethPrefix, max));
  }
}

/** SNAT rules are required only when ipamd says so (AWS_VPC_K8S_CNI_EXTERNALSNAT=false). */
function snatFindings(ctx: Ctx, nf: NetfilterFacts, host: HostFacts): void {
  const ipt = nf.iptables;
  if (!ipt || !host.vpcCni || host.env.AWS_VPC_K8S_CNI_EXTERNALSNAT?.toLowerCase() !== 'false') return;
  if (ipt.aws.snatJump && ipt.aws.snatRules.length > 0) return;
  ctx.findings.push({
    code: 'aws-snat-rules-missing',
    severity: 'critical',
    title:
      'AWS_VPC_K8S_CNI_EXTERNALSNAT=false but the VPC CNI SNAT rules are missing: pods cannot reach outside the VPC',
    evidence: [
      ipt.aws.snatJump
        ? `found: ${ipt.aws.snatJump}`
        : 'missing: -A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
      ipt.aws.snatRules.length > 0
        ? `found: ${ipt.aws.snatRules[0]}`
        : 'missing: -A AWS-SNAT-CHAIN-0 … -j SNAT --to-source <primary IP>',
    ],
    subjects: [{ kind: 'chain', name: 'nat AWS-SNAT-CHAIN-0' }],
    fix: 'ipamd writes these at start: restart the aws-node pod on this node; if they vanish again, look for a firewall service flushing nat.',
  });
}

function logFindings(ctx: Ctx): void {
  const F = INPUT_FILES;
  const ipamdLog = ctx.inputs.get(F.ipamdLog);
  const pluginLog = ctx.inputs.get(F.pluginLog);
  if (ipamdLog !== undefined || pluginLog !== undefined) {
    ctx.findings.push(
      ...vpcCniLogFindings({
        ...(ipamdLog !== undefined ? { ipamd: parseVpcCniLog(ipamdLog), ipamdPath: F.ipamdLog } : {}),
        ...(pluginLog !== undefined ? { plugin: parseVpcCniLog(pluginLog), pluginPath: F.pluginLog } : {}),
      }),
    );
  }
  const kubelet = ctx.inputs.get(F.kubeletLog);
  if (kubelet !== undefined)
    ctx.findings.push(...sandboxFailureFindings(parseSandboxFailures(kubelet), F.kubeletLog));
}

/** Info findings about what could not be concluded. */
function coverageFindings(ctx: Ctx): void {
  if (!ctx.opts.cluster) {
    ctx.findings.push({
      code: 'cluster-state-unavailable',
      severity: 'info',
      title: 'No cluster state: Services/EndpointSlices/Pods were not compared with the rules',
      evidence: [
        'pass --cluster-state <file> (kubectl get services,endpointslices,pods -A -o json) or run --live with a kubeconfig',
      ],
      subjects: [],
      fix: 'Re-run with --cluster-state to check every ClusterIP port and every local pod.',
    });
  }
  if (ctx.parseNotes.length > 0 || ctx.inputs.notes.length > 0) {
    ctx.findings.push({
      code: 'input-parse-warnings',
      severity: 'info',
      title: 'Some inputs were partly unreadable or limited what could be checked',
      evidence: capEvidence([...ctx.inputs.notes, ...ctx.parseNotes], ctx.opts.maxEvidence ?? 20),
      subjects: [],
      fix: 'Check that the inputs are complete (not cut), in the expected format, and come from the same node; the checks that needed the listed inputs were skipped.',
    });
  }
}

/** Runs every check the inputs allow. */
export function analyzeNode(inputs: NodeInputs, opts: AnalyzeOptions = {}): DoctorReport {
  const ctx: Ctx = { inputs, opts, findings: [], parseNotes: [] };
  const nf = readNetfilter(ctx);
  const host = readHost(ctx, nf);
  const node = resolveNodeName(ctx, host);
  kubeProxyFindings(ctx, nf, node);
  cniFindings(ctx, host);
  podFindings(ctx, nf, host, node);
  snatFindings(ctx, nf, host);
  logFindings(ctx);
  coverageFindings(ctx);
  return {
    ...(node !== undefined ? { node } : {}),
    inputs: { source: inputs.source, found: inputs.found, missing: inputs.missing, notes: inputs.notes },
    ...(nf.actual ? { proxyMode: nf.ipvs ? 'ipvs' : nf.actual.mode } : {}),
    findings: sortFindings(dropDuplicates(ctx.findings)),
  };
}

/** The dump the kube-proxy checks use: the backend holding kube-proxy rules, else the default one. */
function chooseIptables(
  ctx: Ctx,
  dflt: IptablesNodeState | undefined,
  nftB: IptablesNodeState | undefined,
  legacyB: IptablesNodeState | undefined,
): IptablesNodeState | undefined {
  const want = ctx.opts.kubeProxyBackend;
  if (want === 'nft' && nftB) return nftB;
  if (want === 'legacy' && legacyB) return legacyB;
  if (dflt && hasKubeProxyRules(dflt)) return dflt;
  if (nftB && hasKubeProxyRules(nftB)) return nftB;
  if (legacyB && hasKubeProxyRules(legacyB)) return legacyB;
  return dflt ?? nftB ?? legacyB;
}

function backendFindings(
  dflt: IptablesNodeState | undefined,
  nftB: IptablesNodeState | undefined,
  legacyB: IptablesNodeState | undefined,
  want: 'nft' | 'legacy' | undefined,
): Finding[] {
  const out: Finding[] = [];
  const nftKube = nftB ? hasKubeProxyRules(nftB) : undefined;
  const legacyKube = legacyB ? hasKubeProxyRules(legacyB) : undefined;
  const count = (s: IptablesNodeState): string =>
    `nat ${s.kubeRules.nat ?? 0}, filter ${s.kubeRules.filter ?? 0} KUBE-* rules`;
  const fix =
    'kube-proxy, kubelet and the CNI must use the same iptables backend as the host (iptables-nft on AL2023/Bottlerocket). ' +
    'Use a kube-proxy image whose iptables wrapper detects the host backend (or set it explicitly), remove the stale ' +
    'rules of the other backend (`iptables-legacy-save`/`iptables-nft-save` to compare), and reboot or recycle affected pods.';
  if (nftB && legacyB && nftB !== legacyB && nftKube && legacyKube) {
    out.push({
      code: 'iptables-backend-mismatch',
      severity: 'critical',
      title:
        'kube-proxy rules exist in both iptables-nft and iptables-legacy: the kernel evaluates both, stale rules win',
      evidence: [`iptables-nft: ${count(nftB)}`, `iptables-legacy: ${count(legacyB)}`],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix,
    });
  } else if (
    want &&
    ((want === 'nft' && nftB && !nftKube && legacyKube) ||
      (want === 'legacy' && legacyB && !legacyKube && nftKube))
  ) {
    out.push({
      code: 'iptables-backend-mismatch',
      severity: 'critical',
      title: `kube-proxy should use iptables-${want} but its rules are only in the other backend`,
      evidence: [
        nftB ? `iptables-nft: ${count(nftB)}` : 'iptables-nft: not collected',
        legacyB ? `iptables-legacy: ${count(legacyB)}` : 'iptables-legacy: not collected',
      ],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix,
    });
  } else if (nftB && legacyB && nftB !== legacyB && nftKube !== legacyKube) {
    // kube-proxy in one backend while the host's default iptables or the CNI's rules are in the other.
    const kubeSide = nftKube ? 'nft' : 'legacy';
    const other = nftKube ? legacyB : nftB;
    const otherName = nftKube ? 'legacy' : 'nft';
    const why = [
      other === dflt ? `iptables-save on this host is iptables-${otherName}` : '',
      other.aws.present ? `the VPC CNI's rules are in iptables-${otherName}` : '',
      other.calicoPresent ? `Calico's chains are in iptables-${otherName}` : '',
    ].filter((x) => x !== '');
    if (why.length > 0) {
      out.push({
        code: 'iptables-backend-mismatch',
        severity: 'critical',
        title: `kube-proxy's rules are in iptables-${kubeSide}, but ${why.join(' and ')}`,
        evidence: [
          `iptables-nft: ${count(nftB)}${nftB.aws.present ? ', AWS CNI rules' : ''}${nftB.calicoPresent ? ', Calico chains' : ''}`,
          `iptables-legacy: ${count(legacyB)}${legacyB.aws.present ? ', AWS CNI rules' : ''}${legacyB.calicoPresent ? ', Calico chains' : ''}`,
        ],
        subjects: [{ kind: 'node', name: 'iptables' }],
        fix,
      });
    }
  } else if (
    dflt &&
    dflt.summary.backend === 'nft' &&
    dflt.summary.legacyTablesPresent &&
    !legacyB?.summary
  ) {
    const kube = hasKubeProxyRules(dflt);
    out.push({
      code: 'iptables-backend-mismatch',
      severity: kube ? 'warning' : 'critical',
      title: kube
        ? 'iptables-legacy tables exist beside the iptables-nft ruleset kube-proxy uses'
        : 'No kube-proxy rules in iptables-nft, and iptables-legacy tables exist: kube-proxy probably writes the legacy backend',
      evidence: [
        `${dflt.summary.generatedBy ?? 'iptables-nft-save'}: ${count(dflt)}`,
        '# Warning: iptables-legacy tables present, use iptables-legacy-save to see them',
      ],
      subjects: [{ kind: 'node', name: 'iptables' }],
      fix: `${fix} This bundle has no iptables-legacy-save output; collect it to see what the legacy tables hold.`,
    });
  }
  return out;
}

function parsed<T>(
  ctx: Ctx,
  jsonName: string,
  textName: string,
  parse: (t: string) => { items: readonly T[]; warnings: readonly { line: number; message: string }[] },
): readonly T[] | undefined {
  for (const name of [jsonName, textName]) {
    const text = ctx.inputs.get(name);
    if (text === undefined) continue;
    const r = safe(ctx, name, () => parse(text));
    if (!r) continue;
    if (r.items.length === 0 && r.warnings.length > 0) {
      ctx.parseNotes.push(
        `${name}: no entries recognised (${r.warnings.length} unreadable line(s)); ignored`,
      );
      continue;
    }
    if (r.warnings.length > 0)
      ctx.parseNotes.push(
        `${name}: ${r.warnings.length} line(s) skipped, first: line ${r.warnings[0]?.line}`,
      );
    return r.items;
  }
  return undefined;
}

function envOf(ctx: Ctx, name: string): Record<string, string> {
  const text = ctx.inputs.get(name);
  if (text === undefined || text.trim() === '') return {};
  return safe(ctx, name, () => parseEnvSettings(text)) ?? {};
}

function ipamdAssignments(ctx: Ctx): PodAssignment[] | undefined {
  const F = INPUT_FILES;
  const get = (n: string): string | undefined => {
    const t = ctx.inputs.get(n);
    return t !== undefined && t.trim() !== '' ? t : undefined;
  };
  const podsText = get(F.ipamdPods);
  const enisText = get(F.ipamdEnis);
  const ckptText = get(F.ipamCheckpoint);
  let list: PodAssignment[] | undefined;
  if (podsText) list = safe(ctx, F.ipamdPods, () => parseIpamdPods(podsText));
  if (!list && ckptText) list = safe(ctx, F.ipamCheckpoint, () => parseIpamCheckpoint(ckptText));
  const enis = enisText ? safe(ctx, F.ipamdEnis, () => parseIpamdEnis(enisText)) : undefined;
  if (enis) list = withDeviceNumbers(list ?? [], enis);
  return list;
}

function calicoFromRoutes(
  routes: readonly IpRoute[],
  chains: ReadonlySet<string>,
  prefix: string,
  max: number,
): Finding[] {
  const veths = [
    ...new Set(
      routes.filter((r) => r.table === 'main' && r.dev?.startsWith(prefix)).map((r) => r.dev as string),
    ),
  ];
  const lacking = veths.filter((v) => !chains.has(`cali-fw-${v}`) || !chains.has(`cali-tw-${v}`));
  if (lacking.length === 0) return [];
  return [
    {
      code: 'calico-endpoint-chains-missing',
      severity: 'critical',
      title: `${lacking.length} of ${veths.length} pod veth(s) have no Calico workload chains: Felix has not programmed their policy`,
      evidence: capEvidence(
        lacking.map(
          (v) => `missing ${[`cali-fw-${v}`, `cali-tw-${v}`].filter((c) => !chains.has(c)).join(', ')}`,
        ),
        max,
      ),
      subjects: lacking.slice(0, max).map((v) => ({ kind: 'chain', name: v })),
      fix: 'Check calico-node on this node (felix readiness :9099/readiness). Once Felix is ready, delete pods that started before it.',
    },
  ];
}

function kubeProxyHealth(ctx: Ctx): void {
  const F = INPUT_FILES;
  const metricsText = ctx.inputs.get(F.kubeProxyMetrics);
  const healthText = ctx.inputs.get(F.kubeProxyHealthz);
  let now = ctx.opts.nowSeconds;
  if (healthText !== undefined) {
    const h = safe(ctx, F.kubeProxyHealthz, () => parseKubeProxyHealthz(healthText));
    if (h?.currentTimeMs !== undefined) now ??= h.currentTimeMs / 1000;
    if (h && (h.healthy === false || Object.values(h.families).some((f) => f.healthy === false))) {
      ctx.findings.push({
        code: 'kube-proxy-not-synced',
        severity: 'critical',
        title: 'kube-proxy reports itself unhealthy (a queued update was not applied in time)',
        evidence: [healthText.trim().slice(0, 500)],
        subjects: [{ kind: 'node', name: 'kube-proxy' }],
        fix: 'Read the kube-proxy logs on this node for sync errors and restart it.',
      });
    }
  }
  if (metricsText !== undefined) {
    const m = kubeProxyMetrics(parsePrometheusText(metricsText).samples);
    if (m.present) ctx.findings.push(...assessKubeProxySync(m, { nowSeconds: now ?? Date.now() / 1000 }));
  }
  const log = ctx.inputs.get(F.kubeProxyLog);
  if (log !== undefined) {
    const lines = log
      .split('\n')
      .filter((l) =>
        /Sync failed|Failed to execute iptables-restore|nftables sync failed|iptables-restore: line \d+ failed/i.test(
          l,
        ),
      );
    if (lines.length > 0) {
      ctx.findings.push({
        code: 'kube-proxy-not-synced',
        severity: 'warning',
        title: `kube-proxy logged ${lines.length} failed sync(s)`,
        evidence: capEvidence(
          lines.map((l) => l.trim().slice(0, 400)),
          8,
        ),
        subjects: [{ kind: 'node', name: 'kube-proxy' }],
        fix: 'The last lines tell why iptables-restore/nft failed (often a backend mismatch or a missing kernel module); fix that and restart kube-proxy.',
      });
    }
  }
}

/** Drops findings identical in code, severity and title (structure checks and diffs can both report one). */
function dropDuplicates(findings: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    const same = out.findIndex((o) => o.code === f.code && o.severity === f.severity && o.title === f.title);
    if (same < 0) out.push(f);
  }
  return out;
}
