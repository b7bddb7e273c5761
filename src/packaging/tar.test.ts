import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readTar } from '../doctor/tar.ts';
import { splitName, type TarEntry, tarChunks } from './tar.ts';

const long = `usr/share/${'d'.repeat(80)}/${'f'.repeat(90)}`;
const tooLong = `x/${'y'.repeat(150)}`;
const entries: TarEntry[] = [
  { type: 'dir', path: 'usr', mode: 0o755 },
  { type: 'dir', path: 'usr/bin', mode: 0o755 },
  { type: 'file', path: 'usr/bin/tool', mode: 0o755, data: Buffer.from('#!/bin/sh\necho hi\n') },
  { type: 'symlink', path: 'bin', target: 'usr/bin' },
  { type: 'file', path: long, mode: 0o644, data: Buffer.from('long name') },
  { type: 'file', path: tooLong, mode: 0o600, data: Buffer.alloc(1000, 7) },
  { type: 'symlink', path: 'deep', target: `/${'t'.repeat(120)}` },
];
const bytes = (): Buffer => Buffer.concat([...tarChunks(entries)]);

describe('tarChunks', () => {
  it('is byte-for-byte reproducible and block aligned', () => {
    expect(bytes().equals(bytes())).toBe(true);
    expect(bytes().length % 512).toBe(0);
  });

  it('is read back by GNU tar with names, modes, links and contents intact', () => {
    const dir = mkdtempSync(join(tmpdir(), 'nw-tar-'));
    writeFileSync(join(dir, 'l.tar'), bytes());
    const listing = execFileSync('tar', ['-tvf', join(dir, 'l.tar')], { encoding: 'utf8' });
    expect(listing).toContain('root/root');
    execFileSync('tar', ['-xf', join(dir, 'l.tar'), '-C', dir]);
    expect(readFileSync(join(dir, 'usr/bin/tool'), 'utf8')).toBe('#!/bin/sh\necho hi\n');
    expect(statSync(join(dir, 'usr/bin/tool')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(join(dir, 'bin'))).toBe('usr/bin');
    expect(readFileSync(join(dir, long), 'utf8')).toBe('long name');
    expect(readFileSync(join(dir, tooLong)).length).toBe(1000);
    expect(statSync(join(dir, tooLong)).mtimeMs).toBe(0);
    expect(readlinkSync(join(dir, 'deep'))).toBe(`/${'t'.repeat(120)}`);
  });

  it("is read by netwarden's own tar reader too (PAX long names included)", async () => {
    const read = await readTar(
      (async function* () {
        yield bytes();
      })(),
      () => 'head',
      { maxEntryBytes: 1 << 20, maxTotalBytes: 1 << 24, maxEntries: 100 },
    );
    const byPath = new Map(read.entries.map((e) => [e.path, e.data.toString()]));
    expect(byPath.get('usr/bin/tool')).toBe('#!/bin/sh\necho hi\n');
    expect(byPath.get(long)).toBe('long name');
  });
});

describe('splitName', () => {
  it.each([
    ['short', { prefix: '', base: 'short' }],
    [long, { prefix: `usr/share/${'d'.repeat(80)}`, base: 'f'.repeat(90) }],
    [tooLong, null],
  ])('%s', (path, want) => {
    expect(splitName(path)).toEqual(want);
  });
});
