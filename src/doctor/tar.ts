/**
 * A small streaming tar reader for untrusted support bundles: regular files only (links, devices
 * and directories are skipped), ustar prefixes, GNU long names and pax `path` records understood,
 * and every path normalised and refused if absolute or escaping the archive (`..`). Nothing is
 * written to disk; the caller decides which entries to keep and how much of each.
 */
import { NetwardenError } from '../errors.ts';

/** Limits applied while reading an archive. */
export interface TarLimits {
  /** Bytes kept per wanted entry; beyond it the entry is cut (logs keep their tail). */
  readonly maxEntryBytes: number;
  /** Total bytes of archive content read (decompression-bomb guard). */
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

/** Receives entries; returns how to keep an entry ('head' | 'tail') or false to skip it. */
export type TarEntryFilter = (path: string, size: number) => 'head' | 'tail' | false;

/** A kept entry. */
export interface TarEntry {
  readonly path: string;
  readonly data: Buffer;
  readonly truncated: boolean;
}

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

/** Reads a tar stream (already decompressed), keeping the entries `filter` asks for. */
export async function readTar(
  stream: AsyncIterable<Buffer>,
  filter: TarEntryFilter,
  limits: TarLimits,
): Promise<{ entries: TarEntry[]; skippedUnsafe: string[] }> {
  const entries: TarEntry[] = [];
  const skippedUnsafe: string[] = [];
  let pending: Buffer = Buffer.alloc(0);
  let total = 0;
  let count = 0;
  // Current entry state.
  let remaining = 0; // content bytes left in the current entry
  let padding = 0; // padding bytes after it
  let keep: 'head' | 'tail' | 'meta' | false = false;
  let chunks: Buffer[] = [];
  let kept = 0;
  let truncated = false;
  let curPath = '';
  let nextLongName: string | undefined;
  let metaKind = '';
  let ended = false;

  const finishEntry = (): void => {
    if (keep === 'meta') {
      const data = Buffer.concat(chunks);
      if (metaKind === 'L') nextLongName = cstr(data, 0, data.length);
      else if (metaKind === 'x') nextLongName = paxPath(data) ?? nextLongName;
    } else if (keep) {
      entries.push({ path: curPath, data: Buffer.concat(chunks), truncated });
    }
    chunks = [];
    kept = 0;
    truncated = false;
    keep = false;
  };

  for await (const chunk of stream) {
    total += chunk.length;
    if (total > limits.maxTotalBytes) {
      throw new NetwardenError(
        'input-unreadable',
        `archive content exceeds ${limits.maxTotalBytes} bytes (refusing a possible decompression bomb)`,
      );
    }
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let off = 0;
    while (!ended) {
      if (remaining > 0) {
        const n = Math.min(remaining, pending.length - off);
        if (n <= 0) break;
        const piece = pending.subarray(off, off + n);
        if (keep) {
          if (keep === 'tail' || keep === 'meta') {
            chunks.push(Buffer.from(piece));
            kept += n;
            const cap = keep === 'meta' ? 1024 * 1024 : limits.maxEntryBytes;
            while (kept > cap && chunks.length > 1) {
              kept -= (chunks.shift() as Buffer).length;
              truncated = true;
            }
          } else if (kept < limits.maxEntryBytes) {
            const take = Math.min(n, limits.maxEntryBytes - kept);
            chunks.push(Buffer.from(piece.subarray(0, take)));
            kept += take;
            if (take < n) truncated = true;
          } else truncated = true;
        }
        off += n;
        remaining -= n;
        if (remaining === 0) finishEntry();
        continue;
      }
      if (padding > 0) {
        const n = Math.min(padding, pending.length - off);
        if (n <= 0) break;
        off += n;
        padding -= n;
        continue;
      }
      if (pending.length - off < 512) break;
      const h = pending.subarray(off, off + 512);
      off += 512;
      if (h.every((b) => b === 0)) {
        ended = true;
        break;
      }
      if (!checksumOk(h))
        throw new NetwardenError('input-unreadable', 'not a tar archive (bad header checksum)');
      if (++count > limits.maxEntries)
        throw new NetwardenError('input-unreadable', `archive has more than ${limits.maxEntries} entries`);
      const size = octal(h, 124, 12);
      if (!Number.isFinite(size) || size < 0)
        throw new NetwardenError('input-unreadable', 'tar header with a bad size');
      const type = String.fromCharCode(h[156] ?? 0);
      const magic = cstr(h, 257, 6);
      const prefix = magic.startsWith('ustar') ? cstr(h, 345, 155) : '';
      let name = cstr(h, 0, 100);
      if (prefix) name = `${prefix}/${name}`;
      if (nextLongName !== undefined) {
        name = nextLongName;
        nextLongName = undefined;
      }
      remaining = size;
      padding = (512 - (size % 512)) % 512;
      if (type === 'L' || type === 'x') {
        keep = 'meta';
        metaKind = type;
      } else if (type === '0' || type === '\0' || type === '7') {
        const safe = safeArchivePath(name);
        if (safe === undefined) {
          if (skippedUnsafe.length < 20) skippedUnsafe.push(name.slice(0, 200));
          keep = false;
        } else {
          curPath = safe;
          keep = filter(safe, size);
        }
      } else keep = false; // directories, links, devices, global pax headers: skipped
      if (remaining === 0 && keep) finishEntry();
      else if (remaining === 0) keep = false;
    }
    pending = off >= pending.length ? Buffer.alloc(0) : pending.subarray(off);
    if (ended) break;
  }
  if (!ended && (remaining > 0 || pending.length > 0)) {
    // Truncated archive: keep what was complete; a partial entry in progress is kept as truncated.
    if (keep && keep !== 'meta' && chunks.length > 0)
      entries.push({ path: curPath, data: Buffer.concat(chunks), truncated: true });
  }
  return { entries, skippedUnsafe };
}
