import { describe, expect, it } from 'vitest';
import {
  backoffMs,
  DEFAULT_RETRY,
  isRetryableStatus,
  parseRetryAfter,
  retryDelay,
  writeFailure,
} from './retry.ts';

const NOW = Date.parse('2026-06-01T10:00:00Z');

describe('retry policy', () => {
  it.each([
    [429, true],
    [500, true],
    [503, true],
    [599, true],
    [404, false],
    [409, false],
    [422, false],
    [0, false],
  ])('status %i retryable: %s', (status, want) => {
    expect(isRetryableStatus(status)).toBe(want);
  });

  it.each<[string | undefined, number | undefined]>([
    [undefined, undefined],
    ['7', 7_000],
    [' 0 ', 0],
    ['Mon, 01 Jun 2026 10:00:05 GMT', 5_000],
    ['Mon, 01 Jun 2026 09:00:00 GMT', 0], // in the past
    ['-3', undefined],
    ['1.5', undefined],
    ['soon', undefined],
  ])('Retry-After %j → %j ms', (header, want) => {
    expect(parseRetryAfter(header, NOW)).toBe(want);
  });

  it('backs off exponentially with full jitter, capped', () => {
    const max = () => 0.999_999;
    expect([1, 2, 3, 4, 10].map((r) => backoffMs(r, DEFAULT_RETRY, max))).toEqual([
      499, 999, 1_999, 3_999, 9_999,
    ]);
    expect(backoffMs(3, DEFAULT_RETRY, () => 0)).toBe(0);
  });

  it('honours Retry-After (cut to the cap), stops after the attempts, never retries a non-retryable status', () => {
    expect(retryDelay({ status: 429, retryAfter: '3' }, 1, DEFAULT_RETRY, NOW)).toBe(3_000);
    expect(retryDelay({ status: 503, retryAfter: '3600' }, 1, DEFAULT_RETRY, NOW)).toBe(10_000);
    expect(retryDelay({ status: 503 }, 1, DEFAULT_RETRY, NOW, () => 0.5)).toBe(250);
    expect(retryDelay({ status: 503 }, DEFAULT_RETRY.maxAttempts, DEFAULT_RETRY, NOW)).toBeUndefined();
    expect(retryDelay({ status: 422 }, 1, DEFAULT_RETRY, NOW)).toBeUndefined();
  });

  it('a 422 is a conflict only without validation causes and when the object moved meanwhile', () => {
    expect(writeFailure(409, [], '1', '1')).toBe('conflict');
    expect(writeFailure(422, [], '1', '2')).toBe('conflict'); // a failed `test`: someone wrote in between
    expect(writeFailure(422, [], '1', '1')).toBe('error'); // nobody wrote: our patch is wrong
    expect(writeFailure(422, ['FieldValueInvalid'], '1', '2')).toBe('error');
    expect(writeFailure(500, [], '1', '2')).toBe('error');
  });
});
