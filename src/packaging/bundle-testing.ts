/**
 * For tests of the bundle plugins: a source text bundled as the shipped bundles are (esbuild, ES
 * module for Node.js) with the plugins under test, written to a file, and run in a fresh node.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { build, type Plugin } from 'esbuild';
import { expect } from 'vitest';

/** A fresh file name in `dir`. */
function fresh(dir: string, prefix: string): string {
  return join(dir, `${prefix}-${Math.random().toString(36).slice(2)}.mjs`);
}

/**
 * Writes `source` as an entry into `entryDir` (where its imports resolve from), bundles it with
 * `plugins` (and `banner` at the top, if given) and writes the bundle into `outDir`; its path.
 */
export async function bundleForTest(
  source: string,
  opts: { entryDir: string; outDir?: string; plugins: Plugin[]; banner?: string },
): Promise<string> {
  const entry = fresh(opts.entryDir, 'entry');
  writeFileSync(entry, source);
  const res = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    logLevel: 'silent',
    plugins: opts.plugins,
    ...(opts.banner !== undefined ? { banner: { js: opts.banner } } : {}),
  });
  const out = fresh(opts.outDir ?? opts.entryDir, 'out');
  writeFileSync(out, res.outputFiles[0]?.text ?? '');
  return out;
}

/** Runs a bundle in a fresh node (from `cwd`, if given); its last stdout line as JSON. */
export function runBundle(file: string, cwd?: string): unknown {
  const r = spawnSync(process.execPath, [file], {
    encoding: 'utf8',
    timeout: 20_000,
    ...(cwd ? { cwd } : {}),
  });
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout.trim().split('\n').at(-1) ?? 'null');
}
