import { describe, expect, it } from 'vitest';
import { type CheckResult, type CheckStatus, combine } from './check.ts';

const r = (check: string, status: CheckStatus, gating = true): CheckResult => ({
  check,
  status,
  reason: `${check}${status}`,
  message: `${check} is ${status}`,
  durationMs: 1,
  gating,
});

describe('combine (the verdict of one round)', () => {
  it.each<[string, CheckResult[], string, string]>([
    ['all ok', [r('a', 'Ok'), r('b', 'Ok')], 'Ok', 'DataPathVerified'],
    [
      'one failing wins over unknown',
      [r('a', 'Unknown'), r('b', 'Failing'), r('c', 'Ok')],
      'Failing',
      'bFailing',
    ],
    ['first failing names the reason', [r('a', 'Failing'), r('b', 'Failing')], 'Failing', 'aFailing'],
    ['unknown without failing', [r('a', 'Ok'), r('b', 'Unknown')], 'Unknown', 'bUnknown'],
    ['not applicable is left out', [r('a', 'Ok'), r('b', 'NotApplicable')], 'Ok', 'DataPathVerified'],
    ['advisory failing never gates', [r('a', 'Ok'), r('dns', 'Failing', false)], 'Ok', 'DataPathVerified'],
    ['nothing gating: unknown', [r('dns', 'Ok', false)], 'Unknown', 'NoGatingChecks'],
    ['only not-applicable: unknown', [r('a', 'NotApplicable')], 'Unknown', 'NoGatingChecks'],
    ['no checks at all: unknown', [], 'Unknown', 'NoGatingChecks'],
  ])('%s', (_name, results, status, reason) => {
    expect(combine(results)).toMatchObject({ status, reason });
  });

  it('names every failing check in the message, and the not-applicable ones when passing', () => {
    expect(combine([r('a', 'Failing'), r('b', 'Failing')]).message).toBe('a: a is Failing; b: b is Failing');
    expect(combine([r('a', 'Ok'), r('kube-proxy', 'NotApplicable')]).message).toBe(
      '1 check(s) passed: a (not applicable: kube-proxy)',
    );
  });
});
