/**
 * A deterministic tar writer for image layers: POSIX ustar headers (a PAX extended header only for
 * names or link targets too long for ustar), uid/gid 0, one fixed mtime, entries in the order
 * given. Same entries in, same bytes out: the layer's digest depends on nothing else.
 */

/** One entry of a layer. Paths are relative (`usr/bin/node`), without a leading `./` or `/`. */
export type TarEntry =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

const BLOCK = 512;

/** The tar stream of `entries` (with a trailing end-of-archive marker), as chunks. */
export function* tarChunks(entries: Iterable<TarEntry>, mtimeSeconds = 0): Generator<Buffer> {
  for (const e of entries) {
    yield* entryHeaders(e, mtimeSeconds);
    if (e.type === 'file') yield* padded(e.data);
  }
  yield Buffer.alloc(BLOCK * 2);
}

/** The header block of one entry, preceded by a PAX header when a name does not fit ustar. */
function* entryHeaders(e: TarEntry, mtimeSeconds: number): Generator<Buffer> {
  const name = e.type === 'dir' ? `${e.path.replace(/\/$/, '')}/` : e.path;
  const linkname = e.type === 'symlink' ? e.target : '';
  const longLink = Buffer.byteLength(linkname) > 100;
  const split = splitName(name);
  const pax = [
    ...(split ? [] : [paxRecord('path', name)]),
    ...(longLink ? [paxRecord('linkpath', linkname)] : []),
  ];
  if (pax.length > 0) {
    const body = Buffer.from(pax.join(''));
    yield header({
      name: 'PaxHeader',
      prefix: '',
      size: body.length,
      type: 'x',
      mode: 0o644,
      linkname: '',
      mtimeSeconds,
    });
    yield* padded(body);
  }
  const { prefix, base } = split ?? { prefix: '', base: name.slice(-100) };
  yield header({
    name: base,
    prefix,
    size: e.type === 'file' ? e.data.length : 0,
    type: TYPEFLAG[e.type],
    mode: e.type === 'symlink' ? 0o777 : e.mode,
    linkname: longLink ? linkname.slice(0, 100) : linkname,
    mtimeSeconds,
  });
}

const TYPEFLAG = { file: '0', symlink: '2', dir: '5' } as const;

/** ustar's name/prefix split (name ≤ 100 bytes, prefix ≤ 155, split at a `/`), or null. */
export function splitName(path: string): { prefix: string; base: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: '', base: path };
  for (let i = path.indexOf('/'); i !== -1; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const base = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(base) <= 100 && base.length > 0)
      return { prefix, base };
  }
  return null;
}

/** One PAX record: `<length> <key>=<value>\n`, where length counts the whole record. */
function paxRecord(key: string, value: string): string {
  const rest = ` ${key}=${value}\n`;
  let len = Buffer.byteLength(rest) + 1;
  while (String(len).length + Buffer.byteLength(rest) !== len) len++;
  return `${len}${rest}`;
}

function* padded(data: Buffer): Generator<Buffer> {
  yield data;
  const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
  if (pad > 0) yield Buffer.alloc(pad);
}

interface Header {
  readonly name: string;
  readonly prefix: string;
  readonly size: number;
  readonly type: string;
  readonly mode: number;
  readonly linkname: string;
  readonly mtimeSeconds: number;
}

function header(h: Header): Buffer {
  const b = Buffer.alloc(BLOCK);
  const put = (offset: number, length: number, value: string): void => {
    b.write(value, offset, Math.min(length, Buffer.byteLength(value)), 'utf8');
  };
  const octal = (offset: number, length: number, n: number): void => {
    put(offset, length, `${n.toString(8).padStart(length - 1, '0')}\0`);
  };
  put(0, 100, h.name);
  octal(100, 8, h.mode & 0o7777);
  octal(108, 8, 0);
  octal(116, 8, 0);
  octal(124, 12, h.size);
  octal(136, 12, h.mtimeSeconds);
  b.fill(' ', 148, 156); // checksum field counts as spaces while summing
  put(156, 1, h.type);
  put(157, 100, h.linkname);
  put(257, 6, 'ustar\0');
  put(263, 2, '00');
  put(265, 32, 'root');
  put(297, 32, 'root');
  octal(329, 8, 0);
  octal(337, 8, 0);
  put(345, 155, h.prefix);
  let sum = 0;
  for (const byte of b) sum += byte;
  put(148, 8, `${sum.toString(8).padStart(6, '0')}\0 `);
  return b;
}
