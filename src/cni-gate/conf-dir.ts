/**
 * The boot gate in a node's CNI configuration folder: inserted into the configuration the runtime
 * uses (the first valid file by name, as libcni picks it: the same reader the `cni` check uses),
 * and removed from every file on uninstall. Writes are atomic and only ever put a configuration
 * on disk that the reader accepts with the gate last; a file that changes while we edit it (the
 * CNI daemon rewriting it) is read again rather than overwritten with stale content.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gateIsLast, insertGate, removeGate } from '../core/cni-gate-conflist.ts';
import type { JsonObject } from '../core/json.ts';
import { NetwardenError } from '../errors.ts';
import { replaceFileIfUnchanged } from '../host/atomic-write.ts';
import { parseCniConfig, readCniConfigDir } from '../sources/cni-config.ts';

/** Where the gate stands in a configuration folder. */
export type ConfDirGate =
  | { readonly state: 'installed'; readonly file: string; readonly changed: boolean }
  | { readonly state: 'declined'; readonly file: string; readonly reason: string }
  | { readonly state: 'no-config'; readonly reason: string }
  | { readonly state: 'contended'; readonly file: string; readonly reason: string };

const CONFIG_EXT = /\.(conf|conflist|json)$/;
/** Real configurations are a few KiB; anything bigger is not read (and not edited). */
const MAX_CONFIG_BYTES = 1 << 20;
/** Attempts when the file keeps changing between our read and our write. */
const ATTEMPTS = 3;

/** The configuration files of a folder (regular files, by the runtime's extensions). */
async function readConfigFiles(dir: string): Promise<{ name: string; content: string }[]> {
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    throw new NetwardenError(
      'input-unreadable',
      `CNI configuration folder ${dir}: ${err.code ?? err.message}`,
      {
        cause: err,
      },
    );
  });
  const out: { name: string; content: string }[] = [];
  for (const e of entries) {
    if (!CONFIG_EXT.test(e.name) || !(e.isFile() || e.isSymbolicLink())) continue;
    const path = join(dir, e.name);
    try {
      const st = await stat(path);
      if (!st.isFile()) continue;
      // An oversized file is kept in the listing as not-JSON, so it can still sort first (and is
      // then reported as the invalid config it is for the runtime too) but is never edited.
      out.push({ name: e.name, content: st.size > MAX_CONFIG_BYTES ? '' : await readFile(path, 'utf8') });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err; // removed meanwhile
    }
  }
  return out;
}

/** Serializes a conflist the way CNI daemons write theirs (two-space indent, final newline). */
function render(doc: JsonObject): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}

/**
 * Makes the selected configuration of `dir` end with `entry`. Idempotent. Throws only for I/O
 * errors (an unreadable folder); every other situation is a state with its reason.
 */
export async function ensureGateInConfDir(dir: string, entry: JsonObject): Promise<ConfDirGate> {
  let file = '';
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const files = await readConfigFiles(dir);
    const selected = readCniConfigDir(files).selected;
    const current = files.find((f) => f.name === selected?.file);
    if (!selected || !current)
      return { state: 'no-config', reason: `${dir} has no valid CNI configuration (yet)` };
    file = selected.file;
    const edit = insertGate(JSON.parse(current.content), file, entry);
    if (edit.kind === 'declined') return { state: 'declined', file, reason: edit.reason };
    if (edit.kind === 'unchanged') return { state: 'installed', file, changed: false };
    const text = render(edit.doc);
    const check = parseCniConfig({ name: file, content: text });
    if (!check.valid || !gateIsLast(edit.doc)) {
      // Cannot happen for a valid input; guarded because an invalid file would cut every pod off.
      throw new NetwardenError(
        'input-unreadable',
        `${dir}/${file}: inserting the boot gate would give an invalid configuration (${check.error ?? 'gate not last'}); left as it was`,
      );
    }
    if (await replaceFileIfUnchanged(join(dir, file), current.content, text))
      return { state: 'installed', file, changed: true };
  }
  return {
    state: 'contended',
    file,
    reason: `${dir}/${file} changed under every one of ${ATTEMPTS} edits; will try again`,
  };
}

/** What uninstall did to a folder. */
export interface ConfDirRemoval {
  /** Files the gate was removed from. */
  readonly changed: readonly string[];
  /** Files still holding the gate, and why. */
  readonly left: readonly { readonly file: string; readonly reason: string }[];
}

/** Removes the gate from one file; its reason when it had to stay. */
async function removeFromFile(
  path: string,
  content: string,
): Promise<'changed' | 'unchanged' | { reason: string }> {
  let text = content;
  for (let attempt = 1; ; attempt++) {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch {
      return 'unchanged'; // not JSON: cannot hold our entry in any way the runtime would run
    }
    const edit = removeGate(doc);
    if (edit.kind === 'unchanged') return 'unchanged';
    if (edit.kind === 'declined') return { reason: edit.reason };
    if (await replaceFileIfUnchanged(path, text, render(edit.doc))) return 'changed';
    if (attempt >= ATTEMPTS) return { reason: `changed under every one of ${ATTEMPTS} edits` };
    text = await readFile(path, 'utf8');
  }
}

/** Removes the gate from every configuration file of `dir` (a missing folder has nothing to remove). */
export async function removeGateFromConfDir(dir: string): Promise<ConfDirRemoval> {
  let files: { name: string; content: string }[];
  try {
    files = await readConfigFiles(dir);
  } catch (err) {
    if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code === 'ENOENT')
      return { changed: [], left: [] };
    throw err;
  }
  const changed: string[] = [];
  const left: { file: string; reason: string }[] = [];
  for (const f of files) {
    const r = await removeFromFile(join(dir, f.name), f.content);
    if (r === 'changed') changed.push(f.name);
    else if (r !== 'unchanged') left.push({ file: f.name, reason: r.reason });
  }
  return { changed, left };
}

/** Where the gate is, read only (for `netwarden cni-gate status`). */
export interface ConfDirView {
  /** The file the runtime uses, if any. */
  readonly selected: string | undefined;
  /** True when that file's last plugin is the gate. */
  readonly gated: boolean;
  /** Every file naming the gate. */
  readonly filesWithGate: readonly string[];
}

/** Reads where the gate stands in `dir` without changing anything. */
export async function viewConfDir(dir: string): Promise<ConfDirView> {
  const files = await readConfigFiles(dir);
  const selected = readCniConfigDir(files).selected?.file;
  const filesWithGate: string[] = [];
  let gated = false;
  for (const f of files) {
    let doc: unknown;
    try {
      doc = JSON.parse(f.content);
    } catch {
      continue;
    }
    if (removeGate(doc).kind !== 'unchanged') filesWithGate.push(f.name);
    if (f.name === selected) gated = gateIsLast(doc);
  }
  return { selected, gated, filesWithGate };
}
