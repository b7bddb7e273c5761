/**
 * Installing and uninstalling the boot gate on a node, one shot each (the agent's watcher calls
 * {@link installBootGate} again whenever the folder changes). Order matters both ways: the plugin
 * executable is in the bin folder before any conflist names it (else the runtime fails every ADD
 * with "failed to find plugin"), and on uninstall every conflist stops naming it before the
 * executable goes (ADDs already running keep their open file).
 */
import type { JsonObject } from '../core/json.ts';
import { installPluginBinary, removePluginBinary } from './binary.ts';
import {
  type ConfDirGate,
  type ConfDirRemoval,
  ensureGateInConfDir,
  removeGateFromConfDir,
} from './conf-dir.ts';

/** Where the node keeps its CNI pieces. */
export interface CniFolders {
  /** CNI configuration folder (/etc/cni/net.d). */
  readonly confDir: string;
  /** CNI plugin folder (/opt/cni/bin). */
  readonly binDir: string;
}

/** The result of one install pass. */
export interface InstallResult {
  readonly binary: 'installed' | 'unchanged';
  readonly conf: ConfDirGate;
}

/** Copies the plugin (from `pluginSource`) into place, then makes the active conflist end with `entry`. */
export async function installBootGate(
  folders: CniFolders,
  pluginSource: string,
  entry: JsonObject,
): Promise<InstallResult> {
  const binary = await installPluginBinary(pluginSource, folders.binDir);
  const conf = await ensureGateInConfDir(folders.confDir, entry);
  return { binary, conf };
}

/**
 * Removes the gate from every conflist, waits `binaryGraceMs` (the runtime reloads its config on
 * the file change; an ADD that read the old list meanwhile still finds the executable), then
 * removes the executable. The node-local state under /run is left: it is tiny, a reboot clears
 * it, and a plugin still running reads it.
 */
export async function uninstallBootGate(folders: CniFolders, binaryGraceMs = 5_000): Promise<ConfDirRemoval> {
  const removal = await removeGateFromConfDir(folders.confDir);
  if (removal.left.length === 0) {
    await new Promise((r) => setTimeout(r, binaryGraceMs));
    await removePluginBinary(folders.binDir);
  }
  return removal;
}
