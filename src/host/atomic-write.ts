/**
 * Replacing a file so that readers (a container runtime loading its CNI config, a CNI plugin
 * reading the gate's state) see the old content or the new, never a part: write a temporary file
 * in the same folder, then rename it over the target. The temporary name starts with a dot and
 * ends in `.tmp`, so a runtime scanning for `*.conf`, `*.conflist`, `*.json` never loads it.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

function tempPath(path: string): string {
  return join(
    dirname(path),
    `.${basename(path)}.netwarden-${process.pid}-${randomBytes(4).toString('hex')}.tmp`,
  );
}

/** Creates `tmp` with `data` and `mode`, flushed to disk (a rename after power loss keeps data). */
async function writeTemp(tmp: string, data: string | Buffer, mode: number): Promise<void> {
  const fh = await open(tmp, 'wx', mode);
  try {
    await fh.writeFile(data);
    await fh.chmod(mode); // open's mode is filtered by the umask
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Writes `data` to `path` atomically with file mode `mode` (the target's own when it exists). */
export async function writeFileAtomic(path: string, data: string | Buffer, mode?: number): Promise<void> {
  const tmp = tempPath(path);
  try {
    const keep =
      mode ??
      (await stat(path).then(
        (s) => s.mode & 0o7777,
        () => 0o644,
      ));
    await writeTemp(tmp, data, keep);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Like {@link writeFileAtomic}, but only while `path` still holds `expected`: another writer (a
 * CNI daemon rewriting its conflist) that got in after we read it wins, and false is returned so
 * that the caller reads again. The check and the rename are microseconds apart; a writer landing
 * exactly between them is the one race left (no CNI daemon takes a lock we could share).
 */
export async function replaceFileIfUnchanged(path: string, expected: string, data: string): Promise<boolean> {
  const tmp = tempPath(path);
  try {
    const mode = (await stat(path)).mode & 0o7777;
    await writeTemp(tmp, data, mode);
    if ((await readFile(path, 'utf8')) !== expected) {
      await rm(tmp, { force: true });
      return false;
    }
    await rename(tmp, path);
    return true;
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}
