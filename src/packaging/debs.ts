/**
 * Debian packages for the image, through the machine's own apt (Debian's registry): the
 * dependency closure of a few roots, downloaded once into a cache keyed by file name and checked
 * against apt's SHA-256, extracted with dpkg-deb. No maintainer script ever runs: the image gets
 * the packages' files, nothing a postinst would have generated (callers add what they need).
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';

/** One resolved package file. */
export interface DebFile {
  readonly name: string;
  readonly version: string;
  readonly file: string;
  readonly sha256: string;
  readonly size: number;
}

/** Parses `apt-cache depends --recurse` output into package names (virtual packages dropped). */
export function parseDependsClosure(text: string): string[] {
  const names = new Set<string>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith(' ') || line.startsWith('<')) continue;
    names.add(line.trim());
  }
  return [...names].sort();
}

/** Parses `apt-get download --print-uris` lines: `'<uri>' <file> <size> SHA256:<hex>`. */
export function parsePrintUris(text: string): DebFile[] {
  const out: DebFile[] = [];
  for (const line of text.split('\n')) {
    const m = line.match(/^'[^']+' (([^_\s]+)_([^_\s]+)_[^_\s]+\.deb) (\d+) SHA256:([0-9a-f]{64})$/);
    if (!m) continue;
    out.push({
      file: m[1] as string,
      name: m[2] as string,
      version: decodeURIComponent(m[3] as string),
      size: Number(m[4]),
      sha256: m[5] as string,
    });
  }
  return out.sort((a, b) => a.name.localeCompare(b.name));
}

async function apt(cmd: string, args: string[], cwd?: string): Promise<string> {
  const res = await run(cmd, args, { timeoutMs: 10 * 60_000, ...(cwd ? { cwd } : {}) });
  if (res.code !== 0 || /^E: /m.test(res.stderr)) {
    throw new NetwardenError(
      'image-build-failed',
      `${cmd} ${args.slice(0, 3).join(' ')} … failed: ${lastLines(res.stderr, 4)} (run apt-get update once if the package lists are missing)`,
    );
  }
  return res.stdout;
}

/**
 * The packages `roots` need (Depends and Pre-Depends, recursively), less `exclude` (packages
 * only maintainer scripts use), as the files apt would download now.
 */
export async function resolveDebs(
  roots: readonly string[],
  exclude: ReadonlySet<string>,
): Promise<DebFile[]> {
  const closure = parseDependsClosure(
    await apt('apt-cache', [
      'depends',
      '--recurse',
      '--no-recommends',
      '--no-suggests',
      '--no-conflicts',
      '--no-breaks',
      '--no-replaces',
      '--no-enhances',
      ...roots,
    ]),
  ).filter((n) => !exclude.has(n));
  const files = parsePrintUris(await apt('apt-get', ['download', '--print-uris', ...closure]));
  const missing = closure.filter((n) => !files.some((f) => f.name === n));
  if (missing.length > 0)
    throw new NetwardenError(
      'image-build-failed',
      `apt knows no downloadable file for ${missing.join(', ')}`,
    );
  return files;
}

/** Makes every file present in `cacheDir` (downloading what is missing) and verifies its SHA-256. */
export async function fetchDebs(files: readonly DebFile[], cacheDir: string): Promise<string[]> {
  mkdirSync(cacheDir, { recursive: true });
  const missing = files.filter((f) => !existsSync(join(cacheDir, f.file)));
  if (missing.length > 0) {
    const staging = join(cacheDir, `.partial-${process.pid}`);
    rmSync(staging, { recursive: true, force: true });
    mkdirSync(staging);
    await apt('apt-get', ['download', ...missing.map((f) => `${f.name}=${f.version}`)], staging);
    for (const f of missing) renameSync(join(staging, f.file), join(cacheDir, f.file));
    rmSync(staging, { recursive: true, force: true });
  }
  return files.map((f) => {
    const path = join(cacheDir, f.file);
    const got = createHash('sha256').update(readFileSync(path)).digest('hex');
    if (got !== f.sha256) {
      rmSync(path, { force: true });
      throw new NetwardenError(
        'image-build-failed',
        `${f.file}: SHA-256 ${got} is not apt's ${f.sha256}; removed, run again`,
      );
    }
    return path;
  });
}

/** Extracts each package's files into `rootfs` (dpkg-deb -x; no maintainer scripts). */
export async function extractDebs(paths: readonly string[], rootfs: string): Promise<void> {
  mkdirSync(rootfs, { recursive: true });
  for (const p of paths) await apt('dpkg-deb', ['-x', p, rootfs]);
}
