/**
 * The doctor's analysis: NodeInputs (+ optional cluster state) → findings. It reads the inputs
 * into evidence and hands them to the same judgements the agent and the lab use (src/assess/);
 * only the reading of files, the node name and the coverage notes are the doctor's own. Every
 * input is optional: a missing file removes the checks that need it and nothing else.
 */
import type { Assessment, AssessmentStatus } from '../assess/assessment.ts';
import { assessCni, cniIntent } from '../assess/cni.ts';
import { hostBackend } from '../assess/field-facts.ts';
import { fieldLogFindings } from '../assess/field-logs.ts';
import { chooseKubeProxyDump } from '../assess/iptables-backends.ts';
import { assessKubeProxy, type KubeProxyEvidence } from '../assess/kube-proxy.ts';
import { type KubeProxySetting, kubeProxyExpectation } from '../assess/kube-proxy-presence.ts';
import { kubeProxyLogFindings, sandboxFailureFindings, vpcCniLogFindings } from '../assess/logs.ts';
import { assessPods } from '../assess/pods.ts';
import { httpFailureRead } from '../collect/io.ts';
import { capEvidence, type Finding, sortFindings } from '../core/findings.ts';
import { type Read, readOk, readUnknown, readValue } from '../core/read.ts';
import { describeError } from '../errors.ts';
import type { ClusterState } from '../netfilter/cluster-state.ts';
import { expectedServicePorts } from '../netfilter/expected.ts';
import { type IpRoute, type IpRule, parseIpLinkJson, parseIpRoutes, parseIpRules } from '../netfilter/ip.ts';
import { type IptablesNodeState, readIptablesState } from '../netfilter/iptables-state.ts';
import { kubeProxyNftState, parseNftJson } from '../netfilter/nft.ts';
import type { PodAssignment } from '../netfilter/pods.ts';
import { readCniConfigDir } from '../sources/cni-config.ts';
import { readComponentVersions } from '../sources/components.ts';
import { parseKubeProxyHealthz } from '../sources/kube-proxy-healthz.ts';
import { kubeProxyMetrics, parsePrometheusText } from '../sources/kube-proxy-metrics.ts';
import { parseSandboxFailures } from '../sources/kubelet-log.ts';
import {
  parseEnvSettings,
  parseIpamCheckpoint,
  parseIpamdEnis,
  parseIpamdPods,
  withDeviceNumbers,
} from '../sources/vpc-cni-introspection.ts';
import { type CniLog, parseVpcCniLog } from '../sources/vpc-cni-logs.ts';
import { cniFieldEvidence, fieldLogInputs, kubeProxyFieldEvidence, nftTablesOf } from './field-evidence.ts';
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
  /** Whether kube-proxy serves this node: `auto` decides from the evidence (as the agent does). */
  readonly kubeProxy?: KubeProxySetting;
  readonly maxEvidence?: number;
  /** Seconds since the epoch "now" (for metric staleness); taken from the inputs when absent. */
  readonly nowSeconds?: number;
}

/** One component's verdict in the report (the same judgement the agent's check makes). */
export interface ComponentVerdict {
  readonly status: AssessmentStatus;
  readonly reason: string;
  readonly message: string;
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
  /** Per component: kube-proxy, the CNI, the local pods. */
  readonly verdicts: {
    readonly kubeProxy: ComponentVerdict;
    readonly cni?: ComponentVerdict;
    readonly pods?: ComponentVerdict;
  };
  readonly findings: readonly Finding[];
}

interface Ctx {
  readonly inputs: NodeInputs;
  readonly opts: AnalyzeOptions;
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

/** Drops findings identical in code, severity and title (structure checks and diffs can both report one). */
function dropDuplicates(findings: readonly Finding[]): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    const same = out.findIndex((o) => o.code === f.code && o.severity === f.severity && o.title === f.title);
    if (same < 0) out.push(f);
  }
  return out;
}

/** A named input as a Read: ok (parsed), absent (not in the inputs) or unknown (unparsable). */
function readInput<T>(ctx: Ctx, name: string, parse: (text: string) => T): Read<T> | undefined {
  const text = ctx.inputs.get(name);
  if (text === undefined) return undefined;
  try {
    return readOk(parse(text), name);
  } catch (err) {
    ctx.parseNotes.push(`${name}: ${describeError(err)}`);
    return readUnknown(name, 'InputUnparsable', describeError(err));
  }
}

function dumpRead(ctx: Ctx, name: string): Read<IptablesNodeState> | undefined {
  const state = iptablesDump(ctx, name);
  if (state) return readOk(state, name);
  return ctx.inputs.get(name) === undefined
    ? undefined
    : readUnknown(name, 'InputUnparsable', 'not iptables-save output');
}

/** What the bundle says about kube-proxy. */
function kubeProxyEvidence(ctx: Ctx): KubeProxyEvidence {
  const F = INPUT_FILES;
  const nft = readInput(ctx, F.nftKubeProxy, (t) => kubeProxyNftState(parseNftJson(t, F.nftKubeProxy)));
  const metrics = readInput(ctx, F.kubeProxyMetrics, (t) => kubeProxyMetrics(parsePrometheusText(t).samples));
  const healthz = readInput(ctx, F.kubeProxyHealthz, (t) => ({ parsed: parseKubeProxyHealthz(t), body: t }));
  const mode = ctx.opts.proxyMode ?? 'auto';
  const iptablesNft = dumpRead(ctx, F.iptablesNftSave);
  const iptablesLegacy = dumpRead(ctx, F.iptablesLegacySave);
  const iptablesDefault = dumpRead(ctx, F.iptablesSave);
  if (mode === 'nftables' && nft === undefined)
    ctx.parseNotes.push(
      `kube-proxy nftables mode but ${F.nftKubeProxy} is missing: kube-proxy rules not checked`,
    );
  return {
    ...(mode !== 'auto' ? { reportedMode: mode } : {}),
    ...(ctx.opts.kubeProxyBackend ? { configuredBackend: ctx.opts.kubeProxyBackend } : {}),
    ...(iptablesNft ? { iptablesNft } : {}),
    ...(iptablesLegacy ? { iptablesLegacy } : {}),
    ...(iptablesDefault ? { iptablesDefault } : {}),
    ...(mode === 'nftables' && nft === undefined
      ? { nft: readUnknown(F.nftKubeProxy, 'InputMissing', 'not in the inputs') }
      : nft
        ? { nft }
        : {}),
    ...(metrics && readValue(metrics)?.present ? { metrics } : {}),
    ...(healthz ? { healthz } : {}),
  };
}

/** Runs every check the inputs allow. */
export function analyzeNode(inputs: NodeInputs, opts: AnalyzeOptions = {}): DoctorReport {
  const F = INPUT_FILES;
  const ctx: Ctx = { inputs, opts, parseNotes: [] };
  const max = opts.maxEvidence ?? 20;
  const kpEvidence = kubeProxyEvidence(ctx);
  const dump = chooseKubeProxyDump(
    {
      dflt: readValue(kpEvidence.iptablesDefault),
      nft: readValue(kpEvidence.iptablesNft),
      legacy: readValue(kpEvidence.iptablesLegacy),
    },
    opts.kubeProxyBackend,
  );
  const dumps = [kpEvidence.iptablesDefault, kpEvidence.iptablesNft, kpEvidence.iptablesLegacy]
    .map((r) => readValue(r))
    .filter((d): d is IptablesNodeState => d !== undefined);
  const cniDump = dumps.find((d) => d.aws.present) ?? dump;
  const calicoDump = dumps.find((d) => d.calicoPresent) ?? dump;
  const rules = readInputList<IpRule>(ctx, F.ipRuleJson, F.ipRule, parseIpRules);
  const routes = readInputList<IpRoute>(ctx, F.ipRouteJson, F.ipRoute, parseIpRoutes);
  const links = readInput(ctx, F.ipLinkJson, (t) => parseIpLinkJson(t).items);
  const assignments = ipamdAssignments(ctx);
  const env = { ...envOf(ctx, F.networkutilsEnv), ...envOf(ctx, F.ipamdEnv) };
  const cniFiles = inputs.cniFiles();
  const confDir = cniFiles
    ? readOk(readCniConfigDir(cniFiles), 'cni')
    : readUnknown<ReturnType<typeof readCniConfigDir>>(
        'cni',
        'InputMissing',
        'no CNI config directory in the inputs',
      );
  const daemonHealth = cniHealthRead(ctx);
  const cniEvidence = {
    confDir,
    confDirPath: inputs.source === 'live' ? '/etc/cni/net.d' : 'cni',
    env,
    ...(daemonHealth ? { daemonHealth } : {}),
    // The VPC CNI's rules and Calico's chains are judged in the backend that holds them, which need
    // not be kube-proxy's (a backend mix is reported on its own).
    ...(cniDump ? { awsRules: cniDump.aws } : {}),
    ...(dumps.some((d) => d.calicoPresent) ? { calicoChains: true } : {}),
    vpcCniSignals: assignments !== undefined || inputs.get(F.ipamdLog) !== undefined,
  };
  const intent = cniIntent(cniEvidence);
  const vethPrefix =
    env.AWS_VPC_K8S_CNI_VETHPREFIX ??
    (cniFiles ?? [])
      .map((f) => /"vethPrefix"\s*:\s*"([a-z0-9]+)"/.exec(f.content)?.[1])
      .find((v) => v !== undefined) ??
    'eni';
  const node = resolveNodeName(ctx, assignments, readValue(routes), vethPrefix);

  const components = opts.cluster
    ? readComponentVersions(opts.cluster, node !== undefined ? { nodeName: node } : {})
    : undefined;
  if (components) ctx.parseNotes.push(...components.notes);
  const nowSeconds = opts.nowSeconds ?? healthzNow(kpEvidence) ?? Date.now() / 1000;
  const kubeProxyLog = inputs.get(F.kubeProxyLog);
  const expectation = kubeProxyExpectation({
    setting: opts.kubeProxy ?? 'auto',
    nodeName: node,
    pods: opts.cluster?.pods,
    nowMs: nowSeconds * 1000,
    ...(kubeProxyLog !== undefined && kubeProxyLog.trim() !== ''
      ? { seenOnNode: `kube-proxy's log was collected on this node (${F.kubeProxyLog})` }
      : {}),
  });
  const kubeProxy = assessKubeProxy(
    { ...kpEvidence, ...kubeProxyFieldEvidence(inputs, components, ctx.parseNotes) },
    {
      ...(opts.cluster
        ? { expected: expectedServicePorts(opts.cluster, node !== undefined ? { nodeName: node } : {}) }
        : {}),
      expectation,
      nowSeconds,
      maxEvidence: max,
    },
  );
  ctx.parseNotes.push(...kubeProxy.notes);
  const backendDumps = {
    dflt: readValue(kpEvidence.iptablesDefault),
    nft: readValue(kpEvidence.iptablesNft),
    legacy: readValue(kpEvidence.iptablesLegacy),
  };
  const nftTables = nftTablesOf(inputs, readValue(kpEvidence.nft)?.tablePresent === true, ctx.parseNotes);
  const cni = cniFiles
    ? assessCni({
        ...cniEvidence,
        field: cniFieldEvidence({
          inputs,
          cluster: opts.cluster,
          components,
          nodeName: node,
          dumps: backendDumps,
          nftTables,
          judgedMode: kubeProxy.mode,
          rules: readValue(rules),
          routes: readValue(routes),
          vpcCni: intent.vpcCni ?? false,
          vethPrefix,
        }),
      })
    : undefined;
  const logs = parsedLogs(inputs);
  // The pods are judged as the agent's pod-network check judges them: the VPC CNI's veth naming
  // applies when its config is the one the runtime selects (another CNI's naming is not checked);
  // only inputs without the CNI folder fall back to the other signs of the VPC CNI.
  const podsVpcCni = cniFiles
    ? (readValue(confDir)?.selected?.types.includes('aws-cni') ?? false)
    : (intent.vpcCni ?? false);
  const pods =
    rules || routes
      ? assessPods({
          ...(opts.cluster ? { pods: opts.cluster.pods } : {}),
          ...(node !== undefined ? { nodeName: node } : {}),
          ...(assignments ? { assignments } : {}),
          ...(rules ? { rules } : {}),
          ...(routes ? { routes } : {}),
          ...(links ? { links } : {}),
          ...(calicoDump?.chains.get('filter')
            ? { filterChains: calicoDump.chains.get('filter') as ReadonlySet<string> }
            : {}),
          calico: intent.calicoPresent ?? false,
          vethPrefix: podsVpcCni ? vethPrefix : null,
          vpcCni: podsVpcCni,
          maxEvidence: max,
        })
      : undefined;
  const findings = [
    ...kubeProxy.findings,
    ...(cni?.findings ?? []),
    ...(pods?.findings ?? []),
    ...logFindings(logs),
    ...fieldLogFindings(
      fieldLogInputs(inputs, logs, backendDumps, hostBackend(backendDumps, nftTables ? { nftTables } : {})),
    ),
    ...(kubeProxyLog !== undefined ? kubeProxyLogFindings(kubeProxyLog) : []),
    ...coverageFindings(ctx),
  ];
  return {
    ...(node !== undefined ? { node } : {}),
    inputs: { source: inputs.source, found: inputs.found, missing: inputs.missing, notes: inputs.notes },
    ...(kubeProxy.mode && kubeProxy.mode !== 'none' ? { proxyMode: kubeProxy.mode } : {}),
    verdicts: {
      kubeProxy: verdictOf(kubeProxy),
      ...(cni ? { cni: verdictOf(cni) } : {}),
      ...(pods ? { pods: verdictOf(pods) } : {}),
    },
    findings: sortFindings(dropDuplicates(findings)),
  };
}

/**
 * The CNI daemon's readiness answer (`--live --cni-health-url`), read as the agent's `cni` check
 * reads it: an HTTP status is the answer, a refused connection says nothing listens (absent), any
 * other failure is unknown.
 */
function cniHealthRead(ctx: Ctx): Read<{ status: number; body: string }> | undefined {
  const name = INPUT_FILES.cniHealth;
  const text = ctx.inputs.get(name);
  if (text === undefined) return undefined;
  let doc: { url?: unknown; status?: unknown; body?: unknown; error?: unknown };
  try {
    doc = JSON.parse(text) as typeof doc;
  } catch (err) {
    ctx.parseNotes.push(`${name}: ${describeError(err)}`);
    return readUnknown(name, 'InputUnparsable', describeError(err));
  }
  const url = typeof doc.url === 'string' ? doc.url : name;
  if (typeof doc.status === 'number')
    return readOk({ status: doc.status, body: typeof doc.body === 'string' ? doc.body : '' }, url);
  return httpFailureRead(url, typeof doc.error === 'string' ? doc.error : 'no answer recorded');
}

function verdictOf(a: Assessment): ComponentVerdict {
  return { status: a.status, reason: a.reason, message: a.message };
}

function healthzNow(ev: KubeProxyEvidence): number | undefined {
  const ms = readValue(ev.healthz)?.parsed.currentTimeMs;
  return ms !== undefined ? ms / 1000 : undefined;
}

/** --node, then the bundle's node-name file, the kubelet log, the pods whose IPs the node routes, the fallback. */
function resolveNodeName(
  ctx: Ctx,
  assignments: readonly PodAssignment[] | undefined,
  routes: readonly IpRoute[] | undefined,
  vethPrefix: string,
): string | undefined {
  const F = INPUT_FILES;
  const given = ctx.opts.nodeName ?? ctx.inputs.get(F.nodeName)?.trim();
  if (given) return given;
  const kubelet = ctx.inputs.get(F.kubeletLog);
  const fromLog = kubelet ? nodeNameFromKubeletLog(kubelet) : undefined;
  if (fromLog) return fromLog;
  if (ctx.opts.cluster) {
    const local = new Set<string>([
      ...(assignments ?? []).map((a) => a.ip),
      ...(routes ?? []).filter((r) => r.dev?.startsWith(vethPrefix)).map((r) => r.dst),
    ]);
    const inferred = nodeNameFromPods(ctx.opts.cluster, local);
    if (inferred) return inferred;
  }
  return ctx.opts.fallbackNodeName;
}

/** The logs read once, for the log findings and the field cases. */
export interface ParsedLogs {
  readonly ipamd?: CniLog;
  readonly plugin?: CniLog;
  readonly kubelet?: ReturnType<typeof parseSandboxFailures>;
}

function parsedLogs(inputs: NodeInputs): ParsedLogs {
  const F = INPUT_FILES;
  const ipamd = inputs.get(F.ipamdLog);
  const plugin = inputs.get(F.pluginLog);
  const kubelet = inputs.get(F.kubeletLog);
  return {
    ...(ipamd !== undefined ? { ipamd: parseVpcCniLog(ipamd) } : {}),
    ...(plugin !== undefined ? { plugin: parseVpcCniLog(plugin) } : {}),
    ...(kubelet !== undefined ? { kubelet: parseSandboxFailures(kubelet) } : {}),
  };
}

function logFindings(logs: ParsedLogs): Finding[] {
  const F = INPUT_FILES;
  const out: Finding[] = [];
  if (logs.ipamd || logs.plugin) {
    out.push(
      ...vpcCniLogFindings({
        ...(logs.ipamd ? { ipamd: logs.ipamd, ipamdPath: F.ipamdLog } : {}),
        ...(logs.plugin ? { plugin: logs.plugin, pluginPath: F.pluginLog } : {}),
      }),
    );
  }
  if (logs.kubelet) out.push(...sandboxFailureFindings(logs.kubelet, F.kubeletLog));
  return out;
}

/** Info findings about what could not be concluded. */
function coverageFindings(ctx: Ctx): Finding[] {
  const out: Finding[] = [];
  if (!ctx.opts.cluster) {
    out.push({
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
    out.push({
      code: 'input-parse-warnings',
      severity: 'info',
      title: 'Some inputs were partly unreadable or limited what could be checked',
      evidence: capEvidence([...ctx.inputs.notes, ...ctx.parseNotes], ctx.opts.maxEvidence ?? 20),
      subjects: [],
      fix: 'Check that the inputs are complete (not cut), in the expected format, and come from the same node; the checks that needed the listed inputs were skipped.',
    });
  }
  return out;
}

/** The first of two inputs (JSON, then text) that parses, as a Read of its items. */
function readInputList<T>(
  ctx: Ctx,
  jsonName: string,
  textName: string,
  parse: (t: string) => { items: readonly T[]; warnings: readonly { line: number; message: string }[] },
): Read<readonly T[]> | undefined {
  const items = parsed(ctx, jsonName, textName, parse);
  if (items) return readOk(items, jsonName);
  const present = [jsonName, textName].find((n) => ctx.inputs.get(n) !== undefined);
  return present ? readUnknown(present, 'InputUnparsable', 'no entries recognised') : undefined;
}
