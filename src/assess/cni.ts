/**
 * Is the node's CNI ready to give pods a working network? The one judgement of the agent's `cni`
 * check, the doctor and the lab. From the CNI configuration folder (which file the runtime will
 * select, invalid or conflicting files), what the node says about its CNI (VPC CNI rules and ipamd,
 * Calico chains, ipamd's settings), the CNI daemon's readiness when it can be asked, and the
 * kubelet's own view:
 * - the runtime would use a config other than the intended CNI, or none → broken;
 * - ipamd refuses connections (VPC CNI selected), or the configured readiness URL is not 200 → broken;
 * - a read that failed → unknown;
 * - no config in the folder while the kubelet reports the node Ready (so the runtime found one
 *   elsewhere) → unknown: the folder netwarden reads is not the runtime's.
 */
import { capEvidence, type Finding } from '../core/findings.ts';
import { type Read, readValue } from '../core/read.ts';
import type { AwsCniRules } from '../netfilter/iptables-state.ts';
import type { CniConfigDir } from '../sources/cni-config.ts';
import { type Assessment, fromFindings } from './assessment.ts';
import { type DaemonReadiness, daemonReadinessFromPods } from './field-boot-order.ts';
import { type CniFieldEvidence, cniFieldCases } from './field-cases.ts';

/** What the operator intends, when known. */
export interface CniIntent {
  /** The VPC CNI should be the pod network (aws-node runs here). */
  readonly vpcCni?: boolean;
  /** Calico runs policy-only on top of the VPC CNI. */
  readonly calicoPolicyOnly?: boolean;
  /** The VPC CNI's own network policy agent is enabled. */
  readonly vpcCniNetworkPolicy?: boolean;
  /** Calico's dataplane is present on the node (cali- chains). */
  readonly calicoPresent?: boolean;
  /**
   * The only sign of the VPC CNI is its rules in the kernel: no aws-cni config, no ipamd or aws-node
   * signal. Leftovers of an earlier CNI (or of another backend) look exactly like this.
   */
  readonly vpcCniFromRulesOnly?: boolean;
}

/** What was read about the CNI on one node. */
export interface CniEvidence {
  /** The configuration folder, parsed; `absent` when the folder does not exist. */
  readonly confDir: Read<CniConfigDir>;
  /** The folder's path as the operator knows it (for messages). */
  readonly confDirPath: string;
  /** ipamd's introspection (`/v1/enis`): `absent` when its port refuses connections. */
  readonly ipamd?: Read<{ readonly status: number }>;
  /** The CNI daemon's readiness endpoint, when configured (`--cni-health-url`). */
  readonly daemonHealth?: Read<{ readonly status: number; readonly body: string }>;
  /** ipamd's and networkutils' environment settings, when read. */
  readonly env?: Readonly<Record<string, string>>;
  /** The VPC CNI's node rules from the iptables dump kube-proxy uses, when a full dump was read. */
  readonly awsRules?: AwsCniRules;
  /** Calico's chains (cali-*) are in the node's iptables. */
  readonly calicoChains?: boolean;
  /** Other signs of the VPC CNI (ipamd's pod list or checkpoint, its logs) were found. */
  readonly vpcCniSignals?: boolean;
  /** The VPC CNI's chains or rules are in the kernel, in any backend (what the agent's field read saw). */
  readonly vpcCniRulesInKernel?: boolean;
  /** The kubelet's Ready condition is True (its runtime found a CNI config). */
  readonly kubeletReady?: boolean;
  /** What the field cases of this question read (field-cases.ts). */
  readonly field?: CniFieldEvidence;
}

/** What the evidence says the operator intends. */
export function cniIntent(ev: CniEvidence): CniIntent {
  const dir = readValue(ev.confDir);
  const anyFile = (t: string): boolean => (dir?.configs ?? []).some((c) => c.types.includes(t));
  const np = (ev.env?.ENABLE_NETWORK_POLICY ?? ev.env?.NETWORK_POLICY_ENFORCING_MODE ?? '').toLowerCase();
  const fromConfig = anyFile('aws-cni');
  const fromSignals = ev.vpcCniSignals ?? false;
  const fromRules = (ev.awsRules?.present ?? false) || (ev.vpcCniRulesInKernel ?? false);
  return {
    vpcCni: fromConfig || fromSignals || fromRules,
    vpcCniFromRulesOnly: fromRules && !fromConfig && !fromSignals,
    calicoPresent: anyFile('calico') || (ev.calicoChains ?? false),
    vpcCniNetworkPolicy: np === 'true' || np === 'standard' || np === 'strict',
  };
}

/** Judges the CNI on one node. Pure. */
export function assessCni(ev: CniEvidence): Assessment {
  if (ev.confDir.status === 'unknown')
    return {
      status: 'unknown',
      reason: 'CniConfigUnreadable',
      message: `${ev.confDirPath}: ${ev.confDir.detail}`,
      findings: [],
    };
  const dir = readValue(ev.confDir) ?? { configs: [] };
  const intent = cniIntent(ev);
  const findings = [
    ...cniConfigFindings(dir, intent, ev.confDirPath),
    ...snatFindings(ev, intent),
    ...cniFieldCases(ev.field ?? {}, {
      vpcCni: intent.vpcCni ?? false,
      confDirPath: ev.confDirPath,
      ...(dir.selected ? { selected: dir.selected } : {}),
      daemon: daemonReadiness(ev, dir.selected?.types ?? []),
    }),
  ];
  if (!dir.selected && ev.kubeletReady === true)
    return {
      status: 'unknown',
      reason: 'CniConfigNotFound',
      message: `no CNI config in ${ev.confDirPath}, yet the kubelet reports the node Ready (its runtime found one): is --cni-conf-dir the runtime's folder?`,
      findings: findings.map((f) => (f.code === 'cni-config-missing' ? { ...f, severity: 'warning' } : f)),
    };
  const judged = fromFindings(findings, {
    reason: 'CniConfigValid',
    message: dir.selected ? `${dir.selected.file} (${dir.selected.types.join(', ')})` : 'no CNI config',
  });
  if (judged.status !== 'ok') return judged;
  const daemon = daemonJudgement(ev, intent, judged);
  return daemon ?? judged;
}

/** The CNI daemon's own answer, once the config is fine. Undefined when nothing was asked. */
function daemonJudgement(ev: CniEvidence, intent: CniIntent, ok: Assessment): Assessment | undefined {
  const h = ev.daemonHealth;
  if (h?.status === 'unknown')
    return {
      ...ok,
      status: 'unknown',
      reason: 'CniDaemonUnanswered',
      message: `CNI daemon ${h.source}: ${h.detail}`,
    };
  if (h && (h.status === 'absent' || h.value.status !== 200)) {
    const why =
      h.status === 'absent'
        ? h.detail
        : `HTTP ${h.value.status}: ${h.value.body.trim().split('\n')[0] ?? ''}`;
    return {
      ...ok,
      status: 'broken',
      reason: 'CniDaemonNotReady',
      message: `CNI daemon ${h.source}: ${why}`,
    };
  }
  const selectedAws = readValue(ev.confDir)?.selected?.types.includes('aws-cni') ?? false;
  const i = ev.ipamd;
  if (!intent.vpcCni || !selectedAws || !i)
    return h ? { ...ok, message: `${ok.message}; CNI daemon ready` } : undefined;
  if (i.status === 'unknown')
    return {
      ...ok,
      status: 'unknown',
      reason: 'IpamdUnanswered',
      message: `ipamd introspection ${i.source}: ${i.detail}`,
    };
  if (i.status === 'absent' || i.value.status !== 200)
    return {
      ...ok,
      status: 'broken',
      reason: 'IpamdUnreachable',
      message: `ipamd introspection ${i.source}: ${i.status === 'absent' ? i.detail : `HTTP ${i.value.status}`}`,
    };
  return { ...ok, message: `${ok.message}; ipamd answers` };
}

/**
 * Whether the selected CNI's daemon is ready: its readiness endpoint or ipamd when they were asked
 * (a refusal or a non-200 says no), else its pod on this node.
 */
function daemonReadiness(ev: CniEvidence, types: readonly string[]): DaemonReadiness {
  for (const r of [ev.daemonHealth, types.includes('aws-cni') ? ev.ipamd : undefined]) {
    if (r?.status === 'absent') return { ready: false, evidence: `${r.source}: ${r.detail}` };
    if (r?.status === 'ok' && r.value.status !== 200)
      return { ready: false, evidence: `${r.source}: HTTP ${r.value.status}` };
  }
  return daemonReadinessFromPods(types, ev.field?.components);
}

/** SNAT rules are required only when ipamd says so (AWS_VPC_K8S_CNI_EXTERNALSNAT=false). */
function snatFindings(ev: CniEvidence, intent: CniIntent): Finding[] {
  const aws = ev.awsRules;
  if (!aws || !intent.vpcCni || ev.env?.AWS_VPC_K8S_CNI_EXTERNALSNAT?.toLowerCase() !== 'false') return [];
  if (aws.snatJump && aws.snatRules.length > 0) return [];
  return [
    {
      code: 'aws-snat-rules-missing',
      severity: 'critical',
      title:
        'AWS_VPC_K8S_CNI_EXTERNALSNAT=false but the VPC CNI SNAT rules are missing: pods cannot reach outside the VPC',
      evidence: [
        aws.snatJump
          ? `found: ${aws.snatJump}`
          : 'missing: -A POSTROUTING -m comment --comment "AWS SNAT CHAIN" -j AWS-SNAT-CHAIN-0',
        aws.snatRules.length > 0
          ? `found: ${aws.snatRules[0]}`
          : 'missing: -A AWS-SNAT-CHAIN-0 … -j SNAT --to-source <primary IP>',
      ],
      subjects: [{ kind: 'chain', name: 'nat AWS-SNAT-CHAIN-0' }],
      fix: 'ipamd writes these at start: restart the aws-node pod on this node; if they vanish again, look for a firewall service flushing nat.',
    },
  ];
}

/** Findings about the config directory: missing, invalid, conflicting. */
export function cniConfigFindings(
  dir: CniConfigDir,
  intent: CniIntent = {},
  source = '/etc/cni/net.d',
): Finding[] {
  const findings: Finding[] = [];
  const list = dir.configs.map(
    (c) => `${c.file}: ${c.valid ? `ok (${c.networkName}: ${c.types.join(', ')})` : `INVALID (${c.error})`}`,
  );
  if (dir.configs.length === 0) {
    findings.push({
      code: 'cni-config-missing',
      severity: 'critical',
      title: `No CNI configuration in ${source}: the kubelet reports NetworkReady=false and no pod gets a network`,
      evidence: [`${source} has no *.conf, *.conflist or *.json file`],
      subjects: [{ kind: 'file', name: source }],
      fix: 'aws-node writes 10-aws.conflist when ipamd starts: check the aws-node pod on this node (init container and aws-node logs).',
    });
    return findings;
  }
  for (const c of dir.configs) {
    if (c.valid) continue;
    const first = dir.configs[0] === c;
    findings.push({
      code: 'cni-config-invalid',
      severity: first || !dir.selected ? 'critical' : 'warning',
      title: `CNI config ${c.file} is invalid${first ? ' and sorts first' : ''}`,
      evidence: [`${source}/${c.file}: ${c.error}`],
      subjects: [{ kind: 'file', name: `${source}/${c.file}` }],
      fix: 'Remove or repair the file; runtimes skip invalid files, so the next config by name is used instead — which may not be the CNI you expect.',
    });
  }
  if (!dir.selected) {
    findings.push({
      code: 'cni-config-missing',
      severity: 'critical',
      title: `No valid CNI configuration in ${source}`,
      evidence: capEvidence(list, 10),
      subjects: [{ kind: 'file', name: source }],
      fix: 'Restore a valid 10-aws.conflist (restart the aws-node pod on this node, which rewrites it).',
    });
    return findings;
  }
  const valid = dir.configs.filter((c) => c.valid);
  const aws = valid.find((c) => c.types.includes('aws-cni'));
  const sel = dir.selected;
  const wantsAws = intent.vpcCni ?? aws !== undefined;
  if (wantsAws && !sel.types.includes('aws-cni')) {
    findings.push(notVpcCniFinding(dir, sel, aws, intent, list, source));
  } else if (valid.length > 1) {
    findings.push({
      code: 'cni-config-conflict',
      severity: 'warning',
      title: `${valid.length} valid CNI configs; the runtime uses only the first by name (${sel.file})`,
      evidence: capEvidence(list, 10),
      subjects: valid.map((c) => ({ kind: 'file', name: `${source}/${c.file}` })),
      fix: 'Keep one CNI config per node; leftover files take over silently when their name sorts first after an upgrade or a rename.',
    });
  }
  if (intent.vpcCniNetworkPolicy && (intent.calicoPresent || intent.calicoPolicyOnly)) {
    findings.push({
      code: 'cni-config-conflict',
      severity: 'warning',
      title: 'VPC CNI network policy is enabled while Calico also enforces policy',
      evidence: ['VPC CNI network policy: enabled', 'Calico chains (cali-*) present on the node'],
      subjects: [{ kind: 'node', name: 'network policy' }],
      fix: 'Use one policy engine: disable the VPC CNI network policy agent (enableNetworkPolicy=false) when Calico enforces policy, as the Calico EKS docs require.',
    });
  }
  return findings;
}

/** The runtime selects a config other than the VPC CNI's while the VPC CNI is meant to serve here. */
function notVpcCniFinding(
  dir: CniConfigDir,
  sel: { readonly file: string; readonly types: readonly string[] },
  aws: { readonly file: string } | undefined,
  intent: CniIntent,
  list: readonly string[],
  source: string,
): Finding {
  const order = `configs in load order: ${dir.configs.map((c) => c.file).join(', ')}`;
  if (intent.vpcCniFromRulesOnly)
    // Rules alone do not say the VPC CNI is meant to be the pod network (a CNI migration leaves
    // them behind): a warning that names them, never a hold.
    return {
      code: 'cni-config-conflict',
      severity: 'warning',
      title: `The VPC CNI's rules are in the kernel, but the runtime uses ${sel.file} (${sel.types.join(', ')}) and no VPC CNI config or daemon was found: leftovers, or a missing config`,
      evidence: capEvidence([order, ...list, 'AWS-* chains or AWS rules in iptables'], 10),
      subjects: [{ kind: 'file', name: `${source}/${sel.file}` }],
      fix: "If the VPC CNI should be the pod network, restore its config (restart the aws-node pod on this node); if another CNI replaced it, remove the VPC CNI's leftover AWS-* chains (`iptables-nft-save` and `iptables-legacy-save` show which backend holds them).",
    };
  const calicoFirst = sel.types.includes('calico');
  return {
    code: 'cni-config-conflict',
    severity: 'critical',
    title: `The runtime will use ${sel.file} (${sel.types.join(', ')}), not the VPC CNI config${aws ? ` ${aws.file}` : ''}`,
    evidence: capEvidence([order, ...list], 10),
    subjects: [{ kind: 'file', name: `${source}/${sel.file}` }],
    fix: calicoFirst
      ? 'Calico is meant to run policy-only on the VPC CNI: it must not install its own CNI config. Remove ' +
        `${sel.file} and set the calico-node install-cni container off (Calico "Amazon VPC networking" mode, CNI type AmazonVPC), then recycle pods created with the wrong CNI.`
      : `Remove ${sel.file} (or rename it to sort after ${aws?.file ?? '10-aws.conflist'}), then recycle pods created with the wrong CNI.`,
  };
}
