/**
 * The image as `scripts/image` builds it: twice, to prove the same inputs give the same digest;
 * then unpacked and run in a chroot (and a throwaway network namespace for the netfilter tools),
 * to prove the bundled agent starts, every program it calls finds its libraries, and the boot gate
 * plugin it installs on nodes is there and runs on its own.
 */
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AGENT_OPTIONS } from '../../src/agent/config.ts';
import { run } from '../../src/host/exec.ts';
import { ensureNodePrograms } from '../../src/lab/binaries.ts';
import { IMAGE_CNI_GATE_PATH, IMAGE_NFT_GENERATION_PATH } from '../../src/packaging/image.ts';
import { RUNTIME_ENV, RUNTIME_FLAGS } from '../../src/packaging/runtime.ts';

const REPO = join(import.meta.dirname, '../..');
const MB = 1024 * 1024;

interface Report {
  manifestDigest: string;
  archiveSha256: string;
  compressedBytes: number;
  packages: { name: string }[];
}

describe('scripts/image', () => {
  const dir = mkdtempSync(join(tmpdir(), 'nw-image-test-'));
  const root = join(dir, 'root');
  let first: Report;
  let second: Report;

  const build = async (name: string): Promise<Report> => {
    const res = await run(join(REPO, 'scripts/image'), ['--output', join(dir, name), '--json'], {
      timeoutMs: 240_000,
    });
    if (res.code !== 0) throw new Error(`scripts/image failed: ${res.stderr}`);
    return JSON.parse(res.stdout) as Report;
  };
  const inImage = (args: string[], opts: { net?: boolean; user?: string } = {}) =>
    run(opts.net ? 'unshare' : 'chroot', [
      ...(opts.net ? ['--net', '--', 'chroot'] : []),
      ...(opts.user ? [`--userspec=${opts.user}`] : []),
      root,
      ...args,
    ]);

  let config: { Entrypoint?: string[]; Env?: string[] } = {};

  beforeAll(async () => {
    first = await build('a.tar');
    second = await build('b.tar');
    const layout = join(dir, 'layout');
    await run('mkdir', ['-p', layout, root]);
    await run('tar', ['-xf', join(dir, 'a.tar'), '-C', layout]);
    const [docker] = JSON.parse(readFileSync(join(layout, 'manifest.json'), 'utf8')) as {
      Config: string;
      Layers: string[];
    }[];
    config = (
      JSON.parse(readFileSync(join(layout, docker?.Config ?? ''), 'utf8')) as { config: typeof config }
    ).config;
    const untar = await run('tar', ['-xzf', join(layout, docker?.Layers[0] ?? ''), '-C', root]);
    expect(untar.stderr).toBe('');
  }, 600_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('is reproducible: the same inputs give the same digest and the same archive', () => {
    expect(second.manifestDigest).toBe(first.manifestDigest);
    expect(second.archiveSha256).toBe(first.archiveSha256);
  });

  it('fits the 80 MB budget compressed', () => {
    expect(first.compressedBytes).toBeLessThanOrEqual(80 * MB);
    expect(first.packages.map((p) => p.name)).toEqual(
      expect.arrayContaining(['iptables', 'nftables', 'iproute2', 'util-linux', 'ca-certificates']),
    );
  });

  it('carries no npm tree, one bundle and a CA bundle', () => {
    expect(existsSync(join(root, 'app/netwarden.mjs'))).toBe(true);
    expect(existsSync(join(root, 'app/node_modules'))).toBe(false);
    expect(existsSync(join(root, 'usr/lib/node_modules'))).toBe(false);
    expect(
      readFileSync(join(root, 'etc/ssl/certs/ca-certificates.crt'), 'utf8').match(/BEGIN CERTIFICATE/g)
        ?.length,
    ).toBeGreaterThan(100);
  });

  it('runs the agent through its configured entrypoint and environment (the runtime flags node accepts)', async () => {
    expect(config.Entrypoint).toEqual(['/usr/bin/node', ...RUNTIME_FLAGS, '/app/netwarden.mjs']);
    expect(config.Env).toEqual(expect.arrayContaining([...RUNTIME_ENV]));
    const res = await run('env', [
      '-i',
      ...(config.Env ?? []),
      'chroot',
      root,
      ...(config.Entrypoint ?? []),
      'agent',
      '--help',
    ]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('NETWARDEN_CHECK_INTERVAL');
  });

  it('starts the bundled agent: --help and agent --help', async () => {
    const help = await inImage(['/usr/bin/node', '/app/netwarden.mjs', '--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: netwarden');
    const agent = await inImage(['/usr/bin/node', '/app/netwarden.mjs', 'agent', '--help']);
    expect(agent.code).toBe(0);
    expect(agent.stdout).toContain('NETWARDEN_CHECK_INTERVAL');
    const version = await inImage(['/usr/local/bin/netwarden', 'version']);
    expect(version.stdout.trim()).toMatch(/^netwarden \d+\.\d+\.\d+/);
  });

  it('carries the own-netns probe child beside the bundle, and it runs a plan', async () => {
    // The probe the agent runs inside pod namespaces: its plan here checks nothing, so it just answers.
    const plan = JSON.stringify({ dns: { server: '127.0.0.1', port: 53 }, timeoutMs: 100, checks: [] });
    const res = await inImage(['/usr/bin/node', '/app/probe-child.js', plan]);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toMatchObject({ results: [] });
    const bad = await inImage(['/usr/bin/node', '/app/probe-child.js', 'not json']);
    expect(bad.code).toBe(2);
  });

  it("carries the boot gate plugin at the agent's default --boot-gate-plugin, static, and it answers VERSION", async () => {
    const inside = `/${IMAGE_CNI_GATE_PATH}`;
    expect(AGENT_OPTIONS.bootGatePlugin.default).toBe(inside);
    const plugin = join(root, IMAGE_CNI_GATE_PATH);
    expect(statSync(plugin).mode & 0o755).toBe(0o755);
    const version = (r: string, path: string) =>
      run('chroot', [r, path], {
        env: { ...process.env, CNI_COMMAND: 'VERSION' },
        input: '{"cniVersion":"1.0.0"}',
      });
    const res = await version(root, inside);
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({
      cniVersion: '1.0.0',
      supportedVersions: ['0.3.0', '0.3.1', '0.4.0', '1.0.0', '1.1.0'],
    });
    // Alone in an otherwise empty root it runs the same: no loader, no libc (the runtime runs it on
    // the host, whatever the host's libraries).
    const bare = join(dir, 'bare');
    mkdirSync(bare);
    copyFileSync(plugin, join(bare, 'gate'));
    chmodSync(join(bare, 'gate'), 0o755);
    const alone = await version(bare, '/gate');
    expect(alone.stdout).toBe(res.stdout);
    // the same bytes as the build from tools/cni-gate
    expect(readFileSync(plugin).equals(readFileSync((await ensureNodePrograms()).cniGatePlugin))).toBe(true);
  });

  it("carries the nft generation reader at the agent's default --nft-generation-bin, and it reads a namespace's generation", async () => {
    const inside = `/${IMAGE_NFT_GENERATION_PATH}`;
    expect(AGENT_OPTIONS.nftGenerationBin.default).toBe(inside);
    // In a network namespace of its own (unshare -n): it reads that namespace's generation, not the host's.
    const res = await run('unshare', ['-n', 'chroot', root, inside]);
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^generation \d+\n$/);
    const reader = join(root, IMAGE_NFT_GENERATION_PATH);
    expect(readFileSync(reader).equals(readFileSync((await ensureNodePrograms()).nftGeneration))).toBe(true);
  });

  it('runs the clean-up command as nobody (the hook Job runs as 65534)', async () => {
    const res = await inImage(['/usr/bin/node', '/app/netwarden.mjs', 'cleanup', '--help'], {
      user: '65534:65534',
    });
    expect(res.code).toBe(0);
    expect(res.stdout).toContain('Usage: netwarden cleanup');
  });

  it('has working iptables (both backends), nft, nsenter, ip and sh', async () => {
    for (const backend of ['nft', 'legacy']) {
      const res = await inImage(
        [
          '/bin/sh',
          '-c',
          `iptables-${backend} -t nat -N KUBE-SERVICES && iptables-${backend}-save -t nat && iptables-${backend} -t nat -S KUBE-SERVICES`,
        ],
        { net: true },
      );
      expect(res.stderr.replace(/^# .*\n/gm, ''), backend).toBe('');
      expect(res.stdout, backend).toContain(':KUBE-SERVICES - [0:0]');
      expect(res.stdout, backend).toContain('-N KUBE-SERVICES');
    }
    const nft = await inImage(
      ['/bin/sh', '-c', 'nft add table ip kube-proxy && nft -j list table ip kube-proxy'],
      { net: true },
    );
    expect(JSON.parse(nft.stdout).nftables).toEqual(
      expect.arrayContaining([expect.objectContaining({ table: expect.anything() })]),
    );
    expect((await inImage(['nsenter', '--version'])).stdout).toContain('util-linux');
    expect((await inImage(['ip', '-V'])).stdout).toContain('iproute2');
  });
});
