import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  affectedBeforeFixes,
  compareVersions,
  formatVersion,
  inRange,
  parseIptablesVersion,
  parseKernelVersion,
  parseVersion,
  parseVersionRanges,
  type Version,
  versionRanges,
} from './versions.ts';

const v = (text: string): Version => {
  const p = parseVersion(text);
  if (!p) throw new Error(`test setup: ${text} is not a version`);
  return p;
};

describe('parseVersion', () => {
  // Tags as they appear in images and logs of the field cases (docs/field-cases.md).
  it.each([
    ['v1.19.2-eksbuild.1', { major: 1, minor: 19, patch: 2, build: 'eksbuild.1' }],
    ['v1.30.0-eksbuild.3', { major: 1, minor: 30, patch: 0, build: 'eksbuild.3' }],
    ['v1.29.3-minimal-eksbuild.2', { major: 1, minor: 29, patch: 3, build: 'minimal-eksbuild.2' }],
    ['v1.22.3-eksbuild.1', { major: 1, minor: 22, patch: 3, build: 'eksbuild.1' }],
    ['v3.27.0', { major: 3, minor: 27, patch: 0 }],
    ['v3.24.6', { major: 3, minor: 24, patch: 6 }],
    ['1.8.7', { major: 1, minor: 8, patch: 7 }],
    ['v1.32.0-alpha.1', { major: 1, minor: 32, patch: 0, prerelease: 'alpha.1' }],
    ['v1.31.0-rc.0', { major: 1, minor: 31, patch: 0, prerelease: 'rc.0' }],
    ['v1.25.8+k3s1', { major: 1, minor: 25, patch: 8, build: 'k3s1' }],
    ['v1.31.13+k3s1', { major: 1, minor: 31, patch: 13, build: 'k3s1' }],
    ['v1.27.3-eks-a5565ad', { major: 1, minor: 27, patch: 3, build: 'eks-a5565ad' }],
    ['1.8', { major: 1, minor: 8, patch: 0 }],
    ['iptables-save v1.8.7 on Wed Mar 16 07:49:08 2022', { major: 1, minor: 8, patch: 7 }],
  ])('%s', (text, want) => {
    expect(parseVersion(text)).toMatchObject(want);
  });

  it.each(['', 'latest', 'sha256:4f1e', 'v', 'version one', 'x1.2.3', '11.2'.replace('.', '')])(
    '%j has no version',
    (text) => {
      expect(parseVersion(text)).toBeUndefined();
    },
  );

  it('keeps the exact text it read, and formats the comparable part', () => {
    const p = v('amazon-k8s-cni:v1.19.2-eksbuild.1');
    expect(p.raw).toBe('v1.19.2-eksbuild.1');
    expect(formatVersion(p)).toBe('1.19.2');
    expect(formatVersion(v('v1.32.0-alpha.1'))).toBe('1.32.0-alpha.1');
  });

  it('never throws and stays bounded on arbitrary text (fuzz)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 300 }), (text) => {
        const p = parseVersion(text);
        if (p) expect(Number.isSafeInteger(p.major)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });
});

describe('compareVersions', () => {
  it.each([
    ['v1.29.9', 'v1.29.10', -1],
    ['v1.30.5', 'v1.30.5-eksbuild.1', 0], // a distributor build is the same upstream release
    ['v1.29.3-minimal-eksbuild.2', 'v1.29.3-eksbuild.1', 0],
    ['v1.32.0-alpha.1', 'v1.32.0', -1],
    ['v1.32.0-alpha.2', 'v1.32.0-alpha.10', -1],
    ['v1.32.0-alpha.1', 'v1.32.0-beta.0', -1],
    ['v1.32.0-rc.0', 'v1.31.9', 1],
    ['v3.9.0', 'v3.27.0', -1],
    ['v2.0.0', 'v1.99.99', 1],
  ])('%s vs %s → %d', (a, b, want) => {
    expect(compareVersions(v(a), v(b))).toBe(want);
    expect(compareVersions(v(b), v(a))).toBe(-want || 0);
  });
});

describe('parseVersionRanges / inRange', () => {
  const kubeProxyRace = versionRanges('< 1.28.14 || 1.29.0 - 1.29.8 || >= 1.30.0 < 1.30.5 or 1.31.0');
  it.each([
    ['v1.27.16', true],
    ['v1.28.13-eksbuild.1', true],
    ['v1.28.14', false],
    ['v1.29.0', true],
    ['v1.29.8-minimal-eksbuild.3', true],
    ['v1.29.9', false],
    ['v1.30.4-eksbuild.3', true],
    ['v1.30.5', false],
    ['v1.31.0-eksbuild.2', true],
    ['v1.31.1', false],
    ['v1.32.0', false],
  ])('kube-proxy %s affected: %s', (tag, want) => {
    expect(inRange(v(tag), kubeProxyRace)).toBe(want);
  });

  it('reads en dashes the way release notes print them', () => {
    const r = versionRanges('1.29.0–1.29.7');
    expect(inRange(v('1.29.7'), r)).toBe(true);
    expect(inRange(v('1.29.8'), r)).toBe(false);
  });

  it.each([
    ['>= 1.23.0', 'v1.23.0-eksbuild.1', true],
    ['> 1.23.0', 'v1.23.0', false],
    ['<= 3.24.6', 'v3.24.6', true],
    ['= 1.23.0', 'v1.23.1', false],
    ['1.23.0', 'v1.23.0', true],
  ])('%s contains %s: %s', (spec, tag, want) => {
    expect(inRange(v(tag), versionRanges(spec))).toBe(want);
  });

  it.each(['', '<', '1.2.3 -', '< latest', '1.2.3 || ', '~1.2.3', '>= 1.2.3 garbage'])(
    '%j is an error naming the range',
    (spec) => {
      const r = parseVersionRanges(spec);
      expect(r).toEqual({ error: expect.stringContaining('version range') });
    },
  );

  it('versionRanges throws on a bad range (ranges in code are constants)', () => {
    expect(() => versionRanges('soon')).toThrow(/version range "soon"/);
  });
});

describe('affectedBeforeFixes', () => {
  // kubernetes#126532 and its cherry-picks (docs/field-cases.md, kube-proxy-first-sync-race).
  const race = affectedBeforeFixes(['1.31.1', '1.28.14', '1.30.5', '1.29.9']);

  it('writes the ranges like release notes', () => {
    expect(race.text).toBe('< 1.28.14 || >= 1.29.0 < 1.29.9 || >= 1.30.0 < 1.30.5 || >= 1.31.0 < 1.31.1');
  });

  it.each([
    ['v1.26.15', true],
    ['v1.28.13', true],
    ['v1.28.14-eksbuild.1', false],
    ['v1.29.8', true],
    ['v1.29.9', false],
    ['v1.30.4-eksbuild.3', true],
    ['v1.30.10', false],
    ['v1.31.0', true],
    ['v1.31.1', false],
    ['v1.32.0', false],
    ['v1.36.5', false],
  ])('%s affected: %s', (tag, want) => {
    expect(inRange(v(tag), race)).toBe(want);
  });

  it('leaves lines without a backport affected', () => {
    const r = affectedBeforeFixes(['1.27.5', '1.30.2']);
    expect(r.text).toBe('< 1.27.5 || >= 1.28.0 < 1.30.0 || >= 1.30.0 < 1.30.2');
    expect(inRange(v('1.29.40'), r)).toBe(true);
    expect(inRange(v('1.27.9'), r)).toBe(false);
  });

  it('throws on a fix that is not a version', () => {
    expect(() => affectedBeforeFixes(['next'])).toThrow(/"next" is not a version/);
  });
});

describe('parseIptablesVersion', () => {
  it.each([
    // iptables-save headers seen in the field-case threads and on this machine.
    ['# Generated by iptables-save v1.8.7 on Wed Mar 16 07:49:08 2022', '1.8.7', undefined, 'iptables-save'],
    [
      '# Generated by iptables-nft-save v1.8.9 (nf_tables) on Fri Nov 27 20:54:53 2026',
      '1.8.9',
      'nft',
      'iptables-nft-save',
    ],
    [
      '# Generated by iptables-nft-save v1.8.4 on Wed May  8 15:23:58 2024',
      '1.8.4',
      'nft',
      'iptables-nft-save',
    ],
    [
      '# Generated by iptables-legacy-save v1.8.9 on Fri Nov 27 2026',
      '1.8.9',
      'legacy',
      'iptables-legacy-save',
    ],
    [
      '# Generated by iptables-save v1.4.21 on Fri Nov  3 17:21:11 2017',
      '1.4.21',
      undefined,
      'iptables-save',
    ],
    // `iptables --version`, and the versions quoted in error messages.
    ['iptables v1.8.10 (nf_tables)', '1.8.10', 'nft', 'iptables'],
    ["iptables v1.8.4 (legacy): can't initialize iptables table `nat'", '1.8.4', 'legacy', 'iptables'],
    [
      "iptables-restore v1.8.7 (nf_tables): Chain 'KUBE-SVC-UUAZGEQE42ATFAGR' does not exist",
      '1.8.7',
      'nft',
      'iptables-restore',
    ],
    ['ip6tables v1.8.9 (legacy)', '1.8.9', 'legacy', 'ip6tables'],
  ])('%s', (text, version, backend, binary) => {
    const r = parseIptablesVersion(text);
    expect(r && formatVersion(r.version)).toBe(version);
    expect(r?.backend).toBe(backend);
    expect(r?.binary).toBe(binary);
  });

  it.each(['', 'nft v1.0.9 (Old Doc Yak #3)', '*filter', 'iptables: Resource temporarily unavailable.'])(
    '%j is not an iptables version',
    (text) => {
      expect(parseIptablesVersion(text)).toBeUndefined();
    },
  );
});

describe('parseKernelVersion', () => {
  it.each([
    ['6.1.115-126.197.amzn2023.x86_64', 6, 1, 115, '126.197.amzn2023.x86_64'],
    [
      'Linux ip-10-0-81-194.ec2.internal 6.1.115-126.197.amzn2023.x86_64 #1 SMP PREEMPT_DYNAMIC Tue Nov  5 17:36:57 UTC 2024 x86_64 x86_64 x86_64 GNU/Linux',
      6,
      1,
      115,
      '126.197.amzn2023.x86_64',
    ],
    ['5.10.186-179.751.amzn2.x86_64', 5, 10, 186, '179.751.amzn2.x86_64'],
    ['6.12.0-124.13.1.el10_1.x86_64\n', 6, 12, 0, '124.13.1.el10_1.x86_64'],
    ['6.1.0-37-amd64', 6, 1, 0, '37-amd64'],
    ['6.1.92', 6, 1, 92, undefined],
  ])('%s', (text, major, minor, patch, build) => {
    const k = parseKernelVersion(text);
    expect(k).toMatchObject({ major, minor, patch });
    expect(k?.build).toBe(build);
  });

  it.each(['', 'Linux', 'unknown'])('%j has no kernel version', (text) => {
    expect(parseKernelVersion(text)).toBeUndefined();
  });
});
