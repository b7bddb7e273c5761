/**
 * Builds netwarden's OCI image without a container engine: Debian packages (iptables with both
 * backends, nftables, iproute2, util-linux's nsenter, ca-certificates and the libraries they and
 * Node.js need), the project's own Node.js binary (stripped), and netwarden bundled into one file
 * by esbuild (no npm tree). One gzip layer, fixed timestamps and order: the same inputs (the same
 * package files, node binary and sources) give the same digest.
 */
import { createHash } from 'node:crypto';
import {
  createWriteStream,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { NetwardenError } from '../errors.ts';
import { lastLines, run } from '../host/exec.ts';
import { VERSION } from '../version.ts';
import { builtinImportsViaRequire } from './builtin-imports.ts';
import { type DebFile, extractDebs, fetchDebs, resolveDebs } from './debs.ts';
import { lazyUndici } from './lazy-undici.ts';
import {
  archiveEntries,
  type Blob,
  type ImageSpec,
  imageConfig,
  imageIndex,
  imageManifest,
  type Layer,
  sha256,
} from './oci.ts';
import { layerEntries, type RootfsNode, sizeByArea, walkExtracted } from './rootfs.ts';
import { RUNTIME_ENV, RUNTIME_FLAGS } from './runtime.ts';
import { type TarEntry, tarChunks } from './tar.ts';

/** The Debian packages the image is made from (their dependencies come along). */
export const ROOT_PACKAGES = [
  'iptables', // iptables-nft-save, iptables-legacy-save, iptables -S (both backends)
  'nftables', // nft -j list table ip kube-proxy
  'iproute2', // ip (doctor --live)
  'util-linux', // nsenter (pod probes)
  'ca-certificates',
  'dash', // /bin/sh: the quick rule read runs its four listings from one sh
  'libc6',
  'libstdc++6', // node
  'libgcc-s1', // node
  'libatomic1', // node
] as const;

/**
 * Packages in the closure that only maintainer scripts or interactive tools use: left out.
 * The build's smoke test (test/deploy/image.test.ts) runs every program the agent calls in the
 * image, so a library dropped by mistake fails it.
 */
export const EXCLUDED_PACKAGES: ReadonlySet<string> = new Set([
  'debconf',
  'cdebconf',
  'dpkg',
  'install-info',
  'debianutils',
  'tar',
  'libdebian-installer4',
  'libnewt0.52',
  'libslang2',
  'libtextwrap1',
  'libelogind0', // the alternative to libsystemd0
  'openssl', // update-ca-certificates only; the bundle is built here
  'util-linux-extra',
]);

/**
 * What the image runs: `node <RUNTIME_FLAGS> /app/netwarden.mjs <args>` (the chart passes `agent` or
 * `cleanup`), with RUNTIME_ENV in its environment.
 */
const IMAGE_SPEC: ImageSpec = {
  entrypoint: ['/usr/bin/node', ...RUNTIME_FLAGS, '/app/netwarden.mjs'],
  cmd: ['--help'],
  env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...RUNTIME_ENV],
  user: '0:0',
  workingDir: '/',
  labels: {
    'org.opencontainers.image.title': 'netwarden',
    'org.opencontainers.image.version': VERSION,
    'org.opencontainers.image.licenses': 'Apache-2.0',
  },
  // A fixed time: the digest must not depend on when the image was built.
  created: '1970-01-01T00:00:00Z',
};

/** Where the image's pieces go. */
export interface ImageBuildOptions {
  readonly repoDir: string;
  readonly output: string;
  /** The downloaded packages and the stripped node binary (outside the repo). */
  readonly cacheDir: string;
  readonly reference?: string;
  readonly log?: (line: string) => void;
  /**
   * The boot gate CNI plugin executable (static, built from tools/cni-gate), carried at
   * {@link IMAGE_CNI_GATE_PATH}, whence the agent copies it into the node's CNI bin folder.
   */
  readonly cniGatePlugin: string;
  /** The nftables generation reader (static, built from tools/cni-gate/nft-generation), at {@link IMAGE_NFT_GENERATION_PATH}. */
  readonly nftGeneration: string;
}

/** Where the image carries the boot gate plugin: the agent's default --boot-gate-plugin. */
export const IMAGE_CNI_GATE_PATH = 'opt/netwarden/bin/netwarden-cni-gate';
/** Where the image carries the nftables generation reader: the agent's default --nft-generation-bin. */
export const IMAGE_NFT_GENERATION_PATH = 'opt/netwarden/bin/netwarden-nft-generation';

/** What was built. */
export interface ImageReport {
  readonly output: string;
  readonly reference: string;
  readonly manifestDigest: string;
  readonly archiveSha256: string;
  /** Bytes of the gzip layer (what a registry stores and a node pulls). */
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
  readonly files: number;
  readonly packages: readonly { name: string; version: string }[];
  readonly bytesByArea: Readonly<Record<string, number>>;
  readonly nodeVersion: string;
}

/** The default image reference (the chart's default image). */
export function defaultReference(): string {
  return `docker.io/netwarden/netwarden:${VERSION}`;
}

/** Builds the image archive at `opts.output`. */
export async function buildImage(opts: ImageBuildOptions): Promise<ImageReport> {
  const log = opts.log ?? (() => {});
  const reference = opts.reference ?? defaultReference();
  const work = mkdtempSync(join(tmpdir(), 'netwarden-image-'));
  try {
    log(`resolving ${ROOT_PACKAGES.length} Debian packages and their dependencies`);
    const debs = await resolveDebs(ROOT_PACKAGES, EXCLUDED_PACKAGES);
    const paths = await fetchDebs(debs, join(opts.cacheDir, 'debs'));
    const rootfs = join(work, 'rootfs');
    await extractDebs(paths, rootfs);
    const fromDebs = walkExtracted(rootfs).filter((n) => !n.path.startsWith('usr/share/ca-certificates'));
    const nodeBin = await strippedNode(opts.repoDir, join(opts.cacheDir, 'node'));
    const nodeVersion = (await run(nodeBin, ['--version'])).stdout.trim();
    log(`bundling netwarden with esbuild; node ${nodeVersion}`);
    const extra = [
      ...(await netwardenFiles(opts.repoDir, nodeBin, rootfs)),
      { type: 'file', path: IMAGE_CNI_GATE_PATH, mode: 0o755, source: opts.cniGatePlugin } as const,
      { type: 'file', path: IMAGE_NFT_GENERATION_PATH, mode: 0o755, source: opts.nftGeneration } as const,
    ];
    log('writing the layer');
    const sizes: { path: string; size: number }[] = [];
    const entries = (function* (): Generator<TarEntry> {
      for (const e of layerEntries(fromDebs, extra)) {
        sizes.push({ path: e.path, size: e.type === 'file' ? e.data.length : 0 });
        yield e;
      }
    })();
    const layerFile = join(work, 'layer.tar.gz');
    const layer = await writeLayer(entries, layerFile);
    const config = imageConfig(IMAGE_SPEC, [layer.info]);
    const configBlob: Blob = { digest: sha256(config), size: config.length };
    const manifest = imageManifest(configBlob, [layer.info]);
    const manifestBlob: Blob = { digest: sha256(manifest), size: manifest.length };
    const blobs = new Map<string, Buffer>([
      [configBlob.digest, config],
      [manifestBlob.digest, manifest],
      [layer.info.digest, readFileSync(layerFile)],
    ]);
    mkdirSync(dirname(opts.output), { recursive: true });
    const archive = archiveEntries(blobs, imageIndex(manifestBlob, reference), {
      config: configBlob.digest,
      layers: [layer.info.digest],
      reference,
    });
    const archiveSha256 = await writeStream(Readable.from(tarChunks(archive)), opts.output);
    return {
      output: opts.output,
      reference,
      manifestDigest: manifestBlob.digest,
      archiveSha256,
      compressedBytes: layer.info.size,
      uncompressedBytes: layer.uncompressedBytes,
      files: sizes.filter((s) => s.size > 0).length,
      packages: debs.map((d: DebFile) => ({ name: d.name, version: d.version })),
      bytesByArea: sizeByArea(sizes),
      nodeVersion,
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** What netwarden adds to the packages' files: node, the bundle, a CA bundle, users, empty folders. */
async function netwardenFiles(repoDir: string, nodeBin: string, rootfs: string): Promise<RootfsNode[]> {
  return [
    { type: 'file', path: 'usr/bin/node', mode: 0o755, source: nodeBin },
    { type: 'file', path: 'app/netwarden.mjs', mode: 0o644, data: await bundle(repoDir, 'src/cli/main.ts') },
    // The own-netns probe's child, run by the agent inside pod namespaces; found beside the bundle.
    {
      type: 'file',
      path: 'app/probe-child.js',
      mode: 0o644,
      data: await bundle(repoDir, 'src/host/probe-child.ts'),
    },
    {
      type: 'file',
      path: 'usr/local/bin/netwarden',
      mode: 0o755,
      data: Buffer.from('#!/bin/sh\nexec /usr/bin/node /app/netwarden.mjs "$@"\n'),
    },
    { type: 'file', path: 'etc/ssl/certs/ca-certificates.crt', mode: 0o644, data: caBundle(rootfs) },
    ...identityFiles(),
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'run', mode: 0o755 },
    { type: 'dir', path: 'root', mode: 0o700 },
  ];
}

/** node_modules/node's binary without its symbol tables, cached by the original's digest. */
async function strippedNode(repoDir: string, cacheDir: string): Promise<string> {
  const original = join(repoDir, 'node_modules/node/bin/node');
  if (!existsSync(original))
    throw new NetwardenError('image-build-failed', `${original} is missing: run npm ci first`);
  const key = createHash('sha256').update(readFileSync(original)).digest('hex').slice(0, 16);
  const out = join(cacheDir, key, 'node');
  if (existsSync(out)) return out;
  mkdirSync(dirname(out), { recursive: true });
  const res = await run('strip', ['--strip-all', '-o', `${out}.partial`, original], { timeoutMs: 120_000 });
  if (res.code !== 0)
    throw new NetwardenError('image-build-failed', `strip ${original}: ${lastLines(res.stderr, 3)}`);
  renameSync(`${out}.partial`, out);
  return out;
}

/**
 * Writes the programs exactly as the image carries them (`netwarden.mjs` and `probe-child.js`)
 * into `outDir`, for benchmarks of the shipped form; returns the CLI's path. `alias` (benchmarks
 * only: what the image carries never has one) replaces packages by files, to weigh what a
 * dependency costs.
 */
export async function writeShippedBundle(
  repoDir: string,
  outDir: string,
  alias: Readonly<Record<string, string>> = {},
): Promise<string> {
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'netwarden.mjs'), await bundle(repoDir, 'src/cli/main.ts', alias));
  writeFileSync(join(outDir, 'probe-child.js'), await bundle(repoDir, 'src/host/probe-child.ts', alias));
  return join(outDir, 'netwarden.mjs');
}

/** One of netwarden's programs as one ES module (its npm dependencies inside). */
async function bundle(
  repoDir: string,
  entry: string,
  alias: Readonly<Record<string, string>> = {},
): Promise<Buffer> {
  const { build } = await import('esbuild');
  const res = await build({
    entryPoints: [join(repoDir, entry)],
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node26',
    write: false,
    minifyWhitespace: true,
    minifySyntax: true,
    // V8 keeps a module's whole source for as long as the process runs (outside its heap: Node.js
    // makes a string this large external): short local names take the CLI's 4.66 MB to 3.35 MB.
    // keepNames keeps every function's and class's own name (`fn.name`, which V8's stack traces
    // print, and error and class names); only local variables get short ones. Idle agent, medians
    // of 3, shipped flags and environment: 77.3-77.9 MB RSS vs 79.1 (docs/agent.md, "Sizing").
    minifyIdentifiers: true,
    keepNames: true,
    legalComments: 'none',
    logLevel: 'error',
    alias: { ...alias },
    // Built-ins imported as ES modules are loaded with require: their facades would read every lazy
    // export, `node:http`'s load Node.js's own undici (builtin-imports.ts). npm undici, which
    // netwarden does not send through, is evaluated only if called (lazy-undici.ts).
    plugins: [builtinImportsViaRequire(), lazyUndici(repoDir)],
    // CommonJS dependencies call require(); an ES module has none unless given one.
    banner: {
      js: "import { createRequire as __nwRequire } from 'node:module'; const require = __nwRequire(import.meta.url);",
    },
  });
  const out = res.outputFiles[0];
  if (!out) throw new NetwardenError('image-build-failed', 'esbuild produced no output');
  const code = Buffer.from(out.contents);
  assertAscii(entry, code);
  return code;
}

/**
 * V8 keeps a module's source for as long as the process runs, and one character outside ASCII
 * makes it a two-byte string: the agent's 4.6 MB bundle would take 9.3 MB of its heap. esbuild
 * escapes strings but not regular expression literals, so the bundle is checked, not trusted.
 */
export function assertAscii(entry: string, code: Buffer): void {
  const at = code.findIndex((b) => b > 0x7f);
  if (at < 0) return;
  const context = code.subarray(Math.max(0, at - 30), at + 30).toString('utf8');
  throw new NetwardenError(
    'image-build-failed',
    `${entry}: the bundle has a non-ASCII character at byte ${at} (${JSON.stringify(context)}); ` +
      'write it as an escape (\\uXXXX) so V8 holds the source as a one-byte string',
  );
}

/** /etc/ssl/certs/ca-certificates.crt as update-ca-certificates would build it: every Mozilla certificate, sorted. */
function caBundle(rootfs: string): Buffer {
  const dir = join(rootfs, 'usr/share/ca-certificates/mozilla');
  const certs = readdirSync(dir)
    .filter((f) => f.endsWith('.crt'))
    .sort();
  return Buffer.concat(certs.map((f) => readFileSync(join(dir, f))));
}

/** The users the image's processes run as: root (the agent) and nobody (the clean-up Job). */
function identityFiles(): RootfsNode[] {
  const file = (path: string, text: string): RootfsNode => ({
    type: 'file',
    path,
    mode: 0o644,
    data: Buffer.from(text),
  });
  return [
    file(
      'etc/passwd',
      'root:x:0:0:root:/root:/usr/sbin/nologin\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    ),
    file('etc/group', 'root:x:0:\nnogroup:x:65534:\n'),
    file('etc/nsswitch.conf', 'passwd: files\ngroup: files\nhosts: files dns\n'),
  ];
}

/** A pass-through stream that hashes (SHA-256) and counts what flows through it. */
function measuring(): { stream: Transform; digest: () => string; bytes: () => number } {
  const hash = createHash('sha256');
  let bytes = 0;
  const stream = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  return { stream, digest: () => `sha256:${hash.digest('hex')}`, bytes: () => bytes };
}

/** Streams the tar through gzip into `file`; returns the layer's blob and diff id. */
async function writeLayer(
  entries: Iterable<TarEntry>,
  file: string,
): Promise<{ info: Layer; uncompressedBytes: number }> {
  const raw = measuring();
  const gz = measuring();
  await pipeline(
    Readable.from(tarChunks(entries)),
    raw.stream,
    createGzip({ level: 9 }),
    gz.stream,
    createWriteStream(file),
  );
  return {
    info: { digest: gz.digest(), size: gz.bytes(), diffId: raw.digest() },
    uncompressedBytes: raw.bytes(),
  };
}

/** Writes a stream to `file`, returning its SHA-256 hex. */
async function writeStream(source: Readable, file: string): Promise<string> {
  const m = measuring();
  await pipeline(source, m.stream, createWriteStream(file));
  return m.digest().replace(/^sha256:/, '');
}
