import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cgroupControllers, cgroupPids, createCgroupRoot, runCgroupRoots } from './cgroups.ts';
import { containerdConfig } from './containerd.ts';
import { kubeletConfiguration } from './kubelet-config.ts';
import { checkFaults } from './lab.ts';
import { enterNodeArgs, holderScript, nodeMounts } from './node-mounts.ts';

describe('nodeMounts', () => {
  it('binds the node disk over the standard paths, /run and the boot id from the node folder', () => {
    const m = nodeMounts('/lab/nw1/nodes/node-1');
    expect(m.map((x) => [x.target, x.source, x.persistent])).toEqual([
      ['/run', '/lab/nw1/nodes/node-1/run', false],
      ['/var/lib/kubelet', '/lab/nw1/nodes/node-1/disk/kubelet', true],
      ['/var/lib/containerd', '/lab/nw1/nodes/node-1/disk/containerd', true],
      ['/var/lib/cni', '/lab/nw1/nodes/node-1/disk/cni', true],
      ['/etc/cni/net.d', '/lab/nw1/nodes/node-1/disk/cni-net.d', true],
      ['/opt/cni/bin', '/lab/nw1/nodes/node-1/disk/cni-bin', true],
      ['/var/log', '/lab/nw1/nodes/node-1/disk/log', true],
      ['/proc/sys/kernel/random/boot_id', '/lab/nw1/nodes/node-1/boot_id', false],
    ]);
  });

  it('the holder script quotes paths, stops at the first failed mount, and says when it is done', () => {
    const s = holderScript([{ source: "/a b/it's", target: '/run', persistent: false }], 'boot-1');
    expect(s.split('\n')[0]).toBe('set -eu');
    expect(s).toContain(`mount --bind '/a b/it'\\''s' '/run'`);
    // this boot's marker: the log file keeps the last boot's `mounted` line
    expect(s).toMatch(/echo mounted 'boot-1'\nexec sleep infinity$/);
  });

  it('enters a node by its holder pid and its network namespace', () => {
    expect(enterNodeArgs(42, 'nw1-node-1')).toEqual([
      '--mount=/proc/42/ns/mnt',
      '--net=/var/run/netns/nw1-node-1',
      '--',
    ]);
  });
});

describe('cgroups (on a fake v1 tree)', () => {
  function tree(): string {
    const root = mkdtempSync(join(tmpdir(), 'nw-cg-'));
    for (const c of ['cpuset', 'memory', 'pids']) {
      mkdirSync(join(root, c));
      writeFileSync(join(root, c, 'cgroup.procs'), '');
    }
    mkdirSync(join(root, 'unified'));
    writeFileSync(join(root, 'unified', 'cgroup.procs'), '');
    writeFileSync(join(root, 'cpuset', 'cpuset.cpus'), '0-1\n');
    writeFileSync(join(root, 'cpuset', 'cpuset.mems'), '0\n');
    return root;
  }

  it('lists the v1 hierarchies, not the unified one', () => {
    expect(cgroupControllers(tree())).toEqual(['cpuset', 'memory', 'pids']);
  });

  it('creates the node root in every hierarchy, filling cpuset from the parent', () => {
    const root = tree();
    // The kernel creates these files empty in a new cpuset cgroup; the fake does it by hand.
    mkdirSync(join(root, 'cpuset', 'nwabc123-node-1'));
    writeFileSync(join(root, 'cpuset', 'nwabc123-node-1', 'cpuset.cpus'), '');
    writeFileSync(join(root, 'cpuset', 'nwabc123-node-1', 'cpuset.mems'), '');
    createCgroupRoot('nwabc123-node-1', root);
    expect(readFileSync(join(root, 'cpuset', 'nwabc123-node-1', 'cpuset.cpus'), 'utf8')).toBe('0-1\n');
    expect(readFileSync(join(root, 'cpuset', 'nwabc123-node-1', 'cpuset.mems'), 'utf8')).toBe('0\n');
    expect(runCgroupRoots('nwabc123', root)).toEqual(['nwabc123-node-1']);
    expect(runCgroupRoots('nwffffff', root)).toEqual([]);
  });

  it('finds the processes of the whole tree', () => {
    const root = tree();
    mkdirSync(join(root, 'pids', 'nw1-node-1', 'kubepods', 'pod1'), { recursive: true });
    writeFileSync(join(root, 'pids', 'nw1-node-1', 'cgroup.procs'), '');
    writeFileSync(join(root, 'pids', 'nw1-node-1', 'kubepods', 'cgroup.procs'), '');
    writeFileSync(join(root, 'pids', 'nw1-node-1', 'kubepods', 'pod1', 'cgroup.procs'), '101\n102\n');
    expect(cgroupPids('nw1-node-1', root).sort()).toEqual([101, 102]);
  });

  it('says clearly when there is no v1 hierarchy', () => {
    expect(() => createCgroupRoot('x', mkdtempSync(join(tmpdir(), 'nw-cg-')))).toThrow(
      /no cgroup v1 hierarchies/,
    );
  });
});

describe('node configuration', () => {
  it('containerd keeps oom_score_adj within what this machine allows and reads the node CNI folders', () => {
    const toml = containerdConfig({ sandboxImage: 'docker.io/lab/pause:1' });
    expect(toml).toContain('restrict_oom_score_adj = true');
    expect(toml).toContain('sandbox_image = "docker.io/lab/pause:1"');
    expect(toml).toContain('conf_dir = "/etc/cni/net.d"');
    expect(toml).toContain('SystemdCgroup = false');
  });

  it('the kubelet allows cgroup v1 with the cgroupfs driver and never evicts or collects images', () => {
    const c = kubeletConfiguration({
      nodeIp: '10.250.0.11',
      cgroupRoot: '/nw1-node-1',
      clientCaFile: '/ca.crt',
      clusterDns: '10.96.0.10',
      containerRuntimeEndpoint: 'unix:///run/containerd/containerd.sock',
    });
    expect(c).toMatchObject({
      failCgroupV1: false,
      cgroupDriver: 'cgroupfs',
      cgroupRoot: '/nw1-node-1',
      address: '10.250.0.11',
      failSwapOn: false,
      imageGCHighThresholdPercent: 100,
      resolvConf: '',
    });
    expect(Object.values(c.evictionHard as Record<string, string>)).toEqual(['0%', '0%', '0%', '0%']);
  });
});

describe('checkFaults', () => {
  it('refuses early-pods-lose-route without cni-config-persisted, naming both', () => {
    expect(() => checkFaults(['early-pods-lose-route'])).toThrow(
      /early-pods-lose-route needs cni-config-persisted/,
    );
    expect(checkFaults(['cni-config-persisted', 'early-pods-lose-route'])).toHaveLength(2);
    expect(checkFaults([])).toEqual([]);
  });
});
