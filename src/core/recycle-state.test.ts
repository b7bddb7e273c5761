import { describe, expect, it } from 'vitest';
import { initialLimiterState, type LimiterState } from './rate-limit.ts';
import { recycleStateChanged, restoreRecycleState, serializeRecycleState } from './recycle-state.ts';

const state: LimiterState = {
  ...initialLimiterState('boot-1'),
  bootTotal: 3,
  recentMs: [1_000, 2_000],
  owners: {
    'ReplicaSet/app/web-1': {
      recycles: [
        { podKey: 'app/web-1-a', atMs: 1_000, generation: 1 },
        { podKey: 'app/web-1-b', atMs: 2_000, generation: 2 },
      ],
      gaveUpAtMs: 3_000,
    },
  },
  inFlight: [
    {
      podUid: 'u1',
      podKey: 'app/web-1-b',
      ownerKey: 'ReplicaSet/app/web-1',
      ownerKind: 'ReplicaSet',
      atMs: 2_000,
    },
  ],
  backoff: { u9: { failures: 1, nextAtMs: 9_000, lastReason: 'pdb' } },
  reported: { u8: 'Unowned' },
};

describe('recycle state on the Node', () => {
  it('round-trips what the limits and the loop guard need; back-off and reports start over', () => {
    const back = restoreRecycleState(serializeRecycleState(state), 'boot-1');
    expect(back).toEqual({ ...state, backoff: {}, reported: {} });
  });

  it('ignores a state of another boot, a cut or foreign value, and absurd sizes', () => {
    const text = serializeRecycleState(state);
    expect(restoreRecycleState(text, 'boot-2')).toBeUndefined();
    expect(restoreRecycleState(text.slice(0, 40), 'boot-1')).toBeUndefined();
    expect(restoreRecycleState('{"bootId":"boot-1","bootTotal":-1}', 'boot-1')).toBeUndefined();
    expect(restoreRecycleState(undefined, 'boot-1')).toBeUndefined();
    expect(restoreRecycleState('x'.repeat(300 * 1024), 'boot-1')).toBeUndefined();
  });

  it('tells whether a write is needed', () => {
    expect(recycleStateChanged(undefined, state)).toBe(true);
    expect(recycleStateChanged(state, { ...state, backoff: {} })).toBe(false);
    expect(recycleStateChanged(state, { ...state, bootTotal: 4 })).toBe(true);
  });
});
