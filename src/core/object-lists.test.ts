import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { walkKubeObjects } from './object-lists.ts';

const kinds = (...docs: unknown[]): string[] => {
  const out: string[] = [];
  walkKubeObjects(docs, (kind, obj) =>
    out.push(`${kind}:${String((obj.metadata as { name?: string })?.name)}`),
  );
  return out;
};
const obj = (kind: string, name: string) => ({ kind, metadata: { name } });

describe('walkKubeObjects', () => {
  it.each<[string, unknown[], string[]]>([
    ['a List', [{ kind: 'List', items: [obj('Pod', 'a'), obj('Service', 'b')] }], ['Pod:a', 'Service:b']],
    [
      'an array of Lists',
      [[{ items: [obj('Pod', 'a')] }, { items: [obj('ConfigMap', 'c')] }]],
      ['Pod:a', 'ConfigMap:c'],
    ],
    ['single objects', [obj('DaemonSet', 'd'), obj('Pod', 'p')], ['DaemonSet:d', 'Pod:p']],
    // Objects listed through a typed client carry no kind: their list key names it.
    [
      'a plain object of lists',
      [{ pods: [{ metadata: { name: 'p' } }], daemonSets: [obj('DaemonSet', 'd')], configMaps: [] }],
      ['Pod:p', 'DaemonSet:d'],
    ],
    ['objects of no kind', [{ metadata: { name: 'x' } }, 3, 'text', null], []],
  ])('%s', (_n, docs, want) => {
    expect(kinds(...docs)).toEqual(want);
  });

  it('stops at its depth and count limits', () => {
    let deep: unknown = obj('Pod', 'deep');
    for (let i = 0; i < 10; i++) deep = [deep];
    expect(kinds(deep)).toEqual([]);
    const many = { items: Array.from({ length: 50 }, (_, i) => obj('Pod', `p${i}`)) };
    expect(walkKubeObjects([many], () => {}, { maxObjects: 7 })).toBe(7);
  });

  it('never throws on arbitrary JSON (fuzz)', () => {
    fc.assert(
      fc.property(fc.array(fc.jsonValue(), { maxLength: 5 }), (docs) => {
        expect(walkKubeObjects(docs, () => {})).toBeGreaterThanOrEqual(0);
      }),
      { numRuns: 300 },
    );
  });
});
