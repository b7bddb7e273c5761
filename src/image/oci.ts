/**
 * A small, reproducible OCI image builder: layers from folders or file lists, an image config
 * (entrypoint, cmd, env, labels, working dir), packed as an OCI image layout in one tar that
 * `ctr images import` (and any OCI tool) accepts. No registry, no daemon.
 *
 * Reproducible: the same inputs give the same bytes and so the same digest. Layer tars are made
 * by GNU tar with sorted names, mtime 0, owner and group 0 and no extended attributes, compressed
 * by `gzip -n` (no name, no timestamp); the config carries no creation time; JSON is written with
 * a fixed key order. File modes are taken from the input (folders) or from the spec (file lists).
 *
 * Bounded: layers are streamed through the tar and gzip commands and hashed from disk, never held
 * in memory; every command has a deadline.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import { NetwardenError } from '../errors.ts';
import { runOk } from '../host/exec.ts';

/** One file of a file-list layer; `path` is absolute inside the image. */
export type ImageFile =
  | { readonly path: string; readonly source: string; readonly mode?: number }
  | { readonly path: string; readonly content: string | Uint8Array; readonly mode?: number }
  | { readonly path: string; readonly symlink: string };

/** A layer: a folder tree taken as it is, or a list of files. */
export type ImageLayer = { readonly dir: string } | { readonly files: readonly ImageFile[] };

/** What to build. */
export interface ImageSpec {
  /** Full reference the image is imported as, e.g. `docker.io/lab/pause:1`. */
  readonly name: string;
  readonly layers: readonly ImageLayer[];
  readonly entrypoint?: readonly string[];
  readonly cmd?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly workingDir?: string;
  /** Default amd64/linux. */
  readonly architecture?: string;
}

/** What was built. */
export interface BuiltImage {
  readonly name: string;
  /** The OCI layout tar. */
  readonly tarPath: string;
  /** Digest of the image manifest (what a runtime reports as the image's digest). */
  readonly digest: string;
  /** Digest of the image config (containerd's and the kubelet's "image ID"). */
  readonly configDigest: string;
  /** Bytes of all blobs. */
  readonly size: number;
}

const MEDIA = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar+gzip',
} as const;

/** Flags that make GNU tar's output depend only on names, contents, modes and link targets. */
const TAR_FLAGS = [
  '--sort=name',
  '--mtime=@0',
  '--owner=0',
  '--group=0',
  '--numeric-owner',
  '--format=gnu',
  '--no-acls',
  '--no-xattrs',
  '--no-selinux',
];
const STEP_TIMEOUT_MS = 5 * 60_000;
const NAME =
  /^[a-z0-9]+([._-][a-z0-9]+)*(\/[a-z0-9]+([._-][a-z0-9]+)*)*(:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})$/;

/** Throws a clear error for a reference that is not `host/path:tag` in lower case. */
function checkName(name: string): void {
  if (!NAME.test(name))
    throw new NetwardenError(
      'usage',
      `image name "${name}": expected a lower-case reference with a tag, e.g. docker.io/lab/pause:1`,
    );
}

/** Throws unless `p` is an absolute, normalised path inside the image (not `/`). */
function checkImagePath(p: string): void {
  if (!p.startsWith('/') || posix.normalize(p) !== p || p === '/' || p.endsWith('/'))
    throw new NetwardenError('usage', `image file path "${p}": expected an absolute path such as /bin/app`);
}

/** sha256 of a file, streamed. */
async function sha256File(path: string): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** Copies a file list into `dir` with the given modes (default 0755 for sources, 0644 for content). */
async function stageFiles(files: readonly ImageFile[], dir: string): Promise<void> {
  const seen = new Set<string>();
  for (const f of files) {
    checkImagePath(f.path);
    if (seen.has(f.path)) throw new NetwardenError('usage', `image file path "${f.path}" is listed twice`);
    seen.add(f.path);
    const dest = join(dir, f.path);
    await mkdir(dirname(dest), { recursive: true });
    if ('symlink' in f) {
      await symlink(f.symlink, dest);
      continue;
    }
    if ('source' in f) {
      const st = await stat(f.source).catch(() => undefined);
      if (!st?.isFile())
        throw new NetwardenError('usage', `image file ${f.path}: source ${f.source} is not a readable file`);
      await copyFile(f.source, dest);
      await chmod(dest, f.mode ?? 0o755);
    } else {
      await writeFile(dest, f.content);
      await chmod(dest, f.mode ?? 0o644);
    }
  }
  // Folders made on the way get one mode, whatever the umask said.
  await runOk('find', [dir, '-type', 'd', '-exec', 'chmod', '0755', '{}', '+'], {
    timeoutMs: STEP_TIMEOUT_MS,
  });
}

/** Writes a blob into the layout's blobs/sha256 and returns its descriptor fields. */
async function blobFromFile(blobs: string, file: string): Promise<{ digest: string; size: number }> {
  const d = await sha256File(file);
  await rename(file, join(blobs, d.digest.slice('sha256:'.length)));
  return d;
}

async function blobFromJson(blobs: string, value: unknown): Promise<{ digest: string; size: number }> {
  const bytes = Buffer.from(JSON.stringify(value));
  const digest = `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
  await writeFile(join(blobs, digest.slice('sha256:'.length)), bytes);
  return { digest, size: bytes.length };
}

/** One layer: tar (diff ID = its digest), then gzip -n (the blob). */
async function buildLayer(
  layer: ImageLayer,
  work: string,
  blobs: string,
  i: number,
): Promise<{ diffId: string; digest: string; size: number }> {
  let root: string;
  if ('dir' in layer) {
    const st = await stat(layer.dir).catch(() => undefined);
    if (!st?.isDirectory())
      throw new NetwardenError('usage', `image layer ${i + 1}: ${layer.dir} is not a folder`);
    root = layer.dir;
  } else {
    root = join(work, `layer-${i}`);
    await mkdir(root);
    await stageFiles(layer.files, root);
  }
  const tar = join(work, `layer-${i}.tar`);
  await runOk('tar', [...TAR_FLAGS, '-C', root, '-cf', tar, '.'], { timeoutMs: STEP_TIMEOUT_MS });
  const diffId = (await sha256File(tar)).digest;
  await runOk('gzip', ['-n', '-6', tar], { timeoutMs: STEP_TIMEOUT_MS });
  const blob = await blobFromFile(blobs, `${tar}.gz`);
  return { diffId, ...blob };
}

/** Sorted copy of a string record (fixed key order in the JSON). */
function sorted(r: Readonly<Record<string, string>> | undefined): Record<string, string> | undefined {
  if (!r) return undefined;
  return Object.fromEntries(Object.entries(r).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/**
 * Builds the image into `outTar` (replaced if present) and returns its digests. Throws a
 * NetwardenError naming the bad input (name, path, missing source) or the failed step.
 */
export async function buildOciImage(spec: ImageSpec, outTar: string): Promise<BuiltImage> {
  checkName(spec.name);
  if (spec.layers.length === 0) throw new NetwardenError('usage', `image ${spec.name}: no layers`);
  await mkdir(dirname(outTar), { recursive: true });
  const work = await mkdtemp(join(dirname(outTar), '.image-'));
  try {
    const layout = join(work, 'layout');
    const blobs = join(layout, 'blobs', 'sha256');
    await mkdir(blobs, { recursive: true });
    const layers = [];
    for (const [i, l] of spec.layers.entries()) layers.push(await buildLayer(l, work, blobs, i));

    const env = Object.entries(spec.env ?? {}).map(([k, v]) => `${k}=${v}`);
    const config = {
      architecture: spec.architecture ?? 'amd64',
      os: 'linux',
      config: {
        ...(spec.entrypoint ? { Entrypoint: [...spec.entrypoint] } : {}),
        ...(spec.cmd ? { Cmd: [...spec.cmd] } : {}),
        Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env],
        ...(spec.labels ? { Labels: sorted(spec.labels) } : {}),
        ...(spec.workingDir ? { WorkingDir: spec.workingDir } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    };
    const configBlob = await blobFromJson(blobs, config);
    const manifest = {
      schemaVersion: 2,
      mediaType: MEDIA.manifest,
      config: { mediaType: MEDIA.config, ...configBlob },
      layers: layers.map((l) => ({ mediaType: MEDIA.layer, digest: l.digest, size: l.size })),
    };
    const manifestBlob = await blobFromJson(blobs, manifest);
    const tag = spec.name.slice(spec.name.lastIndexOf(':') + 1);
    const index = {
      schemaVersion: 2,
      mediaType: MEDIA.index,
      manifests: [
        {
          mediaType: MEDIA.manifest,
          ...manifestBlob,
          platform: { architecture: config.architecture, os: 'linux' },
          annotations: { 'io.containerd.image.name': spec.name, 'org.opencontainers.image.ref.name': tag },
        },
      ],
    };
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    await writeFile(join(layout, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
    const partial = `${outTar}.partial`;
    await runOk('tar', [...TAR_FLAGS, '-C', layout, '-cf', partial, '.'], { timeoutMs: STEP_TIMEOUT_MS });
    await rename(partial, outTar);
    const size = configBlob.size + manifestBlob.size + layers.reduce((n, l) => n + l.size, 0);
    return {
      name: spec.name,
      tarPath: outTar,
      digest: manifestBlob.digest,
      configDigest: configBlob.digest,
      size,
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
