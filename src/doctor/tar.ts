/**
 * A small streaming tar reader for untrusted support bundles: regular files only (links, devices
 * and directories are never followed or created), ustar prefixes, GNU long names and pax `path`
 * records understood, and every path normalised and refused if absolute or escaping the archive
 * (`..`). Nothing is written to disk. Memory is bounded by what the caller asks to keep: an entry
 * the filter declines is skipped as it streams past, without being buffered.
 */
import { NetwardenError } from '../errors.ts';

/** Limits applied while reading an archive. */
export interface TarLimits {
  /** Total bytes of archive stream read (a time bound; the caller bounds the compression ratio). */
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

/** How to keep an entry: its first or last `maxBytes` (logs keep their tail). */
export interface TarKeep {
  readonly keep: 'head' | 'tail';
  readonly maxBytes: number;
}

/**
 * Asked for every regular file (`kind` 'file', with its size) and every link ('link', size 0):
 * a file is kept as told or skipped on false; a link is never followed, and a non-false answer
 * only reports it in `skippedLinks`.
 */
export type TarEntryFilter = (path: string, size: number, kind: 'file' | 'link') => TarKeep | false;

/** A kept entry; `size` is the size the header declared. */
export interface TarEntry {
  readonly path: string;
  readonly size: number;
  readonly data: Buffer;
  /** Cut: larger than `maxBytes`, or the archive ended inside it. */
  readonly truncated: boolean;
}

/** What was refused while reading (the first 20 of each). */
export interface TarSkips {
  readonly skippedUnsafe: string[];
  readonly skippedLinks: string[];
}

// GNU long names and pax records larger than this are ignored, not buffered.
const MAX_META_BYTES = 64 * 1024;
const MAX_LISTED = 20;
// Entry types: regular files (old, ustar, contiguous) and hard/symbolic links.
const REGULAR: ReadonlySet<string> = new Set(['0', '\0', '7']);
const LINKS: ReadonlySet<string> = new Set(['1', '2']);

/** Normalises an archive path; undefined when unsafe (absolute, `..`, NUL) or empty. */
export function safeArchivePath(raw: string): string | undefined {
  if (raw.includes('\0') || raw.startsWith('/') || /^[a-zA-Z]:[\\/]/.test(raw)) return undefined;
  const parts: string[] = [];
  for (const p of raw.replaceAll('\\', '/').split('/')) {
    if (p === '' || p === '.') continue;
    if (p === '..') return undefined;
    parts.push(p);
  }
  return parts.length > 0 ? parts.join('/') : undefined;
}

function cstr(buf: Buffer, start: number, len: number): string {
  const end = buf.indexOf(0, start);
  return buf.toString('utf8', start, end >= 0 && end < start + len ? end : start + len);
}

function octal(buf: Buffer, start: number, len: number): number {
  // GNU base-256 for large sizes: high bit set.
  if ((buf[start] ?? 0) & 0x80) {
    let v = 0;
    for (let i = start + 1; i < start + len; i++) v = v * 256 + (buf[i] ?? 0);
    return v;
  }
  const s = cstr(buf, start, len).trim();
  if (s === '') return 0;
  if (!/^[0-7]+$/.test(s)) return Number.NaN;
  return Number.parseInt(s, 8);
}

function checksumOk(h: Buffer): boolean {
  const want = octal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : (h[i] ?? 0);
  return sum === want;
}

function paxPath(data: Buffer): string | undefined {
  const text = data.toString('utf8');
  let i = 0;
  let path: string | undefined;
  while (i < text.length) {
    const sp = text.indexOf(' ', i);
    if (sp < 0) break;
    const len = Number(text.slice(i, sp));
    if (!Number.isInteger(len) || len <= 0) break;
    const rec = text.slice(sp + 1, i + len - 1);
    if (rec.startsWith('path=')) path = rec.slice(5);
    i += len;
  }
  return path;
}

/** Collects one entry's content within its cap: the first bytes (head) or a window of the last (tail). */
class Collector {
  private chunks: Buffer[] = [];
  private kept = 0;
  private readonly max: number;
  truncated = false;

  private readonly head: Buffer | undefined;

  /** `size` is the entry's declared size: a head is written into one buffer of its final size. */
  constructor(mode: 'head' | 'tail', max: number, size: number) {
    this.max = max;
    this.head = mode === 'head' ? Buffer.allocUnsafe(Math.min(max, size)) : undefined;
  }

  add(piece: Buffer): void {
    if (this.head) {
      const take = Math.min(piece.length, this.head.length - this.kept);
      if (take > 0) {
        piece.copy(this.head, this.kept, 0, take);
        this.kept += take;
      }
      if (take < piece.length) this.truncated = true;
      return;
    }
    // Copies, so a kept piece never pins the (larger) chunk it came from.
    this.chunks.push(Buffer.from(piece));
    this.kept += piece.length;
    while (this.kept > this.max) {
      const first = this.chunks[0] as Buffer;
      const excess = this.kept - this.max;
      this.truncated = true;
      if (first.length <= excess) {
        this.chunks.shift();
        this.kept -= first.length;
      } else {
        this.chunks[0] = first.subarray(excess);
        this.kept -= excess;
      }
    }
  }

  data(): Buffer {
    return this.head ? this.head.subarray(0, this.kept) : Buffer.concat(this.chunks);
  }
}

/** The state of one tar stream: fed chunk by chunk, it walks headers, contents and padding. */
class TarWalker {
  readonly skips: TarSkips = { skippedUnsafe: [], skippedLinks: [] };
  /** Set once the end-of-archive block was read. */
  ended = false;
  private pending: Buffer = Buffer.alloc(0);
  private total = 0;
  private count = 0;
  private remaining = 0; // content bytes left in the current entry
  private padding = 0; // padding bytes after it
  private collector: Collector | undefined; // set while a kept entry is read
  private meta: { kind: string; chunks: Buffer[] } | undefined; // set while a long-name/pax record is read
  private cur = { path: '', size: 0 };
  private nextLongName: string | undefined;
  private readonly filter: TarEntryFilter;
  private readonly onEntry: (entry: TarEntry) => void;
  private readonly limits: TarLimits;

  constructor(filter: TarEntryFilter, onEntry: (entry: TarEntry) => void, limits: TarLimits) {
    this.filter = filter;
    this.onEntry = onEntry;
    this.limits = limits;
  }

  push(chunk: Buffer): void {
    this.total += chunk.length;
    if (this.total > this.limits.maxTotalBytes) {
      throw new NetwardenError(
        'input-unreadable',
        `archive content exceeds ${this.limits.maxTotalBytes} bytes (refusing a possible decompression bomb)`,
      );
    }
    const buf = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let off = 0;
    while (!this.ended) {
      const next = this.step(buf, off);
      if (next === off) break; // needs more data
      off = next;
    }
    this.pending = off >= buf.length ? Buffer.alloc(0) : buf.subarray(off);
  }

  /** The stream ended: an entry in progress is handed over as truncated (a cut archive). */
  end(): TarSkips {
    if (!this.ended && this.collector) {
      this.collector.truncated = true;
      this.finishEntry();
    }
    return this.skips;
  }

  /** Consumes content, padding or one header from `off`; returns the new offset (same: need more). */
  private step(buf: Buffer, off: number): number {
    if (this.remaining > 0) {
      const n = Math.min(this.remaining, buf.length - off);
      if (n <= 0) return off;
      const piece = buf.subarray(off, off + n);
      if (this.collector) this.collector.add(piece);
      else this.meta?.chunks.push(Buffer.from(piece));
      this.remaining -= n;
      if (this.remaining === 0) this.finishEntry();
      return off + n;
    }
    if (this.padding > 0) {
      const n = Math.min(this.padding, buf.length - off);
      this.padding -= Math.max(0, n);
      return off + Math.max(0, n);
    }
    if (buf.length - off < 512) return off;
    const h = buf.subarray(off, off + 512);
    if (h.every((b) => b === 0)) this.ended = true;
    else this.header(h);
    return off + 512;
  }

  private header(h: Buffer): void {
    if (!checksumOk(h))
      throw new NetwardenError('input-unreadable', 'not a tar archive (bad header checksum)');
    if (++this.count > this.limits.maxEntries)
      throw new NetwardenError('input-unreadable', `archive has more than ${this.limits.maxEntries} entries`);
    const size = octal(h, 124, 12);
    if (!Number.isFinite(size) || size < 0)
      throw new NetwardenError('input-unreadable', 'tar header with a bad size');
    const type = String.fromCharCode(h[156] ?? 0);
    this.remaining = size;
    this.padding = (512 - (size % 512)) % 512;
    if (type === 'L' || type === 'x') {
      if (size <= MAX_META_BYTES) this.meta = { kind: type, chunks: [] };
    } else if (REGULAR.has(type) || LINKS.has(type)) {
      this.regularOrLink(this.nameOf(h), size, LINKS.has(type));
    } // directories, devices, FIFOs, global pax headers: skipped
    if (this.remaining === 0) this.finishEntry();
  }

  private nameOf(h: Buffer): string {
    if (this.nextLongName !== undefined) {
      const name = this.nextLongName;
      this.nextLongName = undefined;
      return name;
    }
    const prefix = cstr(h, 257, 6).startsWith('ustar') ? cstr(h, 345, 155) : '';
    const name = cstr(h, 0, 100);
    return prefix ? `${prefix}/${name}` : name;
  }

  private regularOrLink(name: string, size: number, link: boolean): void {
    const list = (into: string[], p: string): void => {
      if (into.length < MAX_LISTED) into.push(p.slice(0, 200));
    };
    const safe = safeArchivePath(name);
    if (safe === undefined) list(this.skips.skippedUnsafe, name);
    else if (link) {
      if (this.filter(safe, 0, 'link') !== false) list(this.skips.skippedLinks, safe);
    } else {
      const want = this.filter(safe, size, 'file');
      if (want !== false) {
        this.collector = new Collector(want.keep, want.maxBytes, size);
        this.cur = { path: safe, size };
      }
    }
  }

  private finishEntry(): void {
    if (this.meta) {
      const data = Buffer.concat(this.meta.chunks);
      if (this.meta.kind === 'L') this.nextLongName = cstr(data, 0, data.length);
      else this.nextLongName = paxPath(data) ?? this.nextLongName;
    } else if (this.collector) {
      const { path, size } = this.cur;
      this.onEntry({ path, size, data: this.collector.data(), truncated: this.collector.truncated });
    }
    this.collector = undefined;
    this.meta = undefined;
  }
}

/**
 * Reads a tar stream (already decompressed), handing each entry `filter` keeps to `onEntry` as
 * soon as it is complete. Throws `input-unreadable` on a stream that is not tar, more entries
 * than allowed, or more content than allowed; a stream that ends early hands over what was
 * complete, and the entry in progress as truncated.
 */
export async function readTar(
  stream: AsyncIterable<Buffer>,
  filter: TarEntryFilter,
  onEntry: (entry: TarEntry) => void,
  limits: TarLimits,
): Promise<TarSkips> {
  const walker = new TarWalker(filter, onEntry, limits);
  for await (const chunk of stream) {
    walker.push(chunk);
    if (walker.ended) break;
  }
  return walker.end();
}
