/**
 * Components that pick the wrong iptables backend (docs/field-cases.md, cases 3 and 4): the VPC CNI
 * writing iptables-legacy on an iptables-nft host (amazon-vpc-cni-k8s#2103, #1847, #3800), and
 * Felix's `auto` backend detection choosing legacy while the rest of the node uses nft
 * (projectcalico/calico#3709, #5760, #8243).
 *
 * The kernel state of both — rules in the other backend — is `iptables-backend-mismatch`
 * (iptables-backends.ts); here are the version and setting half (warnings: a risk, not a verdict),
 * the VPC CNI's rules found in both backends (leftovers), and the component lines that mismatch
 * finding adds to its evidence.
 */
import type { Finding } from '../core/findings.ts';
import { compareVersions, parseVersion, type Version } from '../core/versions.ts';
import type { CalicoNodeComponent, ComponentVersions, VpcCniComponent } from '../sources/components.ts';
import { componentLine, type HostBackend, rangeLine, versionState } from './field-facts.ts';
import type { IptablesDumps } from './iptables-backends.ts';

const CASE3 = 'vpc-cni-rules-in-legacy-backend';
const CASE4 = 'calico-iptables-backend-autodetect';

const V1_12_1 = parseVersion('1.12.1') as Version;
const V3_18_0 = parseVersion('3.18.0') as Version;
const AMAZON_REPOSITORY =
  /(^|\.)amazonaws\.com(\.cn)?\/amazon-k8s-cni$|^public\.ecr\.aws\/[^/]+\/amazon-k8s-cni$/;

const FIX3 =
  'Upgrade aws-node to v1.13.2 or later (it picks the backend itself); on v1.12.1–v1.13.1 set ENABLE_NFTABLES=true on ' +
  'iptables-nft hosts. Then remove the legacy leftovers (`iptables-legacy-save` shows them; flush the AWS chains there, or ' +
  'reboot the node without a saved legacy ruleset).';

/** Case 3: the VPC CNI's version or image on an iptables-nft host, and its rules in both backends. */
export function vpcCniBackendFindings(
  aws: VpcCniComponent | undefined,
  host: HostBackend,
  d: IptablesDumps,
): Finding[] {
  const out: Finding[] = [];
  const subjects = [{ kind: 'node' as const, name: 'aws-node (VPC CNI)' }];
  if (d.nft && d.legacy && d.nft !== d.legacy && d.nft.aws.present && d.legacy.aws.present)
    out.push({
      code: CASE3,
      severity: 'warning',
      title:
        "The VPC CNI's rules are in both iptables backends: the older copy is a leftover the kernel still runs",
      evidence: [
        `iptables-nft: ${awsSummary(d.nft.aws)}`,
        `iptables-legacy: ${awsSummary(d.legacy.aws)}`,
        ...(aws ? [componentLine('aws-node', aws)] : []),
      ],
      subjects,
      fix: FIX3,
    });
  if (!aws || (host.backend !== 'nft' && host.backend !== 'both')) return out;
  const v = aws.image.version;
  const line = componentLine('aws-node', aws);
  if (v && versionState(CASE3, 'vpc-cni', v) === 'affected') {
    const legacyOnly = compareVersions(v, V1_12_1) < 0;
    if (legacyOnly || aws.settings.enableNftables !== true)
      out.push({
        code: CASE3,
        severity: 'warning',
        title: legacyOnly
          ? 'aws-node before v1.12.1 ships iptables-legacy only, on a host that uses iptables-nft'
          : 'aws-node v1.12.1–v1.13.1 writes iptables-legacy unless ENABLE_NFTABLES=true, on a host that uses iptables-nft',
        evidence: [
          line,
          ...(legacyOnly ? [] : [`ENABLE_NFTABLES=${aws.env.ENABLE_NFTABLES ?? '(unset)'}`]),
          ...host.evidence,
          rangeLine(CASE3, 'vpc-cni'),
        ],
        subjects,
        fix: FIX3,
      });
  }
  if (!AMAZON_REPOSITORY.test(aws.image.repository))
    out.push({
      code: CASE3,
      severity: 'info',
      title:
        "aws-node's image is not Amazon's: builds by others may lack the iptables wrapper that picks the host's backend",
      evidence: [line, ...host.evidence],
      subjects,
      fix: 'Check that the image selects iptables-nft on this host (`iptables --version` inside aws-node prints "(nf_tables)"); a maintainer names Chainguard builds before about v1.20.1 (amazon-vpc-cni-k8s#3800).',
    });
  return out;
}

function awsSummary(a: { readonly connmarkRules: number; readonly snatRules: readonly string[] }): string {
  return `AWS chains present (${a.connmarkRules} CONNMARK rule(s), ${a.snatRules.length} SNAT rule(s))`;
}

const FIX4 =
  "Set FELIX_IPTABLESBACKEND explicitly to the host's backend (NFT on iptables-nft hosts) or upgrade Calico to v3.26+; then " +
  'reboot the node to flush the other backend\'s rules (a Calico maintainer: "You need to flush out any existing rules", calico#5482).';

/** Case 4: Felix's backend setting against the host's backend. */
export function calicoBackendFindings(calico: CalicoNodeComponent | undefined, host: HostBackend): Finding[] {
  if (!calico || host.backend === undefined) return [];
  const v = calico.image.version;
  const oss = calico.edition === 'open-source';
  // Unset means Auto from v3.18 and Legacy before (calico#7741 citing #4322).
  const setting = calico.iptablesBackend ?? (oss && v && compareVersions(v, V3_18_0) < 0 ? 'legacy' : 'auto');
  const shown = `calico-node FELIX_IPTABLESBACKEND=${calico.env.FELIX_IPTABLESBACKEND ?? `(unset: ${setting})`}`;
  const base = {
    code: CASE4,
    severity: 'warning',
    subjects: [{ kind: 'node', name: 'calico-node' }],
    fix: FIX4,
  } as const;
  const line = componentLine('calico-node', calico);
  const explicitWrong =
    (setting === 'nft' && host.backend === 'legacy') || (setting === 'legacy' && host.backend === 'nft');
  if (explicitWrong)
    return [
      {
        ...base,
        title: `Felix is set to write iptables-${setting} on a host that uses iptables-${host.backend}`,
        evidence: [line, shown, ...host.evidence],
      },
    ];
  if (setting !== 'auto' || host.backend === 'legacy' || !oss) return [];
  const state = versionState(CASE4, 'calico-node-oss', v);
  if (state === 'fixed' || (state === 'unknown' && host.backend !== 'both')) return [];
  return [
    {
      ...base,
      title: `${state === 'unknown' ? 'Possible: ' : ''}Felix detects the iptables backend itself (FELIX_IPTABLESBACKEND=auto) and before v3.26 can pick legacy on this host`,
      evidence: [line, shown, ...host.evidence, rangeLine(CASE4, 'calico-node-oss')],
    },
  ];
}

/** Lines naming the VPC CNI's and Calico's versions and backend settings, for `iptables-backend-mismatch`. */
export function backendContextLines(c: ComponentVersions | undefined): string[] {
  if (!c) return [];
  const out: string[] = [];
  if (c.vpcCni) {
    const v = c.vpcCni.image.version;
    const note = v && compareVersions(v, V1_12_1) < 0 ? ' (iptables-legacy only before v1.12.1)' : '';
    out.push(`${componentLine('aws-node', c.vpcCni)}${note}`);
  }
  if (c.calicoNode)
    out.push(
      `${componentLine('calico-node', c.calicoNode)} FELIX_IPTABLESBACKEND=${c.calicoNode.env.FELIX_IPTABLESBACKEND ?? '(unset)'}`,
    );
  return out;
}
