/**
 * The JSON documents of an OCI image (config, manifest, index) and the archive layout that
 * containerd's `ctr images import` and `docker load` read. Pure: digests in, bytes out, keys in a
 * fixed order so the same inputs always give the same digests.
 */
import { createHash } from 'node:crypto';
import type { TarEntry } from './tar.ts';

/** A blob's content address. */
export interface Blob {
  readonly digest: string;
  readonly size: number;
}

/** One gzip-compressed layer: its blob and the digest of its uncompressed tar (the diff id). */
export interface Layer extends Blob {
  readonly diffId: string;
}

/** `sha256:<hex>` of some bytes. */
export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** What the image runs. */
export interface ImageSpec {
  readonly entrypoint: readonly string[];
  readonly cmd?: readonly string[];
  readonly env: readonly string[];
  readonly user: string;
  readonly workingDir: string;
  readonly labels: Readonly<Record<string, string>>;
  /** RFC 3339; fixed (e.g. the epoch) for reproducible digests. */
  readonly created: string;
}

const json = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));

/** The image config (application/vnd.oci.image.config.v1+json). */
export function imageConfig(spec: ImageSpec, layers: readonly Layer[]): Buffer {
  return json({
    created: spec.created,
    architecture: 'amd64',
    os: 'linux',
    config: {
      User: spec.user,
      Env: spec.env,
      Entrypoint: spec.entrypoint,
      ...(spec.cmd ? { Cmd: spec.cmd } : {}),
      WorkingDir: spec.workingDir,
      Labels: spec.labels,
    },
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    history: layers.map(() => ({ created: spec.created, created_by: 'netwarden scripts/image' })),
  });
}

/** The image manifest (application/vnd.oci.image.manifest.v1+json). */
export function imageManifest(config: Blob, layers: readonly Layer[]): Buffer {
  return json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: {
      mediaType: 'application/vnd.oci.image.config.v1+json',
      digest: config.digest,
      size: config.size,
    },
    layers: layers.map((l) => ({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: l.digest,
      size: l.size,
    })),
  });
}

/** The layout's index.json, naming the image so `ctr images import` tags it. */
export function imageIndex(manifest: Blob, reference: string): Buffer {
  const tag = reference.slice(reference.lastIndexOf(':') + 1);
  return json({
    schemaVersion: 2,
    mediaType: 'application/vnd.oci.image.index.v1+json',
    manifests: [
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: manifest.digest,
        size: manifest.size,
        annotations: { 'io.containerd.image.name': reference, 'org.opencontainers.image.ref.name': tag },
      },
    ],
  });
}

/**
 * The entries of the image archive: an OCI image layout (oci-layout, index.json, blobs) plus the
 * manifest.json `docker load` reads. `blobs` maps digests to their bytes.
 */
export function archiveEntries(
  blobs: ReadonlyMap<string, Buffer>,
  index: Buffer,
  docker: { config: string; layers: readonly string[]; reference: string },
): TarEntry[] {
  const blobPath = (digest: string): string => `blobs/sha256/${digest.replace(/^sha256:/, '')}`;
  const entries: TarEntry[] = [
    { type: 'dir', path: 'blobs', mode: 0o755 },
    { type: 'dir', path: 'blobs/sha256', mode: 0o755 },
  ];
  for (const digest of [...blobs.keys()].sort())
    entries.push({ type: 'file', path: blobPath(digest), mode: 0o644, data: blobs.get(digest) as Buffer });
  entries.push(
    { type: 'file', path: 'oci-layout', mode: 0o644, data: json({ imageLayoutVersion: '1.0.0' }) },
    { type: 'file', path: 'index.json', mode: 0o644, data: index },
    {
      type: 'file',
      path: 'manifest.json',
      mode: 0o644,
      data: json([
        {
          Config: blobPath(docker.config),
          RepoTags: [docker.reference],
          Layers: docker.layers.map(blobPath),
        },
      ]),
    },
  );
  return entries;
}
