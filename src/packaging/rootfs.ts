/**
 * The image's root filesystem as layer entries: the files extracted from the Debian packages,
 * folded onto a merged /usr (bin, sbin, lib, lib64 become symlinks into usr/, as Debian 12 hosts
 * have them), documentation dropped but for copyright files, plus the files netwarden adds.
 * Entries are sorted by path so the layer is the same whatever order the disk lists them in.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { NetwardenError } from '../errors.ts';
import type { TarEntry } from './tar.ts';

const MERGED = ['bin', 'sbin', 'lib', 'lib64'] as const;

/** The path a package file gets on a merged-/usr root: `bin/sh` → `usr/bin/sh`. */
export function mergedUsrPath(path: string): string {
  for (const top of MERGED) if (path === top || path.startsWith(`${top}/`)) return `usr/${path}`;
  return path;
}

/** Paths left out of the image: documentation and shell completions (copyright files stay). */
export function dropped(path: string): boolean {
  if (/^usr\/share\/doc\/[^/]+\/copyright$/.test(path)) return false;
  return /^usr\/share\/(doc|man|info|locale|lintian|bash-completion|zsh|bug|doc-base|menu)(\/|$)/.test(path);
}

/** A node of the tree before it is read: where its bytes are on disk, if a file. */
export type RootfsNode =
  | { readonly type: 'dir'; readonly path: string; readonly mode: number }
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly source: string }
  | { readonly type: 'file'; readonly path: string; readonly mode: number; readonly data: Buffer }
  | { readonly type: 'symlink'; readonly path: string; readonly target: string };

/** Walks an extracted tree into nodes on a merged /usr; a path two packages ship differently is an error. */
export function walkExtracted(root: string): RootfsNode[] {
  const out = new Map<string, RootfsNode>();
  const visit = (rel: string): void => {
    const path = mergedUsrPath(rel);
    if (rel !== '' && dropped(path)) return;
    const { node, descend } = nodeAt(join(root, rel), rel, path);
    if (node) add(out, node);
    if (descend)
      for (const name of readdirSync(join(root, rel)).sort()) visit(rel === '' ? name : `${rel}/${name}`);
  };
  visit('');
  return [...out.values()];
}

function add(out: Map<string, RootfsNode>, node: RootfsNode): void {
  const seen = out.get(node.path);
  if (seen && node.type !== 'dir' && !sameNode(seen, node))
    throw new NetwardenError('image-build-failed', `${node.path} is shipped twice with different contents`);
  if (!seen) out.set(node.path, node);
}

/** The node at `abs` (none for the root and the merged tops, which become symlinks) and whether to descend. */
function nodeAt(abs: string, rel: string, path: string): { node?: RootfsNode; descend: boolean } {
  const st = lstatSync(abs);
  if (st.isDirectory()) {
    const top = rel === '' || MERGED.includes(rel as (typeof MERGED)[number]);
    return top ? { descend: true } : { node: { type: 'dir', path, mode: st.mode & 0o7777 }, descend: true };
  }
  if (st.isSymbolicLink())
    return { node: { type: 'symlink', path, target: readlinkSync(abs) }, descend: false };
  if (st.isFile())
    return { node: { type: 'file', path, mode: st.mode & 0o7777, source: abs }, descend: false };
  return { descend: false };
}

function sameNode(a: RootfsNode, b: RootfsNode): boolean {
  if (a.type !== b.type) return false;
  if (a.type === 'symlink' && b.type === 'symlink') return a.target === b.target;
  if (a.type === 'file' && b.type === 'file') return contents(a).equals(contents(b));
  return true;
}

function contents(n: Extract<RootfsNode, { type: 'file' }>): Buffer {
  return 'data' in n ? n.data : readFileSync(n.source);
}

/**
 * The layer's entries: `nodes` plus `extra` (netwarden's own files, which win over a package's),
 * the merged-/usr symlinks and every parent directory, sorted by path. Files are read one at a
 * time as the tar writer asks for them, so memory stays at one file, not the whole image.
 */
export function* layerEntries(
  nodes: readonly RootfsNode[],
  extra: readonly RootfsNode[],
): Generator<TarEntry> {
  const all = new Map<string, RootfsNode>();
  for (const n of nodes) all.set(n.path, n);
  for (const n of extra) all.set(n.path, n);
  for (const top of MERGED) all.set(top, { type: 'symlink', path: top, target: `usr/${top}` });
  for (const path of [...all.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const dir = parts.slice(0, i).join('/');
      if (!all.has(dir)) all.set(dir, { type: 'dir', path: dir, mode: 0o755 });
    }
  }
  for (const path of [...all.keys()].sort()) {
    const n = all.get(path) as RootfsNode;
    if (n.type === 'file') yield { type: 'file', path, mode: n.mode, data: contents(n) };
    else yield n;
  }
}

/** Bytes per top-level area of the image, for the build's report. */
export function sizeByArea(entries: Iterable<{ path: string; size: number }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const e of entries) {
    const area = e.path.match(/^(usr\/(?:lib|bin|sbin|share)|app|etc)/)?.[1] ?? e.path.split('/')[0] ?? '';
    out[area] = (out[area] ?? 0) + e.size;
  }
  return out;
}
