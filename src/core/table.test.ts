import { describe, expect, it } from 'vitest';
import { formatAge, formatTable } from './table.ts';

describe('formatTable', () => {
  it('pads every column but the last, upper-cases headers', () => {
    expect(
      formatTable(
        ['name', 'status'],
        [
          ['etcd', 'Running'],
          ['kube-apiserver', 'Running'],
        ],
      ),
    ).toBe(['NAME             STATUS', 'etcd             Running', 'kube-apiserver   Running'].join('\n'));
  });

  it('handles missing cells and no rows', () => {
    expect(formatTable(['a', 'b'], [])).toBe('A   B');
    expect(formatTable(['a', 'b'], [['x']])).toBe('A   B\nx');
  });
});

describe('formatAge', () => {
  it.each([
    [0, '0s'],
    [119_999, '119s'],
    [120_000, '2m'],
    [7_200_000, '2h'],
    [48 * 3_600_000, '2d'],
    [-5, '0s'],
  ])('%d ms → %s', (ms, want) => {
    expect(formatAge(ms)).toBe(want);
  });
});
