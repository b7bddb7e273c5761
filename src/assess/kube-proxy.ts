/**
 * Is kube-proxy serving this node? The one judgement the agent's check, `netwarden doctor` (bundle
 * and live) and the lab all use. From the evidence a caller read (iptables dumps per backend, the
 * nftables table, kube-proxy's metrics and healthz, the mode kube-proxy reports) and the cluster's
 * expected Services, decide kube-proxy's mode and backend, then judge:
 *
 * - IPVS (or any mode netwarden does not model) → not-applicable: reported, never holding a node.
 * - No kube-proxy rules anywhere → broken only when kube-proxy is expected here
 *   (kube-proxy-presence.ts); absent by design → not-applicable; cannot tell → unknown.
 * - Rules present → the structure check, the rule diff against the cluster, the backend mix and
 *   the sync metrics; any critical finding → broken.
 * - A read that failed (timed out, cut, tool missing) where it mattered → unknown.
 */
import type { Finding } from '../core/findings.ts';
import { type Read, readValue } from '../core/read.ts';
import {
  checkKubeProxyStructure,
  diffKubeProxy,
  type KubeProxyActual,
} from '../netfilter/diff-kube-proxy.ts';
import type { ExpectedServices } from '../netfilter/expected.ts';
import { hasKubeProxyRules, type IptablesNodeState } from '../netfilter/iptables-state.ts';
import type { NftKubeProxyState } from '../netfilter/nft.ts';
import type { KubeProxyHealthz } from '../sources/kube-proxy-healthz.ts';
import type { KubeProxyMetrics } from '../sources/kube-proxy-metrics.ts';
import { type Assessment, fromFindings, withFindings } from './assessment.ts';
import { backendContextLines } from './field-backends.ts';
import { type KubeProxyFieldEvidence, kubeProxyFieldCases } from './field-cases.ts';
import { backendFindings, chooseKubeProxyDump, type IptablesDumps } from './iptables-backends.ts';
import type { KubeProxyExpectation } from './kube-proxy-presence.ts';
import { assessKubeProxyHealthz, assessKubeProxySync } from './kube-proxy-sync.ts';

/**
 * What was read about kube-proxy on one node. Every field is optional: absent = not collected. The
 * field-case evidence (components, kernel, conntrack) feeds field-cases.ts.
 */
export interface KubeProxyEvidence extends KubeProxyFieldEvidence {
  /** The mode kube-proxy reports (`/proxyMode`, `--proxy-mode`, its config): iptables, nftables, ipvs… */
  readonly reportedMode?: string;
  /** The iptables backend kube-proxy is configured for, when known. */
  readonly configuredBackend?: 'nft' | 'legacy';
  /** `iptables-nft-save`, `iptables-legacy-save`, and plain `iptables-save` (the host's default). */
  readonly iptablesNft?: Read<IptablesNodeState>;
  readonly iptablesLegacy?: Read<IptablesNodeState>;
  readonly iptablesDefault?: Read<IptablesNodeState>;
  /** `nft -j list table ip kube-proxy`; `absent` when the table does not exist. */
  readonly nft?: Read<NftKubeProxyState>;
  /** kube-proxy's /metrics; `absent` when its port refuses connections (not running). */
  readonly metrics?: Read<KubeProxyMetrics>;
  /** kube-proxy's /healthz body, parsed, with the raw body for evidence. */
  readonly healthz?: Read<{ parsed: KubeProxyHealthz; body: string }>;
  /** `full` reads (default) are diffed down to endpoints; `services` reads hold only the capture chains. */
  readonly depth?: 'full' | 'services';
}

/** What the judgement needs besides the node's evidence. */
export interface KubeProxyContext {
  /** The cluster's expected service ports; undefined without a cluster view (structure checks only). */
  readonly expected?: ExpectedServices;
  readonly expectation: KubeProxyExpectation;
  /** Seconds since the epoch "now", for metric staleness. */
  readonly nowSeconds: number;
  /** This boot's start (seconds since the epoch), when known: a sync must be after it. */
  readonly bootSeconds?: number;
  readonly maxEvidence?: number;
}

/** The mode decided from the evidence. `none`: no kube-proxy rules were found in what was read. */
export type KubeProxyMode = 'iptables' | 'nftables' | 'ipvs' | 'other' | 'none';

/** The judgement, plus what it decided on the way. */
export interface KubeProxyAssessment extends Assessment {
  readonly mode: KubeProxyMode | undefined;
  /** The state the rules were judged in (for callers that read more off it, e.g. pod chains). */
  readonly actual?: KubeProxyActual;
  /** Things that limited the judgement (for the doctor's coverage notes). */
  readonly notes: readonly string[];
}

const NOT_MODELLED_FIX =
  'netwarden judges kube-proxy in iptables and nftables mode only. Check this node by hand (IPVS: `ipvsadm -Ln`, ' +
  '`ip addr show kube-ipvs0`); the other checks (CNI, probes through the kubernetes Service) still run.';

/** Judges kube-proxy on one node, with the field cases of this question (field-cases.ts). Pure. */
export function assessKubeProxy(ev: KubeProxyEvidence, ctx: KubeProxyContext): KubeProxyAssessment {
  const dumps = dumpsOf(ev);
  const a = judgeKubeProxy(ev, ctx, dumps);
  const full = (ev.depth ?? 'full') === 'full';
  return withFindings(
    a,
    kubeProxyFieldCases(ev, {
      mode: a.mode,
      dumps: full ? dumps : { dflt: undefined, nft: undefined, legacy: undefined },
      ...(a.actual ? { programmed: programmedServiceKeys(a.actual) } : {}),
    }),
  );
}

/** The `ip proto port` keys kube-proxy's rules capture now. */
function programmedServiceKeys(actual: KubeProxyActual): ReadonlySet<string> {
  return new Set(
    actual.mode === 'nftables' ? actual.state.serviceIps.keys() : actual.state.clusterIpRules.keys(),
  );
}

/** The dumps per backend; the default dump stands in for the backend its header names. */
function dumpsOf(ev: KubeProxyEvidence): IptablesDumps {
  return {
    dflt: readValue(ev.iptablesDefault),
    nft:
      readValue(ev.iptablesNft) ??
      (readValue(ev.iptablesDefault)?.summary.backend === 'nft' ? readValue(ev.iptablesDefault) : undefined),
    legacy:
      readValue(ev.iptablesLegacy) ??
      (readValue(ev.iptablesDefault)?.summary.backend === 'legacy'
        ? readValue(ev.iptablesDefault)
        : undefined),
  };
}

function judgeKubeProxy(
  ev: KubeProxyEvidence,
  ctx: KubeProxyContext,
  dumps: IptablesDumps,
): KubeProxyAssessment {
  const chosen = chooseKubeProxyDump(dumps, ev.configuredBackend);
  const nft = readValue(ev.nft);
  const mode = decideMode(ev, chosen, nft);
  const notes: string[] = [];
  const base = { notes };

  if (mode === 'ipvs' || mode === 'other') {
    const what = mode === 'ipvs' ? 'IPVS' : `"${ev.reportedMode}"`;
    return {
      ...base,
      mode,
      status: 'not-applicable',
      reason: 'KubeProxyModeNotModelled',
      message: `kube-proxy runs in ${what} mode, which netwarden does not model: its rules are not judged`,
      findings: [
        {
          code: 'kube-proxy-mode-not-modelled',
          severity: 'info',
          title: `kube-proxy runs in ${what} mode: per-ClusterIP rules are not checked`,
          evidence: [
            mode === 'ipvs' && chosen?.ipvsClusterIpSet
              ? 'nat KUBE-SERVICES matches --match-set KUBE-CLUSTER-IP'
              : `kube-proxy reports mode ${ev.reportedMode ?? '?'}`,
          ],
          subjects: [{ kind: 'node', name: 'kube-proxy' }],
          fix: NOT_MODELLED_FIX,
        },
      ],
    };
  }

  if (mode === undefined) {
    const failed = [ev.iptablesNft, ev.iptablesDefault, ev.iptablesLegacy, ev.nft].find(
      (r) => r !== undefined,
    );
    return unknownRead('none', failed, notes, 'no kube-proxy rules could be read');
  }
  const sync = syncFindings(ev, ctx);
  if (mode === 'none') return judgeNoRules(ev, ctx, dumps, sync, notes);

  // Rules were found: judge them in the mode they are in.
  const actual: KubeProxyActual | undefined =
    mode === 'nftables'
      ? nft
        ? { mode, state: nft }
        : undefined
      : chosen
        ? { mode, state: chosen }
        : undefined;
  if (!actual) {
    const read = mode === 'nftables' ? ev.nft : (ev.iptablesNft ?? ev.iptablesDefault ?? ev.iptablesLegacy);
    return unknownRead(mode, read, notes, `kube-proxy runs in ${mode} mode but its rules could not be read`);
  }
  const findings: Finding[] = [...checkKubeProxyStructure(actual)];
  if (ctx.expected) {
    findings.push(
      ...diffKubeProxy(actual, ctx.expected, {
        maxEvidence: ctx.maxEvidence ?? 20,
        ...(ev.depth ? { depth: ev.depth } : {}),
      }),
    );
    const unknown = ctx.expected.ports.filter((p) => p.verdict === 'unknown').length;
    if (unknown > 0)
      notes.push(
        `${unknown} service port(s) with internalTrafficPolicy Local not checked: node name unknown`,
      );
  } else
    notes.push('no cluster state: kube-proxy rules checked for structure only, not against the Services');
  if ((ev.depth ?? 'full') === 'full')
    findings.push(...backendFindings(dumps, ev.configuredBackend, backendContextLines(ev.components)));
  findings.push(...sync);
  if (ev.metrics?.status === 'absent')
    findings.push({
      code: 'kube-proxy-not-running',
      severity: 'warning',
      title:
        'kube-proxy does not answer on this node: the rules in the kernel are from its last run and will not follow changes',
      evidence: [`${ev.metrics.source}: ${ev.metrics.detail}`],
      subjects: [{ kind: 'node', name: 'kube-proxy' }],
      fix: 'Check the kube-proxy pod on this node (crash-looping? evicted?) and its logs.',
    });
  const ports = ctx.expected?.ports.length;
  const judged = fromFindings(findings, {
    reason: 'KubeProxyRulesComplete',
    message:
      ports !== undefined
        ? `${ports} service port(s) ${ev.depth === 'services' ? 'captured (quick check)' : 'programmed'} (${mode})`
        : `kube-proxy rules present (${mode}; not compared with the cluster)`,
  });
  return { ...base, ...judged, mode, actual };
}

/** The mode: what kube-proxy reports wins; else what the kernel holds. */
function decideMode(
  ev: KubeProxyEvidence,
  chosen: IptablesNodeState | undefined,
  nft: NftKubeProxyState | undefined,
): KubeProxyMode | undefined {
  const reported = ev.reportedMode?.trim().toLowerCase();
  if (reported === 'ipvs' || chosen?.ipvsClusterIpSet) return 'ipvs';
  if (reported === 'iptables' || reported === 'nftables') {
    if (reported === 'nftables' && !nft?.tablePresent && ev.nft?.status !== 'unknown') return 'none';
    if (reported === 'iptables' && chosen && !hasKubeProxyRules(chosen)) return 'none';
    return reported;
  }
  if (reported) return 'other';
  const iptablesRules = chosen !== undefined && hasKubeProxyRules(chosen);
  if (nft?.tablePresent && !(iptablesRules && (chosen?.clusterIpRules.size ?? 0) > 0)) return 'nftables';
  if (iptablesRules) return 'iptables';
  const anyRead = [ev.iptablesNft, ev.iptablesLegacy, ev.iptablesDefault, ev.nft].some(
    (r) => r?.status !== undefined && r.status !== 'unknown',
  );
  return anyRead ? 'none' : undefined;
}

/** No kube-proxy rules in anything that was read. */
function judgeNoRules(
  ev: KubeProxyEvidence,
  ctx: KubeProxyContext,
  dumps: IptablesDumps,
  sync: Finding[],
  notes: string[],
): KubeProxyAssessment {
  // kube-proxy answering on this node is evidence that it belongs here, whatever the cluster view says.
  const answering = ev.metrics?.status === 'ok' ? `kube-proxy answers on ${ev.metrics.source}` : undefined;
  const { expected, evidence } =
    answering && ctx.expectation.expected !== 'yes'
      ? { expected: 'yes' as const, evidence: answering }
      : ctx.expectation;
  const failedReads = [ev.iptablesNft, ev.iptablesLegacy, ev.iptablesDefault, ev.nft].filter(
    (r) => r?.status === 'unknown',
  );
  if (expected === 'no')
    return {
      notes,
      mode: 'none',
      status: 'not-applicable',
      reason: 'KubeProxyAbsent',
      message: `no kube-proxy rules, and kube-proxy is not expected here: ${evidence}`,
      findings: [
        {
          code: 'kube-proxy-absent',
          severity: 'info',
          title: 'kube-proxy does not serve this node by design: its rules are not checked',
          evidence: [evidence],
          subjects: [{ kind: 'node', name: 'kube-proxy' }],
          fix: 'Nothing to do if Services are served another way (e.g. Cilium kube-proxy replacement). If kube-proxy should run here, check its DaemonSet.',
        },
      ],
    };
  if (expected === 'unknown' || failedReads.length > 0) {
    // A failed read may hold the rules; without knowing whether kube-proxy belongs here, no rules is no evidence.
    if (failedReads.length > 0)
      return unknownRead('none', failedReads[0], notes, 'kube-proxy rules could not be read');
    return {
      notes,
      mode: 'none',
      status: 'unknown',
      reason: 'KubeProxyPresenceUnknown',
      message: `no kube-proxy rules, and it cannot be told whether kube-proxy should run here: ${evidence}`,
      findings: [
        {
          code: 'kube-proxy-rules-missing',
          severity: 'warning',
          title:
            'No kube-proxy rules on this node (not judged: it is unknown whether kube-proxy should run here)',
          evidence: [evidence, ...describeDumps(dumps)],
          subjects: [{ kind: 'node', name: 'kube-proxy' }],
          fix: 'Give the cluster state (--cluster-state) so netwarden can see whether kube-proxy runs in this cluster.',
        },
      ],
    };
  }
  // A table iptables could not print may hold kube-proxy's rules: not seeing them is no evidence.
  const unprinted = [dumps.dflt, dumps.nft, dumps.legacy].find((s) =>
    s?.summary.incompatibleTables.some((t) => t === 'nat' || t === 'filter'),
  );
  if (unprinted)
    return {
      notes: [...notes, `${unprinted.summary.generatedBy ?? 'iptables-save'}: a table it could not print`],
      mode: 'none',
      status: 'unknown',
      reason: 'IptablesTableIncompatible',
      message: `no kube-proxy rules read, but iptables could not print table(s) ${unprinted.summary.incompatibleTables.join(', ')}: they may hold them`,
      findings: sync,
    };
  const notRunning = ev.metrics?.status === 'absent';
  const finding: Finding = {
    code: 'kube-proxy-rules-missing',
    severity: 'critical',
    title: notRunning
      ? 'No kube-proxy rules in the kernel and kube-proxy is not running, although it should serve this node'
      : 'No kube-proxy rules in the kernel, although kube-proxy should serve this node',
    evidence: [
      evidence,
      ...describeDumps(dumps),
      ...(ev.nft?.status === 'absent' ? ['nft: table ip kube-proxy does not exist'] : []),
      ...(notRunning ? [`${ev.metrics?.source}: ${ev.metrics?.detail}`] : []),
    ],
    subjects: [{ kind: 'node', name: 'kube-proxy' }],
    fix:
      'kube-proxy has not synced on this boot (still starting, crash-looping, or writing to the other iptables backend). ' +
      'Check the kube-proxy pod on this node and its logs; compare iptables-legacy-save and iptables-nft-save.',
  };
  return {
    notes,
    mode: 'none',
    status: 'broken',
    reason: notRunning ? 'KubeProxyNotRunning' : 'KubeProxyRulesMissing',
    message: finding.title,
    findings: [finding, ...sync],
  };
}

function describeDumps(d: IptablesDumps): string[] {
  const line = (name: string, s: IptablesNodeState | undefined): string[] =>
    s
      ? [
          `${name}: backend ${s.summary.backend}; tables: ${s.summary.tables.map((t) => `${t.name} (${t.rules} rules)`).join(', ') || 'none'}${s.summary.legacyTablesPresent ? '; "iptables-legacy tables present"' : ''}`,
        ]
      : [];
  const seen = new Set<IptablesNodeState>();
  const out: string[] = [];
  for (const [name, s] of [
    ['iptables-save', d.dflt],
    ['iptables-nft-save', d.nft],
    ['iptables-legacy-save', d.legacy],
  ] as const) {
    if (!s || seen.has(s)) continue;
    seen.add(s);
    out.push(...line(name, s));
  }
  return out;
}

function unknownRead(
  mode: KubeProxyMode | undefined,
  read: Read<unknown> | undefined,
  notes: string[],
  what: string,
): KubeProxyAssessment {
  const why = read?.status === 'unknown' ? `${read.source}: ${read.detail}` : 'not collected';
  return {
    notes: [...notes, `${what} (${why})`],
    mode,
    status: 'unknown',
    reason: read?.status === 'unknown' ? read.reason : 'KubeProxyRulesUnread',
    message: `${what}: ${why}`,
    findings: [],
  };
}

/** Findings from kube-proxy's metrics and healthz. A refused metrics port with rules present is a warning. */
function syncFindings(ev: KubeProxyEvidence, ctx: KubeProxyContext): Finding[] {
  const out: Finding[] = [];
  const m = readValue(ev.metrics);
  if (m?.present)
    out.push(
      ...assessKubeProxySync(m, {
        nowSeconds: ctx.nowSeconds,
        ...(ctx.bootSeconds !== undefined ? { bootSeconds: ctx.bootSeconds } : {}),
      }),
    );
  const h = readValue(ev.healthz);
  if (h) out.push(...assessKubeProxyHealthz(h.parsed, h.body));
  return out;
}
