/**
 * The lab's nodes are real: the real kubelet and containerd in a node's own network and mount
 * namespaces, kube-proxy's own rules in both proxy modes, nothing left behind on the host — also
 * when the process owning a lab was killed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/host/exec.ts';
import type { Pod } from '../../src/kube/types.ts';
import { runCgroupRoots } from '../../src/lab/cgroups.ts';
import { currentLab } from '../../src/lab/daemon.ts';
import { Lab } from '../../src/lab/lab.ts';
import { listNetns } from '../../src/lab/network.ts';
import { cleanStaleRuns, pidsOfRun, removeRunLeftovers } from '../../src/lab/run-dir.ts';

/** The host's mounts that mention a run, besides the lab's network namespaces (`ip netns add` binds those under /run/netns). */
const hostMountsOf = (runId: string): string[] =>
  readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .filter((l) => l.includes(runId) && !l.includes(` /run/netns/${runId}-`));

describe('lab data plane', () => {
  let lab: Lab | undefined;
  afterAll(async () => {
    await lab?.down();
  });

  it('iptables mode: real kubelets in their own mount namespaces, kube-proxy rules for the lab Services, nothing left after down', async () => {
    lab = await Lab.up({ nodes: 2 });
    const runId = lab.run.id;
    const node = lab.node('node-2');

    // The Node objects come from the real kubelet and containerd.
    const n2 = await lab.admin.nodes.get('node-2');
    expect(n2?.status?.nodeInfo?.kubeletVersion).toBe('v1.36.5');
    expect(n2?.status?.nodeInfo?.containerRuntimeVersion).toMatch(/^containerd:\/\//);
    expect(n2?.status?.addresses).toContainEqual({ type: 'InternalIP', address: node.ip });
    // Its boot ID is the node's own file, not the host's.
    const hostBootId = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    expect(n2?.status?.nodeInfo?.bootID).toBe(node.bootId);
    expect(node.bootId).not.toBe(hostBootId);
    const pid = node.holder?.pid ?? 0;
    const seen = await run('nsenter', [
      `--mount=/proc/${pid}/ns/mnt`,
      'cat',
      '/proc/sys/kernel/random/boot_id',
    ]);
    expect(seen.stdout.trim()).toBe(node.bootId);
    // The node's CNI folder is its own; the host's mount table has none of the node's mounts.
    const conf = await run('nsenter', [`--mount=/proc/${pid}/ns/mnt`, 'ls', '/etc/cni/net.d']);
    expect(conf.stdout.trim()).toBe('10-lab-vpc.conflist');
    expect(hostMountsOf(runId)).toEqual([]);
    expect(runCgroupRoots(runId)).toEqual([`${runId}-node-1`, `${runId}-node-2`]);
    // kube-proxy runs as a DaemonSet pod with host networking.
    const proxies = await lab.admin.objects.list<Pod>('v1', 'Pod', {
      namespace: 'kube-system',
      labelSelector: 'k8s-app=kube-proxy',
    });
    expect(proxies.map((p) => [p.spec?.nodeName, p.spec?.hostNetwork]).sort()).toEqual([
      ['node-1', true],
      ['node-2', true],
    ]);

    const nat = (await run('ip', ['netns', 'exec', node.netns, 'iptables-save', '-t', 'nat'])).stdout;
    expect(nat).toContain('-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES');
    // chain names are kube-proxy's own hashes (see ../shared/reference/datapath-facts.md)
    expect(nat).toMatch(
      /-A KUBE-SERVICES -d 10\.96\.0\.1\/32 -p tcp -m comment --comment "default\/kubernetes:https cluster IP" -m tcp --dport 443 -j KUBE-SVC-NPX46M4PTMTKRN6Y/,
    );
    expect(nat).toContain('-j KUBE-SVC-TCOU7JCQXEZGVUNU'); // kube-system/kube-dns:dns udp
    expect(nat).toMatch(
      /-A KUBE-SEP-\w+ -p tcp -m comment --comment "default\/kubernetes:https" -m tcp -j DNAT --to-destination 10\.251\.0\.1:\d+/,
    );
    const problems = await lab.down();
    lab = undefined;
    expect(problems).toEqual([]);
    expect(await listNetns(runId)).toEqual([]);
    expect(pidsOfRun(runId)).toEqual([]);
    expect(runCgroupRoots(runId)).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(runId);
  });

  it('nftables mode, and a killed lab: the kube-proxy table maps every ClusterIP; the next start removes every leftover', async () => {
    // A lab root of its own, so that the test sees only its own run.
    const root = mkdtempSync(join(tmpdir(), 'nw-lab-root-'));
    const env = { ...process.env, NETWARDEN_LAB_DIR: root };
    const bin = resolve(import.meta.dirname, '../../bin/netwarden');
    const up = spawnSync(bin, ['lab', 'up', '--nodes', '1', '--proxy-mode', 'nftables'], {
      env,
      encoding: 'utf8',
      timeout: 300_000,
    });
    expect(up.status, up.stderr).toBe(0);
    const state = currentLab(root);
    const runId = state?.runId ?? '';
    expect(runId).toMatch(/^nw[0-9a-f]{6}$/);
    try {
      const map = (
        await run('ip', [
          'netns',
          'exec',
          `${runId}-node-1`,
          'nft',
          'list',
          'map',
          'ip',
          'kube-proxy',
          'service-ips',
        ])
      ).stdout;
      expect(map).toMatch(
        /10\.96\.0\.1 \. tcp \. 443 : goto service-2QRHZV4L-default\/kubernetes\/tcp\/https/,
      );
      expect(map).toMatch(
        /10\.96\.0\.10 \. udp \. 53 : goto service-FY5PMXPG-kube-system\/kube-dns\/udp\/dns/,
      );

      // Kill the lab's owner outright: everything it started is left running.
      process.kill(state?.pid ?? 0, 'SIGKILL');
      await new Promise((r) => setTimeout(r, 500));
      expect(pidsOfRun(runId).length).toBeGreaterThan(0);
      expect(runCgroupRoots(runId)).toEqual([`${runId}-node-1`]);
      expect(await listNetns(runId)).not.toEqual([]);

      expect(await cleanStaleRuns(root)).toEqual([runId]);
      expect(pidsOfRun(runId)).toEqual([]);
      expect(runCgroupRoots(runId)).toEqual([]);
      expect(await listNetns(runId)).toEqual([]);
      expect(readFileSync('/proc/self/mountinfo', 'utf8')).not.toContain(runId);
    } finally {
      // Whatever happened above, leave nothing of this run behind.
      await cleanStaleRuns(root);
      if (runId) await removeRunLeftovers(runId);
      rmSync(root, { recursive: true, force: true });
    }
  });
});
