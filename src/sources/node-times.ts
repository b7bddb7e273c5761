/**
 * Times a node records about itself, as text files of a bundle (netwarden's own additions; the live
 * doctor writes the same): when each CNI config file was last written (`stat -c '%Y %n' <files>`)
 * and when the kernel booted (`btime` of /proc/stat, or the bare number). Pure; bad lines are skipped.
 */

/** `stat -c '%Y %n'` lines → file name (the path's last part) → mtime in epoch ms. */
export function parseFileTimes(text: string): ReadonlyMap<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n').slice(0, 10_000)) {
    const m = /^\s*(\d{1,12})(?:\.\d+)?\s+(\S.*?)\s*$/.exec(line);
    if (!m?.[1] || !m[2]) continue;
    out.set(m[2].slice(m[2].lastIndexOf('/') + 1), Number(m[1]) * 1000);
  }
  return out;
}

/** `btime 1732690495` (a /proc/stat line or the whole file) or `1732690495` → epoch ms. */
export function parseBootTime(text: string): number | undefined {
  const m = /^btime (\d{1,12})$/m.exec(text) ?? /^\s*(\d{1,12})\s*$/.exec(text);
  return m?.[1] ? Number(m[1]) * 1000 : undefined;
}
