/**
 * The agent as shipped, for benchmarks: the very bundle the image carries (scripts/image,
 * src/packaging/image.ts), written to a fresh temporary folder.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeShippedBundle } from '../../src/packaging/image.ts';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/**
 * Bundles netwarden as the image does into a fresh folder; returns the CLI entry file's path.
 * `alias` replaces packages by files (to weigh what a dependency costs; the image has none).
 */
export function bundleCli(alias: Readonly<Record<string, string>> = {}): Promise<string> {
  return writeShippedBundle(REPO_DIR, mkdtempSync(join(tmpdir(), 'nwbundle-')), alias);
}
