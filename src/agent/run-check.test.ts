import { describe, expect, it } from 'vitest';
import type { Check, CheckContext } from '../checks/check.ts';
import { runCheck } from './run-check.ts';

const ctx = {} as CheckContext; // the checks below never touch it

describe('runCheck', () => {
  it('a check that throws is Unknown/CheckCrashed with the error, never an exception', async () => {
    const check: Check = {
      name: 'boom',
      gating: true,
      run: async () => {
        throw new Error('iptables exploded');
      },
    };
    expect(await runCheck(check, ctx, 1_000)).toMatchObject({
      check: 'boom',
      gating: true,
      status: 'Unknown',
      reason: 'CheckCrashed',
      message: expect.stringContaining('iptables exploded'),
    });
  });

  it('a check past its deadline is Unknown/CheckTimedOut, and the round does not wait for it', async () => {
    const check: Check = { name: 'slow', gating: true, run: () => new Promise(() => {}) };
    // The check never answers: without the deadline this test would hang until vitest's timeout.
    const res = await runCheck(check, ctx, 50);
    expect(res).toMatchObject({
      status: 'Unknown',
      reason: 'CheckTimedOut',
      message: 'no answer within 50 ms',
    });
  });

  it('passes a finished result through with its name, gating flag and duration', async () => {
    const check: Check = {
      name: 'fine',
      gating: false,
      run: async () => ({ status: 'Ok', reason: 'Fine', message: 'fine' }),
    };
    const res = await runCheck(check, ctx, 1_000);
    expect(res).toMatchObject({ check: 'fine', gating: false, status: 'Ok', reason: 'Fine' });
    expect(res.durationMs).toBeGreaterThanOrEqual(0);
  });
});
