import { describe, expect, it } from 'vitest';
import { parseBootTime, parseFileTimes } from './node-times.ts';

describe('parseFileTimes', () => {
  it('reads `stat -c "%Y %n"` lines by file name and skips the rest', () => {
    const m = parseFileTimes(
      '1732690931 /etc/cni/net.d/10-aws.conflist\n1732690931.5 05-calico.conflist\nstat: cannot stat x\n',
    );
    expect([...m]).toEqual([
      ['10-aws.conflist', 1732690931000],
      ['05-calico.conflist', 1732690931000],
    ]);
  });
});

describe('parseBootTime', () => {
  it.each([
    ['cpu  1 2 3\nbtime 1732690495\nprocesses 9\n', 1732690495000],
    ['1732690495\n', 1732690495000],
    ['uptime 12', undefined],
  ])('%j', (text, want) => {
    expect(parseBootTime(text)).toBe(want);
  });
});
