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

/** Bundles netwarden as the image does; returns the CLI entry file's path. */
export function bundleCli(): Promise<string> {
  return writeShippedBundle(REPO_DIR, mkdtempSync(join(tmpdir(), 'nwbundle-')));
}
