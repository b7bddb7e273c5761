/**
 * When the running kernel booted: `btime` of /proc/stat (seconds since the epoch). /proc/stat is
 * the host kernel's, whatever namespace the agent runs in, so on a real node this is the node's
 * boot. (Lab nodes share the host's kernel: there it is earlier than the lab node's boot, which
 * only makes the pod-status-from-a-previous-boot guard looser, never wrong the other way.)
 */
import { readFile } from 'node:fs/promises';

/** The boot time in epoch ms, or undefined when /proc/stat cannot be read or has no btime. */
export async function kernelBootTimeMs(statPath = '/proc/stat'): Promise<number | undefined> {
  try {
    const m = /^btime (\d+)$/m.exec(await readFile(statPath, 'utf8'));
    return m?.[1] ? Number(m[1]) * 1000 : undefined;
  } catch {
    return undefined;
  }
}
