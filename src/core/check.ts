/**
 * The result of one check: tri-state like node-problem-detector's plugins. `Unknown` means the
 * check could not run (tool missing, permission denied, input unreadable); it never opens or
 * closes a gate by itself.
 */

/** Ok, Failing or Unknown. */
export type CheckStatus = 'Ok' | 'Failing' | 'Unknown';

/** What a check found. `reason` is CamelCase and stable; `message` one line with the evidence. */
export interface CheckResult {
  readonly check: string;
  readonly status: CheckStatus;
  readonly reason: string;
  readonly message: string;
  /** Supporting lines (rules, addresses), trimmed by whoever displays them. */
  readonly evidence?: readonly string[];
  readonly durationMs: number;
  /** Advisory checks are reported but never gate (e.g. cluster DNS). */
  readonly gating: boolean;
}

/** The combined verdict of the gating checks of one round. */
export interface Verdict {
  readonly status: CheckStatus;
  readonly reason: string;
  readonly message: string;
}

/**
 * Combines gating checks: any Failing makes the verdict Failing (reason of the first failing
 * check, messages of all failing ones); otherwise any Unknown makes it Unknown; otherwise Ok.
 * Advisory checks are ignored. No gating checks at all is Unknown (nothing was verified).
 */
export function combine(results: readonly CheckResult[]): Verdict {
  const gating = results.filter((r) => r.gating);
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
          : 'no gating check is enabled',
    };
  }
  return {
    status: 'Ok',
    reason: 'DataPathVerified',
    message: `${gating.length} check(s) passed: ${gating.map((r) => r.check).join(', ')}`,
  };
}
