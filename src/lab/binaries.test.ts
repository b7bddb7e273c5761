import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cacheDirFor, ensureBinaries, LAB_BINARIES, pinnedVersions, TOOLSETS } from './binaries.ts';

const GO_MOD = `module x
require (
	k8s.io/kubernetes v1.36.5
	go.etcd.io/etcd/server/v3 v3.6.8
	github.com/containernetworking/plugins v1.9.1
)
`;

describe('pinnedVersions', () => {
  it('reads the three pins from go.mod', () => {
    expect(pinnedVersions(GO_MOD)).toEqual({ kubernetes: 'v1.36.5', etcd: 'v3.6.8', cniPlugins: 'v1.9.1' });
  });
  it('names the missing pin', () => {
    expect(() => pinnedVersions('module x\n')).toThrow('go.mod does not pin k8s.io/kubernetes');
  });
});

describe('cacheDirFor', () => {
  it('is keyed by versions and by the go.mod/go.sum content', () => {
    const a = mkdtempSync(join(tmpdir(), 'nw-mod-'));
    writeFileSync(join(a, 'go.mod'), GO_MOD);
    const env = { NETWARDEN_CACHE_DIR: '/cache' };
    const first = cacheDirFor(a, env);
    expect(first).toMatch(/^\/cache\/lab-bin\/k8s-v1\.36\.5_etcd-v3\.6\.8_cni-v1\.9\.1_[0-9a-f]{10}$/);
    writeFileSync(join(a, 'go.sum'), 'changed\n');
    expect(cacheDirFor(a, env)).not.toBe(first);
  });
});

/** A tools/ folder with every module's go.mod file. */
function toolsFixture(): string {
  const tools = mkdtempSync(join(tmpdir(), 'nw-tools-'));
  mkdirSync(join(tools, TOOLSETS.kubernetes.dir));
  writeFileSync(join(tools, TOOLSETS.kubernetes.dir, 'go.mod'), GO_MOD);
  mkdirSync(join(tools, TOOLSETS.coredns.dir));
  writeFileSync(
    join(tools, TOOLSETS.coredns.dir, 'go.mod'),
    'module y\nrequire github.com/coredns/coredns v1.14.7\n',
  );
  mkdirSync(join(tools, TOOLSETS.labImages.dir));
  writeFileSync(join(tools, TOOLSETS.labImages.dir, 'go.mod'), 'module z\n');
  return tools;
}

describe('ensureBinaries', () => {
  it('uses an override folder that holds every binary, without building', async () => {
    const tools = toolsFixture();
    const bin = mkdtempSync(join(tmpdir(), 'nw-bin-'));
    for (const name of Object.keys(LAB_BINARIES)) writeFileSync(join(bin, name), '');
    const env = { NETWARDEN_KUBE_BIN: bin, NETWARDEN_CACHE_DIR: join(bin, 'cache'), PATH: '' };
    const res = await ensureBinaries({ env, toolsDir: tools });
    expect(res.source).toBe('override');
    expect(res.versions.coredns).toBe('v1.14.7');
    expect(res.paths['kube-apiserver']).toBe(join(bin, 'kube-apiserver'));
  });

  it('says which step failed when Go is missing', async () => {
    const tools = toolsFixture();
    const env = { NETWARDEN_CACHE_DIR: join(tools, 'cache'), PATH: '/nonexistent' };
    await expect(ensureBinaries({ env, toolsDir: tools })).rejects.toThrow(
      /step "find Go": the go command is not on PATH/,
    );
  });
});
