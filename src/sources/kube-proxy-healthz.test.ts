import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { parseGoTime, parseKubeProxyHealthz } from './kube-proxy-healthz.ts';

describe('parseGoTime', () => {
  it.each([
    ['2020-06-03 23:59:53.688063083 +0000 UTC m=+202.631797660', Date.UTC(2020, 5, 3, 23, 59, 53, 688)],
    ['2024-06-21 11:08:45.074765635 +0200 CEST m=+80.277574766', Date.UTC(2024, 5, 21, 9, 8, 45, 74)],
    ['2024-06-21 11:08:45 +0000 UTC', Date.UTC(2024, 5, 21, 11, 8, 45)],
    ['2024-06-21T11:08:45.123456789Z', Date.UTC(2024, 5, 21, 11, 8, 45, 123)],
    ['2024-06-21T11:08:45+02:00', Date.UTC(2024, 5, 21, 9, 8, 45)],
  ])('%s', (text, ms) => {
    expect(parseGoTime(text)).toBe(ms);
  });

  it.each(['', 'yesterday', '2024-13-45 99:99:99 +0000 UTC'])('%j → undefined', (t) => {
    expect(parseGoTime(t)).toBeUndefined();
  });
});

describe('parseKubeProxyHealthz', () => {
  it('reads the real pre-1.28 body (Go time strings with m=+…)', () => {
    const body = readFileSync(new URL('./fixtures/kube-proxy-healthz-pre-1.28.txt', import.meta.url), 'utf8')
      .split('\n')
      .find((l) => l.startsWith('{')) as string;
    const h = parseKubeProxyHealthz(body);
    expect(h.format).toBe('pre-1.28');
    expect(h.lastUpdatedMs).toBe(Date.UTC(2020, 5, 3, 23, 59, 53, 688));
    expect(h.nodeEligible).toBeUndefined();
    expect(h.warnings).toEqual([]);
  });

  it('reads the 1.28–1.30 body', () => {
    const h = parseKubeProxyHealthz(
      '{"lastUpdated": "2024-06-21 11:08:45.074765635 +0000 UTC m=+80.277574766","currentTime": "2024-06-21 11:08:46.074765635 +0000 UTC m=+81.277574766", "nodeEligible": false}',
    );
    expect(h.format).toBe('1.28-1.30');
    expect(h.nodeEligible).toBe(false);
    expect((h.currentTimeMs ?? 0) - (h.lastUpdatedMs ?? 0)).toBe(1000);
  });

  it('reads the 1.31+ body with per-family status', () => {
    const h = parseKubeProxyHealthz(
      '{"lastUpdated":"2025-01-02T03:04:05.123456789Z","currentTime":"2025-01-02T03:04:06Z","nodeEligible":true,"healthy":false,"status":{"IPv4":{"lastUpdated":"2025-01-02T03:04:05Z","healthy":false}}}',
    );
    expect(h.format).toBe('1.31+');
    expect(h.healthy).toBe(false);
    expect(h.families.IPv4).toEqual({ lastUpdatedMs: Date.UTC(2025, 0, 2, 3, 4, 5), healthy: false });
  });

  it('gives typed errors for non-JSON and unrelated JSON; warnings for bad times', () => {
    for (const body of ['<html>503</html>', '[]', '{}']) {
      try {
        parseKubeProxyHealthz(body);
        expect.unreachable();
      } catch (err) {
        expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
      }
    }
    expect(
      parseKubeProxyHealthz('{"lastUpdated":"soon","currentTime":"2024-06-21 11:08:45 +0000 UTC"}').warnings,
    ).toHaveLength(1);
  });

  it('never throws anything but typed errors (fuzz)', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc
            .record({ lastUpdated: fc.string(), currentTime: fc.string(), status: fc.jsonValue() })
            .map((o) => JSON.stringify(o)),
        ),
        (body) => {
          try {
            parseKubeProxyHealthz(body);
          } catch (err) {
            expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
