/**
 * The agent as shipped, for benchmarks: netwarden's CLI bundled by esbuild with the options of the
 * image's bundle (scripts/image, issue 11) plus code splitting, so modules loaded only on demand
 * (the generic object API, kubeconfig plugins) stay in chunks the agent never reads. Until the
 * image's own bundle is on main, this is the measured stand-in for it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** Bundles src/cli/main.ts into a fresh temporary folder; returns the entry file's path. */
export async function bundleCli(): Promise<string> {
  const { build } = await import('esbuild');
  const outdir = mkdtempSync(join(tmpdir(), 'nwbundle-'));
  await build({
    entryPoints: { netwarden: join(REPO_DIR, 'src/cli/main.ts') },
    outdir,
    splitting: true,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node26',
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'error',
    // CommonJS dependencies call require(); an ES module has none unless given one.
    banner: {
      js: "import { createRequire as __nwRequire } from 'node:module'; const require = __nwRequire(import.meta.url);",
    },
  });
  return join(outdir, 'netwarden.mjs');
}
