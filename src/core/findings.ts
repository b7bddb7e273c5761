/**
 * Findings: the stable contract of everything netwarden reports. Codes are kebab-case and never
 * renamed (add new ones instead); JSON consumers key on `code` and `severity`.
 */

/** How bad a finding is. `critical` breaks traffic now; `warning` will or may; `info` explains. */
export type Severity = 'critical' | 'warning' | 'info';

/** Every finding code. Add, never rename; each one is documented in docs/doctor.md (a test checks). */
export const FINDING_CODES = [
  'kube-proxy-rules-missing',
  'kube-proxy-jump-missing',
  'kube-proxy-not-synced',
  'kube-proxy-endpoints-mismatch',
  'kube-proxy-unexpected-reject',
  'kube-proxy-mode-not-modelled',
  'kube-proxy-absent',
  'kube-proxy-not-running',
  'iptables-backend-mismatch',
  'pod-route-missing',
  'pod-rule-missing',
  'pod-veth-missing',
  'cni-config-missing',
  'cni-config-invalid',
  'cni-config-conflict',
  'ipamd-unreachable',
  'ip-assign-failed',
  'ipamd-errors',
  'calico-endpoint-chains-missing',
  'aws-snat-rules-missing',
  // The field cases (docs/field-cases.md): version and configuration mismatches seen in public reports.
  'kube-proxy-nftables-vpc-cni-connmark',
  'vpc-cni-nft-connmark-clears-marks',
  'vpc-cni-rules-in-legacy-backend',
  'calico-iptables-backend-autodetect',
  'kube-proxy-first-sync-race',
  'cni-config-without-daemon',
  'forward-policy-drop',
  'iptables-table-incompatible',
  'iptables-match-unavailable',
  'vpc-cni-waits-for-kube-proxy',
  'kube-proxy-nftables-kernel-too-old',
  'input-parse-warnings',
  'cluster-state-unavailable',
] as const;

/** One finding code. */
export type FindingCode = (typeof FINDING_CODES)[number];

/** A service, pod or address a finding is about. */
export interface Subject {
  readonly kind: 'service' | 'pod' | 'ip' | 'node' | 'file' | 'chain';
  /** `ns/name`, `ns/name:port`, an IP, a file path or a chain name. */
  readonly name: string;
}

/** One finding. */
export interface Finding {
  readonly code: FindingCode;
  readonly severity: Severity;
  /** One line, for a person. */
  readonly title: string;
  /** The exact lines or objects that show it (trimmed by renderers, complete in JSON). */
  readonly evidence: readonly string[];
  readonly subjects: readonly Subject[];
  /** What an operator should do, concretely. */
  readonly fix: string;
}

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** Sorts worst first, then by code, stable otherwise. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return [...findings].sort(
    (a, b) => SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] || a.code.localeCompare(b.code),
  );
}

/** Counts per severity. */
export function summarize(findings: readonly Finding[]): { critical: number; warning: number; info: number } {
  const s = { critical: 0, warning: 0, info: 0 };
  for (const f of findings) s[f.severity]++;
  return s;
}

/** True when any finding is critical or warning (exit code 1 of doctor). */
export function hasProblems(findings: readonly Finding[]): boolean {
  return findings.some((f) => f.severity !== 'info');
}

/** Caps a list of evidence lines, saying how many were left out. */
export function capEvidence(lines: readonly string[], max: number): string[] {
  if (lines.length <= max) return [...lines];
  return [...lines.slice(0, max), `… and ${lines.length - max} more`];
}
