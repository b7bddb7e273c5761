/**
 * The shape of every judgement in this folder: one component (kube-proxy, the CNI, the local
 * pods) judged from evidence, with the findings that support it. The agent turns an assessment
 * into a check result, the doctor prints its findings, the lab waits on its status — the same
 * judgement everywhere.
 *
 * Status:
 * - `ok`: judged working.
 * - `broken`: positive evidence that the component, which should serve this node, is broken
 *   (a critical finding).
 * - `unknown`: could not judge this time (a read failed); never a reason to hold a node.
 * - `not-applicable`: nothing to judge by design (component absent, mode not modelled).
 */
import type { CheckStatus, FindingRef } from '../core/check.ts';
import type { Finding } from '../core/findings.ts';
import { exhaustive } from '../core/read.ts';

/** The four outcomes of a judgement. */
export type AssessmentStatus = 'ok' | 'broken' | 'unknown' | 'not-applicable';

/** One component's judgement. `reason` is CamelCase and stable. */
export interface Assessment {
  readonly status: AssessmentStatus;
  readonly reason: string;
  readonly message: string;
  /** Everything found, of every severity (infos explain what was not judged). */
  readonly findings: readonly Finding[];
}

/** `kube-proxy-rules-missing` → `KubeProxyRulesMissing`. */
export function camelReason(code: string): string {
  return code.replace(/(^|-)([a-z])/g, (_m, _d, c: string) => c.toUpperCase());
}

/**
 * Judges from findings alone: a critical finding means broken (reason from the first critical
 * finding's code), otherwise ok with the warnings named in the message.
 */
export function fromFindings(
  findings: readonly Finding[],
  ok: { reason: string; message: string },
): Assessment {
  const critical = findings.filter((f) => f.severity === 'critical');
  if (critical.length === 0) {
    const warnings = findings.filter((f) => f.severity === 'warning').map((f) => f.title);
    return {
      status: 'ok',
      reason: ok.reason,
      message: warnings.length ? `${ok.message} (warnings: ${warnings.join('; ')})` : ok.message,
      findings,
    };
  }
  return {
    status: 'broken',
    reason: camelReason((critical[0] as Finding).code),
    message: critical.map((f) => f.title).join('; '),
    findings,
  };
}

/**
 * Adds findings made after a judgement (the field cases) to it. A critical one turns `ok` into
 * `broken` (positive evidence, as in fromFindings); an unknown or not-applicable judgement keeps its
 * status — what could not be judged stays unjudged — and only gains the findings.
 */
export function withFindings<A extends Assessment>(a: A, extra: readonly Finding[]): A {
  if (extra.length === 0) return a;
  const findings = [...a.findings, ...extra];
  if (a.status !== 'ok' && a.status !== 'broken') return { ...a, findings };
  const critical = extra.filter((f) => f.severity === 'critical');
  if (a.status === 'broken' || critical.length === 0) {
    const warnings =
      a.status === 'ok' ? extra.filter((f) => f.severity === 'warning').map((f) => f.title) : [];
    const message = warnings.length
      ? a.message.includes('(warnings: ')
        ? a.message.replace(/\)$/, `; ${warnings.join('; ')})`)
        : `${a.message} (warnings: ${warnings.join('; ')})`
      : a.message;
    return { ...a, findings, message };
  }
  return {
    ...a,
    status: 'broken',
    reason: camelReason((critical[0] as Finding).code),
    message: critical.map((f) => f.title).join('; '),
    findings,
  };
}

/** The check status an assessment maps to. */
export function checkStatusOf(status: AssessmentStatus): CheckStatus {
  switch (status) {
    case 'ok':
      return 'Ok';
    case 'broken':
      return 'Failing';
    case 'unknown':
      return 'Unknown';
    case 'not-applicable':
      return 'NotApplicable';
    default:
      return exhaustive(status);
  }
}

/**
 * An assessment as a check result body: the critical findings' evidence first, and every finding's
 * code and severity (so /status names the same codes as the doctor).
 */
export function asCheckResult(a: Assessment): {
  status: CheckStatus;
  reason: string;
  message: string;
  evidence: string[];
  findings: FindingRef[];
} {
  const shown = a.findings.filter((f) =>
    a.status === 'broken' ? f.severity === 'critical' : f.severity !== 'info',
  );
  return {
    status: checkStatusOf(a.status),
    reason: a.reason,
    message: a.message,
    evidence: shown.flatMap((f) => f.evidence.slice(0, 5)),
    findings: a.findings.map((f) => ({ code: f.code, severity: f.severity })),
  };
}
