import { describe, expect, it } from 'vitest';
import { crashLoopDelayMs, nextFailureStreak } from './backoff.ts';

describe('crashLoopDelayMs', () => {
  it.each([
    [0, 1, 0],
    [1, 1, 10_000],
    [2, 1, 20_000],
    [3, 1, 40_000],
    [6, 1, 300_000],
    [20, 1, 300_000],
    [2, 0.1, 2_000],
  ])('after %d failures at scale %d waits %d ms', (n, scale, want) => {
    expect(crashLoopDelayMs(n, scale)).toBe(want);
  });
});

describe('nextFailureStreak', () => {
  it('grows for quick crashes and resets after a long run', () => {
    expect(nextFailureStreak(3, 1_000)).toBe(4);
    expect(nextFailureStreak(3, 600_000)).toBe(1);
    expect(nextFailureStreak(3, 60_000, 0.1)).toBe(1);
  });
});
