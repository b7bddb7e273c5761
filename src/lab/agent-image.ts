/**
 * netwarden's own image for the lab's chart-installed agents: `buildImage` (src/packaging, the
 * same build `scripts/image` runs), cached under `<cache root>/agent-image/` by a key of its
 * inputs, so a run builds it at most once and later runs with the same sources reuse it. Nodes
 * import it like the lab images (Lab.up passes it with them; a node re-imports it at boot when
 * its containerd lost it).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildImage, EXCLUDED_PACKAGES, type ImageReport, ROOT_PACKAGES } from '../packaging/image.ts';
import { cacheRoot, ensureNodePrograms, type NodePrograms } from './binaries.ts';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** Bump when the way the lab builds or names the image changes. */
const RECIPE = 1;
/** The repository the lab's image carries (the chart's default repository). */
export const AGENT_IMAGE_REPOSITORY = 'docker.io/netwarden/netwarden';

/** The image as the lab imports it and the chart refers to it. */
export interface AgentImage {
  /** The OCI archive. */
  readonly tarPath: string;
  readonly repository: string;
  /** `lab-<key>`: one tag per set of inputs, so a node never runs a stale image under the same name. */
  readonly tag: string;
  /** `repository:tag`, the name containerd lists. */
  readonly name: string;
  readonly manifestDigest: string;
  readonly compressedBytes: number;
  /** Whether this call built it (false: from the cache). */
  readonly built: boolean;
}

/** Every file of a folder, recursively, sorted (paths relative to `root`). */
function filesUnder(root: string, dir: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...filesUnder(root, p, keep));
    else if (e.isFile() && keep(p)) out.push(relative(root, p));
  }
  return out.sort();
}

/**
 * What decides the image's bytes: the recipe, the package lists, the contents of every non-test
 * source file (the bundle is made from src/), the npm lock (the bundled dependencies), the node
 * binary's identity, the bytes of netwarden's node programs (built from tools/cni-gate), and
 * the identity of apt's package lists (which package versions resolve).
 */
export function agentImageKey(programs: NodePrograms, repoDir = REPO_DIR): string {
  const h = createHash('sha256').update(
    `${RECIPE}\n${ROOT_PACKAGES.join(',')}\n${[...EXCLUDED_PACKAGES].sort().join(',')}\n`,
  );
  for (const f of filesUnder(repoDir, join(repoDir, 'src'), (p) => !/\.test\.ts$/.test(p))) {
    h.update(`${f}\n`).update(readFileSync(join(repoDir, f)));
  }
  for (const f of ['package.json', 'package-lock.json']) h.update(readFileSync(join(repoDir, f)));
  const node = statSync(join(repoDir, 'node_modules/node/bin/node'));
  h.update(`node ${node.size} ${node.mtimeMs}\n`);
  h.update('cni-gate\n').update(readFileSync(programs.cniGatePlugin));
  h.update('nft-generation\n').update(readFileSync(programs.nftGeneration));
  const lists = '/var/lib/apt/lists';
  if (existsSync(lists)) {
    for (const f of readdirSync(lists).sort()) {
      const st = statSync(join(lists, f));
      if (st.isFile()) h.update(`${f} ${st.size} ${st.mtimeMs}\n`);
    }
  }
  return h.digest('hex').slice(0, 16);
}

/** The agent image for this checkout, built into the cache unless an identical one is there. */
export async function ensureAgentImage(log: (line: string) => void = () => {}): Promise<AgentImage> {
  const programs = await ensureNodePrograms({ log });
  const key = agentImageKey(programs);
  const tag = `lab-${key}`;
  const name = `${AGENT_IMAGE_REPOSITORY}:${tag}`;
  const dir = join(cacheRoot(), 'agent-image');
  const tarPath = join(dir, `netwarden-${key}.tar`);
  const note = `${tarPath}.json`;
  const image = (r: Pick<ImageReport, 'manifestDigest' | 'compressedBytes'>, built: boolean): AgentImage => ({
    tarPath,
    repository: AGENT_IMAGE_REPOSITORY,
    tag,
    name,
    manifestDigest: r.manifestDigest,
    compressedBytes: r.compressedBytes,
    built,
  });
  if (existsSync(tarPath) && existsSync(note))
    return image(JSON.parse(readFileSync(note, 'utf8')) as ImageReport, false);
  const t0 = performance.now();
  // Written under a temporary name and renamed: a concurrent or interrupted build never leaves a
  // half archive under the cached name.
  const partial = `${tarPath}.partial-${process.pid}`;
  const report = await buildImage({
    repoDir: REPO_DIR,
    output: partial,
    cacheDir: join(cacheRoot(), 'image'),
    reference: name,
    ...programs,
    log: (l) => log(`agent image: ${l}`),
  });
  renameSync(partial, tarPath);
  writeFileSync(note, `${JSON.stringify({ ...report, output: tarPath })}\n`);
  log(
    `built ${name} (${(report.compressedBytes / 1e6).toFixed(1)} MB, ${report.manifestDigest.slice(0, 19)}) in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );
  return image(report, true);
}
