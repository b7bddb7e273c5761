import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { costUnits, estimateCost, InputBudget, tailWithin } from './budget.ts';

const b = (s: string): Buffer => Buffer.from(s);

describe('estimateCost', () => {
  it.each<[string, Parameters<typeof estimateCost>[1], number]>([
    ['', 'lines', 0],
    ['a\nb\n', 'lines', 4 + 1000 * 3],
    ['a\nb\n', 'iptables', 8 * 4 + 160 * 3],
    ['[{"a":1},[2]]', 'json', 13 + 250 * 5],
    ['{"a":1}', 'json-map', 7 + 1050 * 2],
    // Non-ASCII text decodes to a two-byte string: one more byte per input byte.
    ['é\n', 'lines', 2 * 3 + 1000 * 2],
  ])('%j as %s costs %d', (text, cls, want) => {
    expect(estimateCost(b(text), cls)).toBe(want);
  });

  it('counts lines for text and possible values for JSON', () => {
    expect(costUnits(b('x\ny\nz'), 'lines')).toBe(3);
    expect(costUnits(b('{"k":[1,2,{"v":"a,b"}]}'), 'json')).toBe(7);
  });
});

describe('tailWithin', () => {
  it('keeps the latest whole lines that fit, and nothing when none does', () => {
    const data = b('one\ntwo\nthree\n');
    expect(tailWithin(data, 'lines', estimateCost(b('three\n'), 'lines')).toString()).toBe('three\n');
    expect(tailWithin(data, 'lines', estimateCost(data, 'lines')).toString()).toBe('one\ntwo\nthree\n');
    expect(tailWithin(data, 'lines', 10).length).toBe(0);
  });

  it('returns the longest suffix of whole lines within the cost (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.stringMatching(/^[a-z]{0,8}$/), { maxLength: 30 }),
        fc.nat(40_000),
        (lines, max) => {
          const data = b(lines.map((l) => `${l}\n`).join(''));
          const tail = tailWithin(data, 'lines', max);
          const start = data.length - tail.length;
          expect(data.subarray(start).equals(tail)).toBe(true);
          expect(start === 0 || data[start - 1] === 0x0a).toBe(true);
          if (tail.length > 0) expect(estimateCost(tail, 'lines')).toBeLessThanOrEqual(max);
          if (start > 0) {
            const prev = start >= 2 ? data.lastIndexOf(0x0a, start - 2) : -1;
            expect(estimateCost(data.subarray(prev + 1), 'lines')).toBeGreaterThan(max);
          }
        },
      ),
    );
  });
});

describe('InputBudget', () => {
  const ranks: Record<string, number> = { rules: 0, routes: 1, other: 5, log: 9 };
  const budget = (bytes: number) =>
    new InputBudget(
      bytes,
      (n) => ranks[n] ?? 99,
      (extra) => ` (+${Math.round(extra)})`,
    );
  const lines = (n: number, line = 'x'): Buffer => b(`${line}\n`.repeat(n));
  const cost = (data: Buffer) => estimateCost(data, 'lines');

  it('keeps what fits and leaves out, with a note and the hint, what does not', () => {
    const bud = budget(cost(lines(10)) + cost(lines(5)));
    bud.offer('rules', lines(10), 'lines', false);
    bud.offer('routes', lines(5), 'lines', false);
    bud.offer('other', lines(1), 'lines', false);
    expect([...bud.take().keys()]).toEqual(['rules', 'routes']);
    expect(bud.notes).toEqual([
      `other (0.0 MB): not read: parsing needs ~0.0 MB, 0.0 MB of the 0.0 MB memory budget left (+${cost(lines(1))})`,
    ]);
  });

  it('lets a more important input displace less important ones, shrinking logs before dropping', () => {
    const bud = budget(cost(lines(100)));
    bud.offer('log', lines(60, 'log line'), 'lines', true);
    bud.offer('other', lines(30), 'lines', false);
    bud.offer('rules', lines(50), 'lines', false);
    const kept = bud.take();
    expect(kept.get('rules')?.toString()).toBe(lines(50).toString());
    expect(kept.has('other')).toBe(true);
    const log = kept.get('log')?.toString() ?? '';
    expect(log.length).toBeGreaterThan(0);
    expect(log.length).toBeLessThan(lines(60, 'log line').length);
    expect(bud.notes).toEqual([
      'log: only the last 0.0 MB read (memory budget)',
      'log: only the last 0.0 MB read (memory budget, rules first)',
    ]);
    // Never more than the budget, however it was reached.
    expect([...kept.values()].reduce((s, d) => s + cost(d), 0)).toBeLessThanOrEqual(cost(lines(100)));
  });

  it('does not displace anything for an input that would not fit anyway', () => {
    const bud = budget(cost(lines(10)));
    bud.offer('other', lines(8), 'lines', false);
    bud.offer('rules', lines(50), 'lines', false);
    expect([...bud.take().keys()]).toEqual(['other']);
  });

  it('gives a log at most a quarter of the budget, its latest lines', () => {
    const bud = budget(cost(lines(400)));
    const log = b(Array.from({ length: 1000 }, (_, i) => `${i}\n`).join(''));
    bud.offer('log', log, 'lines', true);
    const kept = bud.take().get('log') ?? Buffer.alloc(0);
    expect(cost(kept)).toBeLessThanOrEqual(cost(lines(400)) / 4);
    expect(kept.toString().endsWith('998\n999\n')).toBe(true);
  });

  it('keeps the last copy of an input offered twice and says how many there were', () => {
    const bud = budget(1e6);
    bud.offer('rules', b('first\n'), 'lines', false);
    bud.offer('rules', b('second\n'), 'lines', false);
    bud.offer('rules', b('third\n'), 'lines', false);
    expect(bud.take().get('rules')?.toString()).toBe('third\n');
    expect(bud.notes).toEqual(['rules: appears 3 times in the bundle; the last copy is read']);
  });
});
