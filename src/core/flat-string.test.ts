import { describe, expect, it } from 'vitest';
import { flatString } from './flat-string.ts';

describe('flatString', () => {
  it('gives the same characters, any length, any code unit', () => {
    for (const s of ['', 'KUBE-SEP', 'KUBE-SEP-ABCDEFGHIJKLMNOP', `é–😀${'x'.repeat(300)}`])
      expect(flatString(s)).toBe(s);
    const big = `${'a'.repeat(70_000)}KUBE-SEP-ABCDEFGHIJKLMNOP`;
    expect(flatString(big)).toBe(big); // longer than one call's arguments may be
    expect(flatString(big.slice(70_000))).toBe('KUBE-SEP-ABCDEFGHIJKLMNOP');
  });
});
