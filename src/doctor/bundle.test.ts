import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { bundleName, readBundle } from './bundle.ts';

const dir = mkdtempSync(join(tmpdir(), 'nwdoc-bundle-test-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bundleName', () => {
  it.each([
    ['networking/iprule.txt', 'networking/iprule.txt'],
    ['eks_i-123_2024/networking/iprule.txt', 'networking/iprule.txt'],
    ['eks_i-123_2024/cni/10-aws.conflist', 'cni/10-aws.conflist'],
    ['eks_i-123_2024/cni/sub/x.conf', undefined],
    ['a/b/networking/iprule.txt', undefined],
    ['system/ps.txt', undefined],
  ])('%s → %s', (p, want) => {
    expect(bundleName(p)).toBe(want);
  });
});

describe('readBundle', () => {
  it.each([
    ['a missing path', join(dir, 'nope')],
    [
      'an empty directory',
      (() => {
        const d = join(dir, 'empty');
        mkdirSync(d);
        return d;
      })(),
    ],
    [
      'a text file',
      (() => {
        const f = join(dir, 'text.txt');
        writeFileSync(f, 'hello\n'.repeat(200));
        return f;
      })(),
    ],
    [
      'a corrupt gzip',
      (() => {
        const f = join(dir, 'bad.tar.gz');
        writeFileSync(
          f,
          Buffer.concat([gzipSync(Buffer.alloc(4096, 1)).subarray(0, 30), Buffer.from('junk')]),
        );
        return f;
      })(),
    ],
    [
      'a gzip of non-tar data',
      (() => {
        const f = join(dir, 'notar.tar.gz');
        writeFileSync(f, gzipSync(Buffer.from('x'.repeat(5000))));
        return f;
      })(),
    ],
  ])('%s → input-unreadable with one line', async (_n, p) => {
    try {
      await readBundle(p);
      expect.unreachable();
    } catch (err) {
      expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
      expect((err as Error).message).not.toContain('\n');
    }
  });

  it('does not follow symbolic links in a directory bundle', async () => {
    const b = join(dir, 'linked');
    mkdirSync(join(b, 'networking'), { recursive: true });
    writeFileSync(join(b, 'networking', 'iprule.txt'), '0:\tfrom all lookup local\n');
    symlinkSync('/etc/passwd', join(b, 'networking', 'iproute.txt'));
    const inputs = await readBundle(b);
    expect(inputs.get('networking/iproute.txt')).toBeUndefined();
    expect(inputs.notes.join('\n')).toMatch(/symbolic link not followed/);
    expect(inputs.missing).toContain('networking/iproute.txt');
  });

  it('descends into one root folder of an unpacked archive', async () => {
    const b = join(dir, 'unpacked', 'eks_i-1_2024');
    mkdirSync(join(b, 'networking'), { recursive: true });
    writeFileSync(join(b, 'networking', 'iprule.txt'), '0:\tfrom all lookup local\n');
    const inputs = await readBundle(join(dir, 'unpacked'));
    expect(inputs.found).toEqual(['networking/iprule.txt']);
  });
});
