import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { readTar, safeArchivePath, type TarLimits } from './tar.ts';

/** One tar header + content, written by hand (ustar). */
function entry(name: string, content: string | Buffer, type = '0', prefix = ''): Buffer {
  const data = typeof content === 'string' ? Buffer.from(content) : content;
  const h = Buffer.alloc(512);
  h.write(name, 0, 100, 'utf8');
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${data.length.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\0', 257);
  h.write('00', 263);
  h.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
  return Buffer.concat([h, data, pad]);
}
const end = Buffer.alloc(1024);
const LIMITS: TarLimits = { maxEntryBytes: 1024, maxTotalBytes: 1 << 20, maxEntries: 100 };

async function* chunks(buf: Buffer, size = 300): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
const keepAll = () => 'head' as const;

describe('safeArchivePath', () => {
  it.each([
    ['./networking/iprule.txt', 'networking/iprule.txt'],
    ['root/cni//10-aws.conflist', 'root/cni/10-aws.conflist'],
    ['../etc/passwd', undefined],
    ['a/../../b', undefined],
    ['/etc/shadow', undefined],
    ['C:\\x', undefined],
    ['a\0b', undefined],
    ['.', undefined],
  ])('%j → %j', (raw, want) => {
    expect(safeArchivePath(raw)).toBe(want);
  });
});

describe('readTar', () => {
  it('keeps regular files, skips links, refuses unsafe paths', async () => {
    const tar = Buffer.concat([
      entry('./root/networking/iprule.txt', '0:\tfrom all lookup local\n'),
      entry('../../etc/cron.d/evil', 'x'),
      entry('/etc/passwd', 'x'),
      entry('root/link', '', '2'),
      entry('root/dir/', '', '5'),
      end,
    ]);
    const r = await readTar(chunks(tar), keepAll, LIMITS);
    expect(r.entries.map((e) => [e.path, e.data.toString()])).toEqual([
      ['root/networking/iprule.txt', '0:\tfrom all lookup local\n'],
    ]);
    expect(r.skippedUnsafe).toEqual(['../../etc/cron.d/evil', '/etc/passwd']);
  });

  it('understands ustar prefixes, GNU long names and pax paths', async () => {
    const long = `root/${'d'.repeat(120)}/f.txt`;
    const pax = (kv: string) => {
      const rec = ` ${kv}\n`;
      let len = rec.length + 2;
      if (`${len}${rec}`.length !== len) len++;
      return `${len}${rec}`;
    };
    const tar = Buffer.concat([
      entry('iprule.txt', 'a', '0', 'root/networking'),
      entry('././@LongLink', `${long}\0`, 'L'),
      entry('trunc', 'b'),
      entry('PaxHeaders/x', pax('path=root/pax/name.txt'), 'x'),
      entry('short', 'c'),
      end,
    ]);
    const r = await readTar(chunks(tar, 77), keepAll, LIMITS);
    expect(r.entries.map((e) => e.path)).toEqual(['root/networking/iprule.txt', long, 'root/pax/name.txt']);
  });

  it('caps entries (head or tail) and the total, and refuses too many entries', async () => {
    const big = `${'x'.repeat(3000)}END`;
    const tar = Buffer.concat([entry('a.log', big), entry('b.txt', big), end]);
    const r = await readTar(chunks(tar), (p) => (p.endsWith('.log') ? 'tail' : 'head'), {
      ...LIMITS,
      maxEntryBytes: 1000,
    });
    const [a, b] = r.entries;
    expect(a?.truncated).toBe(true);
    expect(a?.data.toString().endsWith('END')).toBe(true);
    expect(b?.data.length).toBe(1000);
    await expect(readTar(chunks(tar), keepAll, { ...LIMITS, maxTotalBytes: 2000 })).rejects.toThrow(
      /decompression bomb/,
    );
    await expect(readTar(chunks(tar), keepAll, { ...LIMITS, maxEntries: 1 })).rejects.toThrow(
      /more than 1 entries/,
    );
  });

  it('keeps what was complete in a cut archive and rejects non-tar data', async () => {
    const tar = Buffer.concat([entry('one.txt', 'first'), entry('two.txt', 'second part'.repeat(100))]);
    const r = await readTar(chunks(tar.subarray(0, tar.length - 520)), keepAll, LIMITS);
    expect(r.entries.map((e) => [e.path, e.truncated])).toEqual([
      ['one.txt', false],
      ['two.txt', true],
    ]);
    await expect(readTar(chunks(Buffer.from('x'.repeat(1024))), keepAll, LIMITS)).rejects.toThrow(
      /not a tar archive/,
    );
  });

  it('never hangs or throws untyped errors on random bytes (fuzz)', async () => {
    const base = Buffer.concat([entry('a.txt', 'hello'), entry('b.txt', 'world'), end]);
    await fc.assert(
      fc.asyncProperty(
        fc.nat(base.length - 1),
        fc.uint8Array({ minLength: 1, maxLength: 64 }),
        async (at, junk) => {
          const mutated = Buffer.concat([
            base.subarray(0, at),
            Buffer.from(junk),
            base.subarray(at + junk.length),
          ]);
          try {
            await readTar(chunks(mutated, 100), keepAll, LIMITS);
          } catch (err) {
            expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is what gzip+tar bundles decompress to', () => {
    expect(gzipSync(Buffer.concat([entry('x', 'y'), end]))[0]).toBe(0x1f);
  });
});
