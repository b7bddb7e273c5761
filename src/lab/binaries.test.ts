import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  cacheDirFor,
  ensureBinaries,
  LAB_BINARIES,
  pinnedVersions,
  TOOLSETS,
  type Toolset,
} from './binaries.ts';

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

  it('keys a module with no pins by its folder and its Go sources (tests excluded)', () => {
    const a = mkdtempSync(join(tmpdir(), 'nw-mod-'));
    writeFileSync(join(a, 'go.mod'), 'module netwarden.dev/cni-gate\n');
    writeFileSync(join(a, 'main.go'), 'package main\n');
    const env = { NETWARDEN_CACHE_DIR: '/cache' };
    const first = cacheDirFor(a, env, 'cniGate');
    expect(first).toMatch(/^\/cache\/lab-bin\/cni-gate_[0-9a-f]{10}$/);
    writeFileSync(join(a, 'main_test.go'), 'package main\n');
    expect(cacheDirFor(a, env, 'cniGate')).toBe(first);
    writeFileSync(join(a, 'main.go'), 'package main // changed\n');
    expect(cacheDirFor(a, env, 'cniGate')).not.toBe(first);
  });
});

/** A go.mod pinning each module of a toolset at a made-up version. */
const FIXTURE_MODS: Record<Toolset, string> = {
  kubernetes: GO_MOD,
  coredns: 'module y\nrequire github.com/coredns/coredns v1.14.7\n',
  helm: 'module h\nrequire helm.sh/helm/v4 v4.3.1\n',
  promtool: 'module p\nrequire github.com/prometheus/prometheus v0.316.0\n',
  cniGate: 'module netwarden.dev/cni-gate\n',
  labImages: 'module z\n',
};

/** A tools/ folder with every toolset's go.mod. */
function toolsFixture(): string {
  const tools = mkdtempSync(join(tmpdir(), 'nw-tools-'));
  for (const [toolset, goMod] of Object.entries(FIXTURE_MODS)) {
    mkdirSync(join(tools, TOOLSETS[toolset as Toolset].dir));
    writeFileSync(join(tools, TOOLSETS[toolset as Toolset].dir, 'go.mod'), goMod);
  }
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
    expect(res.versions.helm).toBe('v4.3.1');
    expect(res.paths.promtool).toBe(join(bin, 'promtool'));
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
