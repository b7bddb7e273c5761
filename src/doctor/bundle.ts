/**
 * Support-bundle reader: a directory or a `.tar`/`.tar.gz`/`.tgz` in the EKS log collector layout,
 * with or without one root folder. Only known inputs are read (see inputs.ts), each capped in size
 * (logs keep their tail), and nothing from an archive touches the disk. An input that is not a
 * bundle at all — no known file inside — is `input-unreadable` (exit 2).
 */
import { createReadStream, type Dirent } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createGunzip } from 'node:zlib';
import { NetwardenError } from '../errors.ts';
import { CNI_DIR, INPUT_FILES, memoryInputs, type NodeInputs } from './inputs.ts';
import { readTar } from './tar.ts';

/** Size limits of bundle reading. */
export interface BundleLimits {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxEntries: number;
}

/** Defaults: a 230k-rule iptables-save is ~25 MB; logs keep their last 32 MB. */
export const DEFAULT_BUNDLE_LIMITS: BundleLimits = {
  maxFileBytes: 64 * 1024 * 1024,
  maxTotalBytes: 8 * 1024 * 1024 * 1024,
  maxEntries: 500_000,
};

const LOG_TAIL_BYTES = 32 * 1024 * 1024;
const KNOWN: ReadonlySet<string> = new Set(Object.values(INPUT_FILES));
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

function isLog(name: string): boolean {
  return name.endsWith('.log');
}

/** Reads a bundle from a directory or an archive file. */
export async function readBundle(
  path: string,
  limits: BundleLimits = DEFAULT_BUNDLE_LIMITS,
): Promise<NodeInputs> {
  let st: Awaited<ReturnType<typeof lstat>>;
  try {
    st = await lstat(path);
  } catch (err) {
    throw new NetwardenError(
      'input-unreadable',
      `--bundle ${path}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (err as Error).message}`,
    );
  }
  if (st.isDirectory()) return readBundleDir(path, limits);
  if (st.isFile()) return readBundleArchive(path, limits);
  throw new NetwardenError('input-unreadable', `--bundle ${path}: not a directory or a regular file`);
}

async function readCapped(
  file: string,
  max: number,
  tail: boolean,
): Promise<{ text: string; truncated: boolean }> {
  const fh = await open(file, 'r');
  try {
    const { size } = await fh.stat();
    const len = Math.min(size, max);
    const pos = tail && size > max ? size - max : 0;
    const buf = Buffer.alloc(len);
    let read = 0;
    while (read < len) {
      const r = await fh.read(buf, read, len - read, pos + read);
      if (r.bytesRead === 0) break;
      read += r.bytesRead;
    }
    return { text: buf.subarray(0, read).toString('utf8'), truncated: size > max };
  } finally {
    await fh.close();
  }
}

async function readBundleDir(dir: string, limits: BundleLimits): Promise<NodeInputs> {
  // One root folder (an unpacked archive) is accepted: descend when the dir itself has no known top dir.
  let root = dir;
  const top = await readdir(dir, { withFileTypes: true });
  if (!top.some((d) => TOP_DIRS.has(d.name) && d.isDirectory())) {
    const subs = top.filter((d) => d.isDirectory());
    for (const s of subs) {
      const inner = await readdir(join(dir, s.name), { withFileTypes: true }).catch(() => [] as Dirent[]);
      if (inner.some((d) => TOP_DIRS.has(d.name) && d.isDirectory())) {
        root = join(dir, s.name);
        break;
      }
    }
  }
  const files = new Map<string, string>();
  const notes: string[] = [];
  const wanted = [...KNOWN];
  const cniDir = join(root, 'cni');
  let cniPresent = false;
  try {
    const cst = await lstat(cniDir);
    if (cst.isDirectory()) {
      cniPresent = true;
      for (const d of await readdir(cniDir, { withFileTypes: true }))
        if (d.isFile()) wanted.push(`${CNI_DIR}${d.name}`);
    }
  } catch {
    // no cni/ folder: reported as missing
  }
  for (const name of wanted) {
    const p = join(root, name);
    let fst: Awaited<ReturnType<typeof lstat>>;
    try {
      fst = await lstat(p);
    } catch {
      continue;
    }
    if (!fst.isFile()) {
      if (fst.isSymbolicLink()) notes.push(`${name}: symbolic link not followed`);
      continue;
    }
    const { text, truncated } = await readCapped(
      p,
      isLog(name) ? Math.min(LOG_TAIL_BYTES, limits.maxFileBytes) : limits.maxFileBytes,
      isLog(name),
    );
    if (truncated)
      notes.push(`${name}: larger than the read limit; ${isLog(name) ? 'last' : 'first'} part read`);
    files.set(name, text);
  }
  if (files.size === 0 && !cniPresent) {
    throw new NetwardenError(
      'input-unreadable',
      `--bundle ${dir}: no support-bundle files found (expected the EKS log collector layout: networking/, ipamd/, cni/, var_log/ …)`,
    );
  }
  return memoryInputs(dir, files, notes, cniPresent);
}

async function readBundleArchive(file: string, limits: BundleLimits): Promise<NodeInputs> {
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  const raw = createReadStream(file);
  const stream = gz ? raw.pipe(createGunzip()) : raw;
  let cniSeen = false;
  let result: Awaited<ReturnType<typeof readTar>>;
  try {
    result = await readTar(
      stream as AsyncIterable<Buffer>,
      (path) => {
        const name = bundleName(path);
        if (name === undefined) {
          const parts = path.split('/');
          if (parts.includes('cni')) cniSeen = true;
          return false;
        }
        if (name.startsWith(CNI_DIR)) cniSeen = true;
        return isLog(name) ? 'tail' : 'head';
      },
      {
        maxEntryBytes: limits.maxFileBytes,
        maxTotalBytes: limits.maxTotalBytes,
        maxEntries: limits.maxEntries,
      },
    );
  } catch (err) {
    raw.destroy();
    if (err instanceof NetwardenError)
      throw new NetwardenError(err.code, `--bundle ${file}: ${err.message}`, { cause: err });
    throw new NetwardenError(
      'input-unreadable',
      `--bundle ${file}: ${gz ? 'corrupt gzip or tar' : 'not a tar or tar.gz archive'} (${(err as Error).message.split('\n')[0]})`,
      { cause: err },
    );
  }
  const files = new Map<string, string>();
  const notes: string[] = [];
  for (const e of result.entries) {
    const name = bundleName(e.path);
    if (name === undefined) continue;
    files.set(name, e.data.toString('utf8'));
    if (e.truncated) notes.push(`${name}: truncated (size limit or cut archive)`);
  }
  for (const p of result.skippedUnsafe) notes.push(`archive entry "${p}" skipped: unsafe path`);
  if (files.size === 0 && !cniSeen) {
    throw new NetwardenError(
      'input-unreadable',
      `--bundle ${file}: no support-bundle files in the archive (expected the EKS log collector layout)`,
    );
  }
  return memoryInputs(file, files, notes, cniSeen);
}
