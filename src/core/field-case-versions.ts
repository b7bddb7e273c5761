/**
 * The version facts of the field cases (docs/field-cases.md) as data: which releases of which
 * component carry each known defect. Only the version half of each case lives here — a version
 * match alone is a suspicion (info/warning), never a verdict; the kernel-state half belongs to the
 * assessment. Every range cites where it was read; ranges marked `confirmed: false` rest on a bound
 * the sources did not pin down (see the doc's "Unconfirmed" lines).
 */
import type { FindingCode } from './findings.ts';
import { affectedBeforeFixes, inRange, type Version, type VersionRanges, versionRanges } from './versions.ts';

/** The components whose versions the cases are keyed on. */
export type FieldCaseComponent = 'vpc-cni' | 'kube-proxy' | 'calico-node-oss' | 'kernel';

/** One case's affected releases of one component. */
export interface FieldCaseVersions {
  /** The case's finding code (docs/field-cases.md). */
  readonly code: FindingCode;
  readonly component: FieldCaseComponent;
  readonly affected: VersionRanges;
  /** False when a bound is inferred or the first fixed release is not known yet. */
  readonly confirmed: boolean;
  /** Where the bounds were read. */
  readonly source: string;
}

/** The field cases that have a version bound, in the doc's order (config-only cases are not here). */
export const FIELD_CASE_VERSIONS: readonly FieldCaseVersions[] = [
  {
    code: 'kube-proxy-nftables-vpc-cni-connmark',
    component: 'vpc-cni',
    affected: versionRanges('< 1.23.0'),
    confirmed: true,
    source: 'amazon-vpc-cni-k8s CHANGELOG v1.23.0 (#3588); EKS best practices, nftables mode',
  },
  {
    code: 'vpc-cni-nft-connmark-clears-marks',
    component: 'vpc-cni',
    // v1.23.0 introduced the rule; no release with the fix (#3875) is known, so the upper bound is open.
    affected: versionRanges('>= 1.23.0'),
    confirmed: false,
    source: 'amazon-vpc-cni-k8s#3872, #3875 (open); CHANGELOG v1.23.1 does not list the fix',
  },
  {
    code: 'vpc-cni-rules-in-legacy-backend',
    component: 'vpc-cni',
    // Before v1.12.1 the image had iptables-legacy only; v1.12.1–v1.13.1 need ENABLE_NFTABLES=true on nft hosts.
    affected: versionRanges('< 1.13.2'),
    confirmed: true,
    source: 'amazon-vpc-cni-k8s README (ENABLE_NFTABLES, v1.12.1–v1.13.2), CHANGELOG v1.13.2 (#2402)',
  },
  {
    code: 'calico-iptables-backend-autodetect',
    component: 'calico-node-oss',
    // #7111 is on master for v3.26.0; its v3.25 cherry-pick (#7460, merged 2023-04-25) shipped in a 3.25
    // patch this project could not pin, so every 3.25.x counts as affected.
    affected: versionRanges('< 3.26.0'),
    confirmed: false,
    source: 'projectcalico/calico#7111, #7460',
  },
  {
    code: 'kube-proxy-first-sync-race',
    component: 'kube-proxy',
    affected: affectedBeforeFixes(['1.28.14', '1.29.9', '1.30.5', '1.31.1']),
    confirmed: true,
    source: 'kubernetes#126532 and cherry-picks #126692, #126689, #126688, #126687 (release notes)',
  },
  {
    code: 'iptables-table-incompatible',
    component: 'calico-node-oss',
    affected: versionRanges('< 3.27.1'),
    confirmed: true,
    source:
      'Calico v3.27.2 release notes (= v3.27.1): "Bump iptables version of calico-node to 1.8.8" (#8485)',
  },
  {
    code: 'kube-proxy-nftables-kernel-too-old',
    component: 'kernel',
    affected: versionRanges('< 5.13.0'),
    confirmed: true,
    source: 'EKS best practices, nftables mode: "requires Linux kernel 5.13 or later"',
  },
];

/** The cases whose version range contains `version` of `component`. */
export function fieldCasesForVersion(component: FieldCaseComponent, version: Version): FieldCaseVersions[] {
  return FIELD_CASE_VERSIONS.filter((c) => c.component === component && inRange(version, c.affected));
}

/** The affected range of `code`'s `component` (a programming error when the table has none). */
export function fieldCaseRange(code: FindingCode, component: FieldCaseComponent): FieldCaseVersions {
  const c = FIELD_CASE_VERSIONS.find((x) => x.code === code && x.component === component);
  if (!c) throw new Error(`no version range for ${code} (${component})`);
  return c;
}
