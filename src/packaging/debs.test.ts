import { describe, expect, it } from 'vitest';
import { parseDependsClosure, parsePrintUris } from './debs.ts';

describe('parseDependsClosure', () => {
  it('keeps real package names, once, and drops virtual ones and dependency lines', () => {
    const text = [
      'iptables',
      '  Depends: libc6',
      ' |Depends: libsystemd0',
      '  Depends: <debconf-2.0>',
      'libc6',
      '<debconf-2.0>',
      'iptables',
      '',
    ].join('\n');
    expect(parseDependsClosure(text)).toEqual(['iptables', 'libc6']);
  });
});

describe('parsePrintUris', () => {
  it('reads file, name, version, size and SHA-256', () => {
    const hex = 'ab'.repeat(32);
    const text = [
      `'x://pool/main/g/glibc/libc6_2.36-9%2bdeb12u14_amd64.deb' libc6_2.36-9+deb12u14_amd64.deb 2759320 SHA256:${hex}`,
      `'x://pool/main/d/dash/dash_0.5.12-2_amd64.deb' dash_0.5.12-2_amd64.deb 91848 SHA256:${hex}`,
      'garbage line',
    ].join('\n');
    expect(parsePrintUris(text)).toEqual([
      { file: 'dash_0.5.12-2_amd64.deb', name: 'dash', version: '0.5.12-2', size: 91848, sha256: hex },
      {
        file: 'libc6_2.36-9+deb12u14_amd64.deb',
        name: 'libc6',
        version: '2.36-9+deb12u14',
        size: 2759320,
        sha256: hex,
      },
    ]);
  });
});
