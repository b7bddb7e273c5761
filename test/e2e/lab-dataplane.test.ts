/** The lab's data path is the real thing: kube-proxy's own rules, in both proxy modes. */
import { afterAll, describe, expect, it } from 'vitest';
import { run } from '../../src/host/exec.ts';
import { Lab } from '../../src/lab/lab.ts';
import { listNetns } from '../../src/lab/network.ts';
import { pidsOfRun } from '../../src/lab/run-dir.ts';

describe('lab data plane', () => {
  let lab: Lab | undefined;
  afterAll(async () => {
    await lab?.down();
  });

  it('iptables mode: iptables-save in a node shows kube-proxy rules for the lab Services', async () => {
    lab = await Lab.up({ nodes: 2 });
    const node = lab.node('node-2');
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
    const runId = lab.run.id;
    const problems = await lab.down();
    lab = undefined;
    expect(problems).toEqual([]);
    expect(await listNetns(runId)).toEqual([]);
    expect(pidsOfRun(runId)).toEqual([]);
  });

  it('nftables mode: the kube-proxy table maps every ClusterIP', async () => {
    lab = await Lab.up({ nodes: 1, proxyMode: 'nftables' });
    const node = lab.node('node-1');
    const map = (
      await run('ip', ['netns', 'exec', node.netns, 'nft', 'list', 'map', 'ip', 'kube-proxy', 'service-ips'])
    ).stdout;
    expect(map).toMatch(/10\.96\.0\.1 \. tcp \. 443 : goto service-2QRHZV4L-default\/kubernetes\/tcp\/https/);
    expect(map).toMatch(/10\.96\.0\.10 \. udp \. 53 : goto service-FY5PMXPG-kube-system\/kube-dns\/udp\/dns/);
  });
});
