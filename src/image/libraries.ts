/**
 * The files a dynamically linked program needs in an image: the program itself and every shared
 * library `ldd` names (the ELF interpreter included), each at the path the program looks for it.
 * Libraries loaded with dlopen (iptables' extensions, say) are invisible to ldd: pass them as
 * programs too.
 */
import { realpath } from 'node:fs/promises';
import { NetwardenError } from '../errors.ts';
import { run } from '../host/exec.ts';
import type { ImageFile } from './oci.ts';

/** Library paths in `ldd` output (`libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)`, `/lib64/ld-linux-x86-64.so.2 (0x…)`). */
export function parseLdd(text: string): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = /(?:=>\s*)?(\/\S+)\s+\(0x[0-9a-f]+\)/.exec(line);
    if (m?.[1]) out.push(m[1]);
  }
  return out;
}

/**
 * Image files for `programs` (absolute host paths, copied to the same path in the image) and
 * their shared libraries. Symlinks are followed: the image gets the target's content under the
 * name asked for. Throws naming the program ldd cannot read.
 */
export async function programFiles(programs: readonly string[]): Promise<ImageFile[]> {
  const paths = new Set<string>();
  for (const p of programs) {
    paths.add(p);
    const res = await run('ldd', [p], { timeoutMs: 10_000, maxOutputBytes: 1024 * 1024 });
    // "not a dynamic executable" (static programs, data files) is fine: nothing to add.
    if (res.code !== 0 && !/not a dynamic executable/.test(res.stdout + res.stderr))
      throw new NetwardenError('exec-failed', `ldd ${p}: ${res.stderr.trim() || `exit ${res.code}`}`);
    for (const lib of parseLdd(res.stdout)) paths.add(lib);
  }
  const files: ImageFile[] = [];
  for (const path of [...paths].sort()) {
    const source = await realpath(path).catch(() => {
      throw new NetwardenError('usage', `image file ${path} does not exist on this machine`);
    });
    files.push({ path, source, mode: 0o755 });
  }
  return files;
}
