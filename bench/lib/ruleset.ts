/**
 * Records what the lab's real kube-proxy wrote on a node, for bench/doctor-parse.ts
 * (`--file`/`--cluster-state`): `iptables-save` of the node (timed, 3 runs) and the cluster state.
 */
import { writeFileSync } from 'node:fs';
import { run } from '../../src/host/exec.ts';
import type { Lab } from '../../src/lab/lab.ts';
import { clusterState, kubeProxyProblems } from '../../src/lab/observe.ts';
import { waitFor } from '../../src/lab/wait.ts';
import { serializeClusterState } from '../../src/netfilter/cluster-state.ts';

/** Saves `<out>/iptables-save.txt` and `<out>/cluster-state.json`; prints the dump's size and timing. */
export async function recordRuleset(lab: Lab, nodeName: string, out: string): Promise<void> {
  const node = lab.node(nodeName);
  const saveTimes: number[] = [];
  let dump = '';
  for (let i = 0; i < 3; i++) {
    const res = await run(
      '/usr/bin/time',
      ['-f', '%e %M', 'ip', 'netns', 'exec', node.netns, 'iptables-save'],
      {
        timeoutMs: 120_000,
        maxOutputBytes: 512 * 1024 * 1024,
      },
    );
    saveTimes.push(Number(res.stderr.trim().split('\n').pop()?.split(' ')[0]) * 1000);
    dump = res.stdout;
  }
  writeFileSync(`${out}/iptables-save.txt`, dump);
  const cluster = await clusterState(lab.admin.objects);
  writeFileSync(`${out}/cluster-state.json`, serializeClusterState(cluster));
  saveTimes.sort((a, b) => a - b);
  console.log(
    `iptables-save in the node: ${dump.split('\n').length} lines, ${(dump.length / 1e6).toFixed(1)} MB, median ${Math.round(saveTimes[1] ?? 0)} ms over 3 runs`,
  );
  console.log(
    `saved to ${out}/iptables-save.txt and ${out}/cluster-state.json; next: node bench/doctor-parse.ts --file ${out}/iptables-save.txt --cluster-state ${out}/cluster-state.json`,
  );
}

/** Waits (≤ 30 min) until the node's real kube-proxy (iptables mode) has programmed every Service. */
export async function waitProgrammed(lab: Lab, nodeName: string): Promise<void> {
  const node = lab.node(nodeName);
  await waitFor(
    'kube-proxy to program every Service',
    async () =>
      (await kubeProxyProblems(node.netns, 'iptables', await clusterState(lab.admin.objects), nodeName))
        .length === 0,
    30 * 60_000,
    5_000,
  );
}
