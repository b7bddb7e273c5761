import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isNetwardenError } from '../errors.ts';
import { readTar, safeArchivePath, type TarEntry, type TarEntryFilter, type TarLimits } from './tar.ts';
import { TAR_END, tarEntry } from './testing.ts';

const entry = (name: string, content: string | Buffer, type = '0', prefix?: string): Buffer =>
  tarEntry(name, content, type, prefix !== undefined ? { prefix } : {});
const end = TAR_END;
const LIMITS: TarLimits = { maxTotalBytes: 1 << 20, maxEntries: 100 };

async function* chunks(buf: Buffer, size = 300): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
const keepAll: TarEntryFilter = () => ({ keep: 'head', maxBytes: 1024 });

/** readTar collecting its entries in order. */
async function read(
  stream: AsyncIterable<Buffer>,
  filter: TarEntryFilter,
  limits: TarLimits = LIMITS,
): Promise<{ entries: TarEntry[]; skippedUnsafe: string[]; skippedLinks: string[] }> {
  const entries: TarEntry[] = [];
  const skips = await readTar(stream, filter, (e) => entries.push(e), limits);
  return { entries, ...skips };
}

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
  it('keeps regular files, never follows links, refuses unsafe paths', async () => {
    const tar = Buffer.concat([
      entry('./root/networking/iprule.txt', '0:\tfrom all lookup local\n'),
      entry('../../etc/cron.d/evil', 'x'),
      entry('/etc/passwd', 'x'),
      tarEntry('root/networking/iproute.txt', '', '2', { link: '/etc/shadow' }),
      tarEntry('root/hard', '', '1', { link: '../../etc/shadow' }),
      entry('root/dir/', '', '5'),
      entry('root/fifo', '', '6'),
      end,
    ]);
    const r = await read(chunks(tar), keepAll);
    expect(r.entries.map((e) => [e.path, e.data.toString()])).toEqual([
      ['root/networking/iprule.txt', '0:\tfrom all lookup local\n'],
    ]);
    expect(r.skippedUnsafe).toEqual(['../../etc/cron.d/evil', '/etc/passwd']);
    expect(r.skippedLinks).toEqual(['root/networking/iproute.txt', 'root/hard']);
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
    const r = await read(chunks(tar, 77), keepAll);
    expect(r.entries.map((e) => e.path)).toEqual(['root/networking/iprule.txt', long, 'root/pax/name.txt']);
  });

  it('ignores long-name records too large to be names, without buffering them', async () => {
    const tar = Buffer.concat([
      entry('././@LongLink', 'x'.repeat(70_000), 'L'),
      entry('short.txt', 'c'),
      end,
    ]);
    const r = await read(chunks(tar, 4096), keepAll);
    expect(r.entries.map((e) => [e.path, e.data.toString()])).toEqual([['short.txt', 'c']]);
  });

  it('caps entries (head or tail) and the total, and refuses too many entries', async () => {
    const big = `${'x'.repeat(3000)}END`;
    const tar = Buffer.concat([entry('a.log', big), entry('b.txt', big), entry('c.txt', 'small'), end]);
    const r = await read(chunks(tar), (p) => ({
      keep: p.endsWith('.log') ? 'tail' : 'head',
      maxBytes: 1000,
    }));
    expect(r.entries.map((e) => [e.path, e.size, e.data.length, e.truncated])).toEqual([
      ['a.log', 3003, 1000, true],
      ['b.txt', 3003, 1000, true],
      ['c.txt', 5, 5, false],
    ]);
    expect(r.entries[0]?.data.toString()).toBe(big.slice(-1000));
    expect(r.entries[1]?.data.toString()).toBe(big.slice(0, 1000));
    await expect(read(chunks(tar), keepAll, { ...LIMITS, maxTotalBytes: 2000 })).rejects.toThrow(
      /decompression bomb/,
    );
    await expect(read(chunks(tar), keepAll, { ...LIMITS, maxEntries: 1 })).rejects.toThrow(
      /more than 1 entries/,
    );
  });

  it('keeps exactly the first or last maxBytes, whatever the chunking (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 3000 }),
        fc.integer({ min: 0, max: 3500 }),
        fc.integer({ min: 1, max: 1500 }),
        fc.boolean(),
        async (content, max, chunkSize, tail) => {
          const data = Buffer.from(content);
          const tar = Buffer.concat([entry('f', data), end]);
          const r = await read(chunks(tar, chunkSize), () => ({
            keep: tail ? 'tail' : 'head',
            maxBytes: max,
          }));
          const want =
            data.length <= max ? data : tail ? data.subarray(data.length - max) : data.subarray(0, max);
          expect(r.entries).toHaveLength(1);
          expect(r.entries[0]?.data.equals(want)).toBe(true);
          expect(r.entries[0]?.truncated).toBe(data.length > max);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('hands entries over as they complete and skips declined ones', async () => {
    const tar = Buffer.concat([entry('skip.bin', Buffer.alloc(5000, 7)), entry('keep.txt', 'k'), end]);
    const seen: string[] = [];
    const source = async function* (): AsyncGenerator<Buffer> {
      for await (const c of chunks(tar, 512)) {
        seen.push(`chunk`);
        yield c;
      }
    };
    const got: string[] = [];
    await readTar(
      source(),
      (p) => (p === 'keep.txt' ? { keep: 'head', maxBytes: 10 } : false),
      (e) => {
        got.push(e.path);
        seen.push(`entry ${e.path}`);
      },
      LIMITS,
    );
    expect(got).toEqual(['keep.txt']);
    // keep.txt's header and content are in the chunks after the 5000-byte entry: handed over before the end.
    expect(seen.indexOf('entry keep.txt')).toBeLessThan(seen.length - 1);
  });

  it('keeps what was complete in a cut archive and rejects non-tar data', async () => {
    const tar = Buffer.concat([entry('one.txt', 'first'), entry('two.txt', 'second part'.repeat(100))]);
    const r = await read(chunks(tar.subarray(0, tar.length - 520)), keepAll);
    expect(r.entries.map((e) => [e.path, e.truncated])).toEqual([
      ['one.txt', false],
      ['two.txt', true],
    ]);
    await expect(read(chunks(Buffer.from('x'.repeat(1024))), keepAll)).rejects.toThrow(/not a tar archive/);
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
            await read(chunks(mutated, 100), keepAll);
          } catch (err) {
            expect(isNetwardenError(err, 'input-unreadable')).toBe(true);
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
