/**
 * The plugin executable in the node's CNI bin folder (`/opt/cni/bin/netwarden-cni-gate`): copied
 * from the agent's image atomically (a runtime exec'ing it meanwhile runs the old file or the new,
 * never a half-written one), left alone when it already has the same bytes.
 */
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { GATE_PLUGIN_TYPE } from '../core/boot-gate.ts';
import { NetwardenError } from '../errors.ts';
import { writeFileAtomic } from '../host/atomic-write.ts';

/** The plugin is a few MB; refuse to copy anything absurdly large by mistake. */
const MAX_PLUGIN_BYTES = 64 << 20;

/** Path of the plugin in a CNI bin folder. */
export function pluginPath(binDir: string): string {
  return join(binDir, GATE_PLUGIN_TYPE);
}

/** Copies `source` to `<binDir>/netwarden-cni-gate` unless it is already there; says which. */
export async function installPluginBinary(
  source: string,
  binDir: string,
): Promise<'installed' | 'unchanged'> {
  let want: Buffer;
  try {
    const st = await stat(source);
    if (!st.isFile() || st.size > MAX_PLUGIN_BYTES)
      throw new Error(st.isFile() ? `larger than ${MAX_PLUGIN_BYTES} bytes` : 'not a regular file');
    want = await readFile(source);
  } catch (err) {
    throw new NetwardenError(
      'binary-missing',
      `boot gate plugin ${source}: ${(err as Error).message} (set --boot-gate-plugin to the netwarden-cni-gate binary)`,
      { cause: err },
    );
  }
  const dest = pluginPath(binDir);
  const have = await readFile(dest).catch(() => undefined);
  if (have?.equals(want)) return 'unchanged';
  await mkdir(binDir, { recursive: true });
  await writeFileAtomic(dest, want, 0o755);
  return 'installed';
}

/** Removes the plugin from the bin folder (absent is fine). */
export async function removePluginBinary(binDir: string): Promise<void> {
  await rm(pluginPath(binDir), { force: true });
}
