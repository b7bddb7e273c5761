/**
 * Support-bundle reader: a directory or a `.tar`/`.tar.gz`/`.tgz` in the EKS log collector layout,
 * with or without one root folder. Bundles are untrusted, so:
 * - only known inputs are read (inputs.ts), each within its size limit, and all of them within a
 *   memory budget (budget.ts); entries the doctor does not read stream past unbuffered;
 * - an archive's decompressed size and compression ratio are bounded (a gzip bomb stops early);
 * - a directory bundle is never left: every file is resolved (symbolic links included) and read
 *   only if it lies inside the bundle, opened with O_NOFOLLOW, and checked again through its open
 *   descriptor (Linux), so a symbolic link or a swapped directory cannot lead outside;
 * - nothing from an archive touches the disk.
 * An input that cannot be read as a bundle at all is `input-unreadable` (exit 2), in one line
 * naming the path and the problem; what was skipped inside a readable bundle is a note.
 */
import { constants, createReadStream, type Dir } from 'node:fs';
import { type FileHandle, open, opendir, readlink, realpath, stat } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { NetwardenError } from '../errors.ts';
import { InputBudget } from './budget.ts';
import {
  CNI_DIR,
  INPUT_FILES,
  INPUT_READ,
  type InputRead,
  inputRank,
  inputRead,
  MAX_CNI_FILES,
  memoryInputs,
  type NodeInputs,
} from './inputs.ts';
import { readTar, type TarEntry, type TarKeep, type TarSkips } from './tar.ts';

/** Limits of bundle reading. */
export interface BundleLimits {
  /** Estimated memory the loaded inputs may take once parsed (budget.ts). */
  readonly memoryBudgetBytes: number;
  /** Ends the note of an input the budget leaves out (see InputBudget). */
  readonly budgetHint?: (extraBytes: number, atLeast: boolean) => string;
  /** Bytes of tar stream read at most (after decompression): a bound on time. */
  readonly maxArchiveBytes: number;
  /** Decompressed:compressed ratio refused once `ratioCheckAfterBytes` were decompressed. */
  readonly maxCompressionRatio: number;
  readonly ratioCheckAfterBytes: number;
  readonly maxEntries: number;
  /** Directory entries looked at per folder (the bundle root, `cni/`). */
  readonly maxDirEntries: number;
}

/**
 * Defaults that keep `doctor --bundle` within 300 MB RSS on any bundle (bench/doctor-bundle-memory.ts):
 * the process takes ~100 MB, the report and buffers not yet freed ~70 MB, the inputs' budget
 * 130 MB (what `--max-memory 300` leaves, see cli/doctor.ts).
 * Text gzips 5-20:1; 200:1 is a bomb.
 */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  memoryBudgetBytes: 130e6,
  maxArchiveBytes: 4 * 1024 * 1024 * 1024,
  maxCompressionRatio: 200,
  ratioCheckAfterBytes: 64 * 1024 * 1024,
  maxEntries: 500_000,
  maxDirEntries: 10_000,
};

const TOP_DIRS = new Set([
  'networking',
  'ipamd',
  'var_log',
  'kubelet',
  'cni',
  'kernel',
  'sysctls',
  'kube-proxy',
  'netwarden',
  'system',
]);
const KNOWN: ReadonlySet<string> = new Set(Object.values(INPUT_FILES));

/** Maps an archive/dir path to a bundle name, dropping one root folder when present. */
export function bundleName(path: string): string | undefined {
  const parts = path.split('/');
  const first = parts[0] ?? '';
  const rel = TOP_DIRS.has(first) ? path : parts.length > 1 ? parts.slice(1).join('/') : path;
  if (KNOWN.has(rel)) return rel;
  if (rel.startsWith(CNI_DIR) && rel.length > CNI_DIR.length && !rel.slice(CNI_DIR.length).includes('/'))
    return rel;
  return undefined;
}

/** One line for an I/O error: the errno meaning, never a stack or a multi-line message. */
function ioProblem(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'ENOTDIR':
      return 'a path component is not a directory';
    case 'ELOOP':
      return 'too many levels of symbolic links';
    case 'EISDIR':
      return 'is a directory';
    case 'EIO':
      return 'input/output error';
    default:
      return ((err as Error).message ?? String(err)).split('\n')[0] ?? 'unreadable';
  }
}

const unreadable = (path: string, problem: string, cause?: unknown): NetwardenError =>
  new NetwardenError('input-unreadable', `--bundle ${path}: ${problem}`, cause ? { cause } : undefined);

/** Reads a bundle from a directory or an archive file. */
export async function readBundle(
  path: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<NodeInputs> {
  // The path the operator gave is followed if it is a link; what is inside the bundle is not.
  let st: Awaited<ReturnType<typeof stat>>;
  try {
    st = await stat(path);
  } catch (err) {
    throw unreadable(path, ioProblem(err), err);
  }
  if (st.isDirectory()) return readBundleDir(path, limits);
  if (st.isFile()) return readBundleArchive(path, limits);
  throw unreadable(path, 'not a directory or a regular file');
}

const MAX_NOTES = 100;
const MB = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

/** What a bundle reader collects before the inputs are decoded. */
class Collected {
  readonly budget: InputBudget;
  private readonly notes: string[] = [];
  private notesLeft = 0;
  /** Inputs that exist but are not loaded (presence-only or left out). */
  readonly present = new Set<string>();
  cniPresent = false;
  cniFiles = 0;

  constructor(limits: BundleLimits) {
    this.budget = new InputBudget(limits.memoryBudgetBytes, inputRank, limits.budgetHint);
  }

  note(line: string): void {
    if (this.notes.length < MAX_NOTES) this.notes.push(line);
    else this.notesLeft++;
  }

  /**
   * Whether to read an input of `size` bytes at all: presence-only inputs and whole-or-nothing
   * inputs over their limit are only recorded (a cut ruleset or JSON would mislead the checks).
   */
  wants(name: string, read: InputRead, size: number): read is Exclude<InputRead, { keep: 'presence' }> {
    if (read.keep === 'presence') {
      this.present.add(name);
      return false;
    }
    if (name.startsWith(CNI_DIR) && ++this.cniFiles > MAX_CNI_FILES) {
      if (this.cniFiles === MAX_CNI_FILES + 1)
        this.note(`${CNI_DIR}: more than ${MAX_CNI_FILES} files; the others not read`);
      return false;
    }
    if (read.keep === 'head' && size > read.maxBytes) {
      this.present.add(name);
      this.note(
        `${name} (${MB(size)}): not read: larger than its ${MB(read.maxBytes)} limit (a cut copy would mislead the checks)`,
      );
      return false;
    }
    if (!this.budget.couldFit(name, size, read.cost, read.keep === 'tail')) {
      this.present.add(name);
      return false;
    }
    return true;
  }

  /** Offers one input's bytes; `truncated` when its end is missing (cut archive or, for logs, the limit). */
  offer(
    name: string,
    read: Exclude<InputRead, { keep: 'presence' }>,
    data: Buffer,
    size: number,
    truncated: boolean,
  ): void {
    if (read.keep === 'head' && truncated) {
      this.present.add(name);
      this.note(`${name}: not read: the archive ends inside it`);
      return;
    }
    if (truncated && size <= read.maxBytes)
      this.note(`${name}: the archive ends inside it; what is there is read`);
    this.budget.offer(name, data, read.cost, read.keep === 'tail');
  }

  /** The tar reader's filter: which entries to keep and how. */
  tarFilter(path: string, size: number, kind: 'file' | 'link'): TarKeep | false {
    const name = bundleName(path);
    if (name === undefined) {
      if (path.split('/').includes('cni')) this.cniPresent = true;
      return false;
    }
    if (name.startsWith(CNI_DIR)) this.cniPresent = true;
    const read = inputRead(name);
    if (read === undefined) return false;
    if (kind === 'link') return { keep: 'head', maxBytes: 0 }; // only reported
    return this.wants(name, read, size) ? { keep: read.keep, maxBytes: read.maxBytes } : false;
  }

  /** A kept tar entry: a log cut by its limit is expected, any other cut means the archive ended. */
  tarEntry(e: TarEntry): void {
    const name = bundleName(e.path) as string;
    const read = inputRead(name) as Exclude<InputRead, { keep: 'presence' }>;
    const overLimit = read.keep === 'tail' && e.size > read.maxBytes;
    this.offer(name, read, e.data, e.size, e.truncated && !overLimit);
    if (overLimit) this.note(`${name}: larger than its ${MB(read.maxBytes)} limit; the last part read`);
  }

  get empty(): boolean {
    return this.present.size === 0 && this.budget.names().length === 0 && !this.cniPresent;
  }

  /** Decodes the kept inputs (each buffer dropped once decoded) into NodeInputs. */
  inputs(source: string): NodeInputs {
    const files = new Map<string, string>();
    const kept = this.budget.take();
    for (const [name, data] of kept) {
      files.set(name, data.toString('utf8'));
      kept.delete(name);
      this.present.delete(name);
    }
    for (const n of this.budget.notes) this.note(n);
    if (this.notesLeft > 0) this.notes.push(`… and ${this.notesLeft} more note(s) about left-out inputs`);
    return memoryInputs(
      source,
      files,
      this.notes,
      this.cniPresent,
      undefined,
      [...this.present].filter((n) => !n.startsWith(CNI_DIR)),
    );
  }
}

/** Directory entries of `dir`, at most `max` (a note says when more were left). */
async function listDir(dir: string, max: number): Promise<{ names: string[]; more: boolean }> {
  const names: string[] = [];
  const d: Dir = await opendir(dir);
  try {
    for (let e = await d.read(); e !== null; e = await d.read()) {
      if (names.length >= max) return { names, more: true };
      names.push(e.name);
    }
    return { names, more: false };
  } finally {
    await d.close().catch(() => {});
  }
}

const inside = (root: string, p: string): boolean =>
  p === root || p.startsWith(root.endsWith(sep) ? root : root + sep);

/** Resolves `rel` below `root` (a real path), links included; 'outside' when it leaves `root`. */
async function resolveInside(root: string, rel: string): Promise<{ real: string } | { skip: string }> {
  try {
    const real = await realpath(join(root, rel));
    return inside(root, real) ? { real } : { skip: 'outside' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return { skip: code === 'ENOENT' || code === 'ENOTDIR' ? 'missing' : ioProblem(err) };
  }
}

/**
 * Opens `rel` below `root` for reading only if it resolves inside `root` and is a regular file.
 * O_NOFOLLOW refuses a final component swapped for a link after the check, O_NONBLOCK a FIFO that
 * would block; on Linux the open descriptor's own path is checked again (a swapped directory).
 */
async function openInside(
  root: string,
  rel: string,
): Promise<{ fh: FileHandle; size: number } | { skip: string }> {
  const r = await resolveInside(root, rel);
  if ('skip' in r) return r;
  let fh: FileHandle;
  try {
    fh = await open(r.real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    return { skip: ioProblem(err) };
  }
  try {
    const fst = await fh.stat();
    const viaFd = await readlink(`/proc/self/fd/${fh.fd}`).catch(() => undefined);
    const skip = !fst.isFile()
      ? 'not a regular file'
      : viaFd !== undefined && !inside(root, viaFd)
        ? 'outside'
        : undefined;
    if (skip === undefined) return { fh, size: fst.size };
    await fh.close();
    return { skip };
  } catch (err) {
    await fh.close();
    return { skip: ioProblem(err) };
  }
}

/** Reads at most `max` bytes: the first ones, or the last ones for `tail`. */
async function readWithin(fh: FileHandle, size: number, max: number, tail: boolean): Promise<Buffer> {
  const len = Math.min(size, max);
  const pos = tail && size > max ? size - max : 0;
  const buf = Buffer.alloc(len);
  let got = 0;
  while (got < len) {
    const r = await fh.read(buf, got, len - got, pos + got);
    if (r.bytesRead === 0) break;
    got += r.bytesRead;
  }
  return buf.subarray(0, got);
}

async function findRoot(dir: string, limits: BundleLimits): Promise<string> {
  // One root folder (an unpacked archive) is accepted: descend when the dir itself has no known top dir.
  const isDir = async (p: string): Promise<boolean> => {
    const r = await realpath(p).catch(() => undefined);
    return (
      r !== undefined && inside(dir, r) && (await stat(r).catch(() => undefined))?.isDirectory() === true
    );
  };
  const { names } = await listDir(dir, limits.maxDirEntries);
  for (const n of names) if (TOP_DIRS.has(n) && (await isDir(join(dir, n)))) return dir;
  for (const n of names.slice(0, 100)) {
    const sub = join(dir, n);
    if (!(await isDir(sub))) continue;
    const inner = await listDir(sub, limits.maxDirEntries).catch(() => ({ names: [] as string[] }));
    for (const m of inner.names)
      if (TOP_DIRS.has(m) && (await isDir(join(sub, m)))) return await realpath(sub);
  }
  return dir;
}

/** The bundle names of the files in `cni/` when it is a folder inside the bundle. */
async function cniNames(root: string, got: Collected, limits: BundleLimits): Promise<string[]> {
  const cni = await resolveInside(root, CNI_DIR);
  if ('skip' in cni) {
    if (cni.skip === 'outside') got.note(`${CNI_DIR}: a symbolic link out of the bundle; not followed`);
    return [];
  }
  if (!(await stat(cni.real).catch(() => undefined))?.isDirectory()) return [];
  got.cniPresent = true;
  const { names, more } = await listDir(cni.real, limits.maxDirEntries).catch(() => ({
    names: [],
    more: false,
  }));
  if (more)
    got.note(`${CNI_DIR}: more than ${limits.maxDirEntries} entries; only the first listed looked at`);
  return names.sort().map((n) => `${CNI_DIR}${n}`);
}

/** Reads one input of a directory bundle, or notes why not. */
async function readDirInput(root: string, name: string, read: InputRead, got: Collected): Promise<void> {
  const f = await openInside(root, name);
  if ('skip' in f) {
    if (f.skip === 'outside') got.note(`${name}: a symbolic link out of the bundle; not followed`);
    // A folder inside cni/ is simply not a config; missing inputs are listed as missing.
    else if (f.skip !== 'missing' && !(name.startsWith(CNI_DIR) && f.skip === 'not a regular file'))
      got.note(`${name}: not read: ${f.skip}`);
    return;
  }
  try {
    if (!got.wants(name, read, f.size)) return;
    const data = await readWithin(f.fh, f.size, read.maxBytes, read.keep === 'tail');
    got.offer(name, read, data, f.size, false);
    if (f.size > read.maxBytes)
      got.note(`${name}: larger than its ${MB(read.maxBytes)} limit; the last part read`);
  } catch (err) {
    got.note(`${name}: not read: ${ioProblem(err)}`);
  } finally {
    await f.fh.close();
  }
}

async function readBundleDir(path: string, limits: BundleLimits): Promise<NodeInputs> {
  let root: string;
  try {
    root = await findRoot(await realpath(path), limits);
  } catch (err) {
    throw unreadable(path, ioProblem(err), err);
  }
  const got = new Collected(limits);
  for (const [name, read] of INPUT_READ) {
    if (name !== CNI_DIR) await readDirInput(root, name, read, got);
    else for (const file of await cniNames(root, got, limits)) await readDirInput(root, file, read, got);
  }
  if (got.empty) {
    throw unreadable(
      path,
      'no support-bundle files found (expected the EKS log collector layout: networking/, ipamd/, cni/, var_log/ …)',
    );
  }
  return got.inputs(path);
}

function isAbort(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException).code;
  return code === 'ABORT_ERR' || code === 'ERR_STREAM_PREMATURE_CLOSE';
}

/** Magic numbers of formats that are not tar or gzip, for a useful error. */
function otherFormat(magic: Buffer): string | undefined {
  if (magic.subarray(0, 6).equals(Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]))) return 'xz';
  if (magic.subarray(0, 3).toString('latin1') === 'BZh') return 'bzip2';
  if (magic.subarray(0, 4).equals(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]))) return 'zstd';
  if (magic.subarray(0, 4).equals(Buffer.from([0x50, 0x4b, 0x03, 0x04]))) return 'zip';
  return undefined;
}

/** Passes decompressed chunks on, stopping a stream that inflates more than `maxCompressionRatio`. */
async function* ratioBounded(
  source: AsyncIterable<Buffer>,
  compressedBytes: () => number,
  limits: BundleLimits,
): AsyncGenerator<Buffer> {
  let out = 0;
  for await (const chunk of source) {
    out += chunk.length;
    const inBytes = compressedBytes();
    if (out > limits.ratioCheckAfterBytes && out > limits.maxCompressionRatio * inBytes) {
      throw new NetwardenError(
        'input-unreadable',
        `gzip inflates more than ${limits.maxCompressionRatio}:1 (${out} bytes from the first ${inBytes}): refusing a likely decompression bomb`,
      );
    }
    yield chunk;
  }
}

/** The first bytes of `file`, for its format. */
async function magicOf(file: string): Promise<Buffer> {
  const magic = Buffer.alloc(8);
  try {
    const fh = await open(file, 'r');
    try {
      await fh.read(magic, 0, magic.length, 0);
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw unreadable(file, ioProblem(err), err);
  }
  const other = otherFormat(magic);
  if (other)
    throw unreadable(
      file,
      `a ${other} file: netwarden reads a directory, .tar, .tar.gz or .tgz (unpack it first)`,
    );
  return magic;
}

async function readBundleArchive(file: string, limits: BundleLimits): Promise<NodeInputs> {
  const magic = await magicOf(file);
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  const got = new Collected(limits);
  const raw = createReadStream(file, { highWaterMark: 256 * 1024 });
  let compressed = 0;
  raw.on('data', (c) => {
    compressed += c.length;
  });
  let skips: TarSkips | undefined;
  let failure: unknown;
  const consume = async (source: AsyncIterable<Buffer>): Promise<void> => {
    try {
      skips = await readTar(
        gz ? ratioBounded(source, () => compressed, limits) : source,
        (path, size, kind) => got.tarFilter(path, size, kind),
        (e) => got.tarEntry(e),
        { maxTotalBytes: limits.maxArchiveBytes, maxEntries: limits.maxEntries },
      );
    } catch (err) {
      failure = err; // the streams pipeline() then aborts may report their abort first
      throw err;
    }
  };
  try {
    // pipeline() destroys every stream on the first error or limit: reading stops at once.
    if (gz) await pipeline(raw, createGunzip({ chunkSize: 64 * 1024 }), consume);
    else await pipeline(raw, consume);
  } catch (err) {
    // The tar reader stops at the end-of-archive blocks; the streams it leaves behind are aborted.
    const cause = failure ?? err;
    if (skips === undefined || !isAbort(cause)) {
      if (cause instanceof NetwardenError) throw unreadable(file, cause.message, cause);
      const problem = ioProblem(cause);
      throw unreadable(
        file,
        gz ? `corrupt gzip or tar (${problem})` : `not a tar or tar.gz archive (${problem})`,
        cause,
      );
    }
  }
  for (const p of skips?.skippedUnsafe ?? []) got.note(`archive entry "${p}" skipped: unsafe path`);
  for (const p of skips?.skippedLinks ?? [])
    got.note(`${bundleName(p) ?? p}: a link in the archive; not followed`);
  if (got.empty)
    throw unreadable(file, 'no support-bundle files in the archive (expected the EKS log collector layout)');
  return got.inputs(file);
}
