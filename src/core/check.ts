/**
 * The result of one check, like node-problem-detector's plugins but with a fourth state:
 * - `Ok`: verified working.
 * - `Failing`: positive evidence that a component serving this node is broken.
 * - `Unknown`: the check could not judge this time (a read timed out or was cut, a tool is
 *   missing, permission denied). It never opens or closes a gate by itself.
 * - `NotApplicable`: there is nothing to judge here, by design (kube-proxy absent in a
 *   kube-proxy-free cluster, a mode netwarden does not model such as IPVS). Reported, and left out
 *   of the verdict, so it can never hold a node.
 */

/** A finding as a check result names it: its stable code and its severity. */
export interface FindingRef {
  readonly code: string;
  readonly severity: 'critical' | 'warning' | 'info';
}

/** Ok, Failing, Unknown or NotApplicable. */
export type CheckStatus = 'Ok' | 'Failing' | 'Unknown' | 'NotApplicable';

/** Every status, for metrics and tests. */
export const CHECK_STATUSES: readonly CheckStatus[] = ['Ok', 'Failing', 'Unknown', 'NotApplicable'];

/** What a check found. `reason` is CamelCase and stable; `message` one line with the evidence. */
export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly reason: string;
  readonly message: string;
  /** Supporting lines (rules, addresses), trimmed by whoever displays them. */
  readonly evidence?: readonly string[];
  /**
   * The finding codes and severities behind the result, every severity (the same codes
   * `netwarden doctor` reports for the same evidence: one judgement per question).
   */
  readonly findings?: readonly FindingRef[];
  readonly durationMs: number;
  /** Advisory checks are reported but never gate (e.g. cluster DNS). */
  readonly gating: boolean;
}

/** The combined verdict of the gating checks of one round. */
export interface Verdict {
  readonly status: 'Ok' | 'Failing' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/**
 * Combines gating checks: any Failing makes the verdict Failing (reason of the first failing
 * check, messages of all failing ones); otherwise any Unknown makes it Unknown; otherwise Ok.
 * Advisory and NotApplicable checks are left out. When nothing is left to judge, the verdict is
 * Unknown (nothing was verified; the boot hold's deadline bounds how long that can last).
 */
export function combine(results: readonly CheckResult[]): Verdict {
  const gating = results.filter((r) => r.gating && r.status !== 'NotApplicable');
  const failing = gating.filter((r) => r.status === 'Failing');
  if (failing.length > 0) {
    return {
      status: 'Failing',
      reason: failing[0]?.reason ?? 'CheckFailing',
      message: failing.map((r) => `${r.check}: ${r.message}`).join('; '),
    };
  }
  const unknown = gating.filter((r) => r.status === 'Unknown');
  if (unknown.length > 0 || gating.length === 0) {
    return {
      status: 'Unknown',
      reason: unknown[0]?.reason ?? 'NoGatingChecks',
      message:
        unknown.length > 0
          ? unknown.map((r) => `${r.check}: ${r.message}`).join('; ')
          : 'no gating check applies to this node',
    };
  }
  const na = results.filter((r) => r.gating && r.status === 'NotApplicable').map((r) => r.check);
  return {
    status: 'Ok',
    reason: 'DataPathVerified',
    message: `${gating.length} check(s) passed: ${gating.map((r) => r.check).join(', ')}${na.length ? ` (not applicable: ${na.join(', ')})` : ''}`,
  };
}
