import { describe, expect, it } from 'vitest';
import type { Pod } from './objects.ts';
import { conditionFromProbe, POD_NETWORK_READY, readinessWork } from './pod-readiness.ts';

const BOOT = Date.parse('2026-06-01T10:00:00Z');
const pod = (
  o: {
    gate?: boolean;
    ip?: string;
    cond?: { status: string; at: string; reason?: string };
    hostNetwork?: boolean;
    phase?: string;
  } = {},
): Pod => ({
  metadata: { namespace: 'app', name: 'p', uid: 'u1' },
  spec: {
    containers: [],
    ...(o.gate === false ? {} : { readinessGates: [{ conditionType: POD_NETWORK_READY }] }),
    ...(o.hostNetwork ? { hostNetwork: true } : {}),
  },
  status: {
    phase: o.phase ?? 'Running',
    ...(o.ip === undefined ? { podIP: '10.244.1.5' } : o.ip ? { podIP: o.ip } : {}),
    conditions: o.cond
      ? [
          {
            type: POD_NETWORK_READY,
            status: o.cond.status,
            lastTransitionTime: o.cond.at,
            reason: o.cond.reason ?? 'X',
            message: 'm',
          },
        ]
      : [],
  },
});

describe('readinessWork', () => {
  it.each<[string, Pod, string]>([
    ['no gate', pod({ gate: false }), 'none'],
    ['host network', pod({ hostNetwork: true }), 'none'],
    ['no address yet', pod({ ip: '' }), 'none'],
    ['finished', pod({ phase: 'Succeeded' }), 'none'],
    ['never verified', pod(), 'probe'],
    ['failing', pod({ cond: { status: 'False', at: '2026-06-01T10:01:00Z' } }), 'probe'],
    ['verified on this boot', pod({ cond: { status: 'True', at: '2026-06-01T10:02:00Z' } }), 'none'],
    ['verified before this boot', pod({ cond: { status: 'True', at: '2026-06-01T09:00:00Z' } }), 'reset'],
  ])('%s → %s', (_n, p, kind) => {
    expect(readinessWork(p, BOOT).kind).toBe(kind);
  });

  it('the reset is False NewBootNotVerified', () => {
    expect(readinessWork(pod({ cond: { status: 'True', at: '2026-06-01T09:00:00Z' } }), BOOT)).toMatchObject({
      kind: 'reset',
      condition: { type: POD_NETWORK_READY, status: 'False', reason: 'NewBootNotVerified' },
    });
  });
});

describe('conditionFromProbe', () => {
  const ok = { status: 'ok' as const, checks: [], detail: '3 check(s) ok' };
  const failing = {
    status: 'failing' as const,
    checks: [],
    detail: 'connect 10.96.0.1:443: ENETUNREACH after 1 ms',
  };
  const unknown = { status: 'unknown' as const, checks: [], detail: 'namespace not found' };
  it('ok → True; failing → False with the failing step; unknown leaves a verdict alone', () => {
    expect(conditionFromProbe(ok, undefined)).toMatchObject({ status: 'True', reason: 'PodNetworkVerified' });
    expect(conditionFromProbe(failing, undefined)).toMatchObject({
      status: 'False',
      reason: 'PodNetworkProbeFailing',
      message: 'connect 10.96.0.1:443: ENETUNREACH after 1 ms',
    });
    expect(conditionFromProbe(unknown, undefined)).toMatchObject({
      status: 'False',
      reason: 'PodNetworkNotVerified',
    });
    const current = {
      type: POD_NETWORK_READY,
      status: 'False',
      reason: 'PodNetworkProbeFailing',
      message: failing.detail,
    };
    expect(conditionFromProbe(unknown, current)).toBeUndefined();
    expect(conditionFromProbe(failing, current)).toBeUndefined(); // unchanged: no write
  });
});
