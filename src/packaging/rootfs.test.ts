import { mkdirSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dropped, layerEntries, mergedUsrPath, walkExtracted } from './rootfs.ts';

describe('merged /usr and dropped paths', () => {
  it.each([
    ['bin/sh', 'usr/bin/sh'],
    ['lib64/ld-linux-x86-64.so.2', 'usr/lib64/ld-linux-x86-64.so.2'],
    ['sbin', 'usr/sbin'],
    ['usr/bin/node', 'usr/bin/node'],
    ['binaries/x', 'binaries/x'],
  ])('%s → %s', (from, to) => expect(mergedUsrPath(from)).toBe(to));

  it.each([
    ['usr/share/doc/dash/changelog.gz', true],
    ['usr/share/doc/dash/copyright', false],
    ['usr/share/man/man1/nsenter.1.gz', true],
    ['usr/share/locale/de/LC_MESSAGES/x.mo', true],
    ['usr/share/bash-completion/completions/nsenter', true],
    ['usr/sbin/nft', false],
  ])('%s dropped: %s', (path, want) => expect(dropped(path)).toBe(want));
});

describe('walkExtracted + layerEntries', () => {
  it('folds bin/ and lib/ onto usr/, adds parents and the top symlinks, sorted; extras win', () => {
    const root = mkdtempSync(join(tmpdir(), 'nw-rootfs-'));
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'usr/share/man'), { recursive: true });
    writeFileSync(join(root, 'bin/dash'), 'dash');
    symlinkSync('dash', join(root, 'bin/sh'));
    writeFileSync(join(root, 'usr/share/man/x.1'), 'man');
    const nodes = walkExtracted(root);
    expect(nodes.map((n) => n.path).sort()).toEqual(['usr', 'usr/bin/dash', 'usr/bin/sh', 'usr/share']);
    const entries = [
      ...layerEntries(nodes, [
        { type: 'file', path: 'usr/bin/dash', mode: 0o755, data: Buffer.from('mine') },
      ]),
    ];
    expect(entries.map((e) => `${e.type} ${e.path}`)).toEqual([
      'symlink bin',
      'symlink lib',
      'symlink lib64',
      'symlink sbin',
      'dir usr',
      'dir usr/bin',
      'file usr/bin/dash',
      'symlink usr/bin/sh',
      'dir usr/share',
    ]);
    const dash = entries.find((e) => e.path === 'usr/bin/dash');
    expect(dash?.type === 'file' && dash.data.toString()).toBe('mine');
  });

  it('refuses one path shipped twice with different contents', () => {
    const root = mkdtempSync(join(tmpdir(), 'nw-rootfs-'));
    mkdirSync(join(root, 'bin'));
    mkdirSync(join(root, 'usr/bin'), { recursive: true });
    writeFileSync(join(root, 'bin/x'), 'one');
    writeFileSync(join(root, 'usr/bin/x'), 'two');
    expect(() => walkExtracted(root)).toThrow('usr/bin/x is shipped twice with different contents');
  });
});
