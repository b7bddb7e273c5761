import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConntrack } from './conntrack.ts';

const recorded = readFileSync(new URL('./fixtures/field/conntrack-udp.txt', import.meta.url), 'utf8');
const verbatim = readFileSync(
  new URL(
    '../sources/fixtures/field-cases/kube-proxy-first-sync-race/conntrack-unreplied-126468.txt',
    import.meta.url,
  ),
  'utf8',
);

describe('parseConntrack', () => {
  it('reads a recorded list: a DNATed flow and one the ClusterIP itself would answer', () => {
    const { entries, skipped } = parseConntrack(recorded);
    expect(skipped).toBe(0);
    expect(entries.map((e) => [e.orig.dst, e.orig.dport, e.reply.src, e.unreplied])).toEqual([
      ['10.96.0.99', 53, '198.51.100.10', true],
      ['10.96.0.10', 53, '10.96.0.10', true],
    ]);
  });

  it("reads kubernetes#126468's grep, skipping the command line and the summary", () => {
    const { entries, skipped } = parseConntrack(verbatim);
    expect(skipped).toBe(0);
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      protocol: 'udp',
      orig: { src: '10.120.1.150', dst: '192.168.0.10', sport: 49660, dport: 53 },
      reply: { src: '192.168.0.10', dst: '10.120.1.150', sport: 53, dport: 49660 },
      unreplied: true,
    });
  });

  it('counts lines that are not flows and stops at its cap', () => {
    expect(parseConntrack('hello\nudp 17 29 src=1.2.3.4\n').skipped).toBe(2);
    const many = Array.from({ length: 5 }, () => recorded.split('\n')[0]).join('\n');
    expect(parseConntrack(many, 3)).toMatchObject({ truncated: true });
    expect(parseConntrack(many, 3).entries).toHaveLength(3);
  });
});
