import { describe, expect, it } from 'vitest';
import { archiveEntries, imageConfig, imageIndex, imageManifest, sha256 } from './oci.ts';

const layer = { digest: sha256(Buffer.from('gz')), size: 2, diffId: sha256(Buffer.from('tar')) };
const spec = {
  entrypoint: ['/usr/bin/node', '/app/netwarden.mjs'],
  env: ['PATH=/usr/sbin:/usr/bin'],
  user: '0:0',
  workingDir: '/',
  labels: { 'org.opencontainers.image.version': '0.1.0' },
  created: '1970-01-01T00:00:00Z',
};

describe('OCI documents', () => {
  it('are stable and reference each other by digest', () => {
    const config = imageConfig(spec, [layer]);
    expect(config.equals(imageConfig(spec, [layer]))).toBe(true);
    expect(JSON.parse(config.toString()).rootfs).toEqual({ type: 'layers', diff_ids: [layer.diffId] });
    const c = { digest: sha256(config), size: config.length };
    const manifest = JSON.parse(imageManifest(c, [layer]).toString());
    expect(manifest.config.digest).toBe(c.digest);
    expect(manifest.layers[0]).toEqual({
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      digest: layer.digest,
      size: 2,
    });
    const index = JSON.parse(
      imageIndex({ digest: 'sha256:m', size: 9 }, 'docker.io/netwarden/netwarden:0.1.0').toString(),
    );
    expect(index.manifests[0].annotations).toEqual({
      'io.containerd.image.name': 'docker.io/netwarden/netwarden:0.1.0',
      'org.opencontainers.image.ref.name': '0.1.0',
    });
  });

  it('lay out blobs by digest, with a docker manifest.json beside the OCI index', () => {
    const blobs = new Map([
      ['sha256:bb', Buffer.from('b')],
      ['sha256:aa', Buffer.from('a')],
    ]);
    const entries = archiveEntries(blobs, Buffer.from('{}'), {
      config: 'sha256:aa',
      layers: ['sha256:bb'],
      reference: 'x:1',
    });
    expect(entries.map((e) => e.path)).toEqual([
      'blobs',
      'blobs/sha256',
      'blobs/sha256/aa',
      'blobs/sha256/bb',
      'oci-layout',
      'index.json',
      'manifest.json',
    ]);
    const docker = entries.at(-1);
    expect(docker?.type === 'file' && JSON.parse(docker.data.toString())).toEqual([
      { Config: 'blobs/sha256/aa', RepoTags: ['x:1'], Layers: ['blobs/sha256/bb'] },
    ]);
  });
});
