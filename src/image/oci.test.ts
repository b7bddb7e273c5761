import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../host/exec.ts';
import { parseLdd } from './libraries.ts';
import { buildOciImage, type ImageSpec } from './oci.ts';

function fixture(): { dir: string; spec: ImageSpec } {
  const dir = mkdtempSync(join(tmpdir(), 'nw-image-'));
  const tree = join(dir, 'tree');
  mkdirSync(join(tree, 'etc'), { recursive: true });
  writeFileSync(join(tree, 'etc', 'hello.conf'), 'hello\n');
  writeFileSync(join(dir, 'app'), '#!/bin/sh\necho app\n');
  return {
    dir,
    spec: {
      name: 'docker.io/lab/test:1',
      layers: [
        { dir: tree },
        {
          files: [
            { path: '/bin/app', source: join(dir, 'app') },
            { path: '/etc/motd', content: 'lab\n' },
            { path: '/bin/app2', symlink: 'app' },
          ],
        },
      ],
      entrypoint: ['/bin/app'],
      env: { B: '2', A: '1' },
      labels: { 'x.y': 'z' },
    },
  };
}

describe('buildOciImage', () => {
  it('is reproducible: the same inputs give the same digest and bytes, built twice in different folders', async () => {
    const a = fixture();
    const b = fixture();
    const one = await buildOciImage(a.spec, join(a.dir, 'out', 'image.tar'));
    const two = await buildOciImage(b.spec, join(b.dir, 'elsewhere', 'image.tar'));
    expect(one.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(two.digest).toBe(one.digest);
    expect(readFileSync(two.tarPath).equals(readFileSync(one.tarPath))).toBe(true);
  });

  it('changes its digest when an input changes', async () => {
    const a = fixture();
    const base = await buildOciImage(a.spec, join(a.dir, 'a.tar'));
    const env = await buildOciImage({ ...a.spec, env: { A: '1', B: '3' } }, join(a.dir, 'b.tar'));
    writeFileSync(join(a.dir, 'tree', 'etc', 'hello.conf'), 'changed\n');
    const content = await buildOciImage(a.spec, join(a.dir, 'c.tar'));
    expect(new Set([base.digest, env.digest, content.digest]).size).toBe(3);
  });

  it('writes an OCI layout whose index names the image and whose manifest lists every layer', async () => {
    const a = fixture();
    const img = await buildOciImage(a.spec, join(a.dir, 'image.tar'));
    const x = join(a.dir, 'x');
    mkdirSync(x);
    await run('tar', ['-C', x, '-xf', img.tarPath]);
    const index = JSON.parse(readFileSync(join(x, 'index.json'), 'utf8'));
    expect(index.manifests[0].annotations['io.containerd.image.name']).toBe('docker.io/lab/test:1');
    expect(index.manifests[0].digest).toBe(img.digest);
    const manifest = JSON.parse(readFileSync(join(x, 'blobs/sha256', img.digest.slice(7)), 'utf8'));
    expect(manifest.layers).toHaveLength(2);
    const config = JSON.parse(readFileSync(join(x, 'blobs/sha256', img.configDigest.slice(7)), 'utf8'));
    expect(config.config.Entrypoint).toEqual(['/bin/app']);
    expect(config.config.Env).toContain('A=1');
    expect(config.rootfs.diff_ids).toHaveLength(2);
    const listing = await run('tar', ['-tvzf', join(x, 'blobs/sha256', manifest.layers[1].digest.slice(7))]);
    expect(listing.stdout).toMatch(/-rwxr-xr-x 0\/0 .* 1970-01-01 00:00 \.\/bin\/app\n/);
    expect(listing.stdout).toMatch(/\.\/bin\/app2 -> app/);
  });

  it('rejects bad input with a message naming it', async () => {
    const a = fixture();
    const out = join(a.dir, 'bad.tar');
    await expect(buildOciImage({ ...a.spec, name: 'Lab/Test' }, out)).rejects.toThrow(
      /image name "Lab\/Test"/,
    );
    await expect(
      buildOciImage({ ...a.spec, layers: [{ files: [{ path: 'rel/x', content: '' }] }] }, out),
    ).rejects.toThrow(/image file path "rel\/x"/);
    await expect(
      buildOciImage({ ...a.spec, layers: [{ files: [{ path: '/x', source: '/nonexistent/x' }] }] }, out),
    ).rejects.toThrow(/source \/nonexistent\/x is not a readable file/);
    await expect(buildOciImage({ ...a.spec, layers: [{ dir: '/nonexistent' }] }, out)).rejects.toThrow(
      /layer 1: \/nonexistent is not a folder/,
    );
  });
});

describe('parseLdd', () => {
  it('reads library paths, the interpreter included, and skips the vdso', () => {
    const text = `\tlinux-vdso.so.1 (0x00007ffd)\n\tlibmnl.so.0 => /lib/x86_64-linux-gnu/libmnl.so.0 (0x00007f01)\n\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f02)\n\t/lib64/ld-linux-x86-64.so.2 (0x00007f03)\n`;
    expect(parseLdd(text)).toEqual([
      '/lib/x86_64-linux-gnu/libmnl.so.0',
      '/lib/x86_64-linux-gnu/libc.so.6',
      '/lib64/ld-linux-x86-64.so.2',
    ]);
  });
});
