import { describe, expect, it } from 'vitest';
import { microTime, truncateUtf8 } from './events.ts';

describe('truncateUtf8', () => {
  it('keeps short text and cuts long text to the byte limit', () => {
    expect(truncateUtf8('abc', 10)).toBe('abc');
    expect(truncateUtf8('x'.repeat(2000), 1024)).toHaveLength(1024);
  });

  it('counts bytes, not characters, and never splits a character', () => {
    const out = truncateUtf8('é'.repeat(1000), 1024);
    expect(Buffer.byteLength(out, 'utf8')).toBeLessThanOrEqual(1024);
    expect(out.endsWith('é...')).toBe(true);
  });
});

describe('microTime', () => {
  it('has exactly six fractional digits', () => {
    expect(microTime(Date.UTC(2026, 0, 2, 3, 4, 5, 67))).toBe('2026-01-02T03:04:05.067000Z');
  });
});
