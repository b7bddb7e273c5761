/**
 * Gate reaction benchmark: how long after a node's data path is really back does netwarden open
 * its gate? A cheaper loop than reboots: stop kube-proxy and flush its KUBE-SERVICES chain on one
 * node (the gate closes), start kube-proxy again, and measure from the moment the lab sees every
 * Service programmed (netfilter model, polled every 100 ms) to the moment the Node loses the taint
 * (API watch). Prints median and p95; asserts nothing.
 * Usage: sudo node_modules/.bin/node bench/gate-reaction.ts [--runs 20]
 */
import { parseArgs } from 'node:util';
import { TAINT_KEY } from '../src/core/gate.ts';
import type { Node } from '../src/core/objects.ts';
import { run } from '../src/host/exec.ts';
import { Lab } from '../src/lab/lab.ts';
import { clusterState, kubeProxyProblems } from '../src/lab/observe.ts';
import { waitFor } from '../src/lab/wait.ts';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '20' } } });
const runs = Number(values.runs);

const lab = await Lab.up({ nodes: 3, netwarden: {}, log: (l) => console.error(l) });
const node = lab.node('node-2');
let tainted: { value: boolean; at: number } = { value: false, at: 0 };
const watch = await lab.admin.nodes.watch({
  onEvent: (ev) => {
    const n = ev.object as Node;
    if (n.metadata?.name !== 'node-2') return;
    const t = (n.spec?.taints ?? []).some((x) => x.key === TAINT_KEY);
    if (t !== tainted.value) tainted = { value: t, at: performance.now() };
  },
});
const reactions: number[] = [];
try {
  for (let i = 0; i < runs; i++) {
    await lab.stopKubeProxy('node-2');
    await run('ip', ['netns', 'exec', node.netns, 'iptables', '-t', 'nat', '-F', 'KUBE-SERVICES']);
    await waitFor('the gate to close', () => tainted.value, 30_000, 20);
    await lab.startKubeProxy('node-2');
    let readyAt = 0;
    await waitFor(
      'kube-proxy rules to be complete',
      async () => {
        const ok =
          (await kubeProxyProblems(node.netns, 'iptables', await clusterState(lab.admin.objects), 'node-2'))
            .length === 0;
        if (ok) readyAt = performance.now();
        return ok;
      },
      60_000,
      100,
    );
    await waitFor('the gate to open', () => !tainted.value, 30_000, 20);
    const reaction = tainted.at - readyAt;
    reactions.push(reaction);
    console.error(`run ${i + 1}: gate opened ${Math.round(reaction)} ms after the rules were complete`);
  }
} finally {
  await watch.stop();
  await lab.down();
}
const sorted = [...reactions].sort((a, b) => a - b);
const q = (p: number): number => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0;
console.log(
  `gate reaction (opened − data path ready) over ${sorted.length} runs: median ${Math.round(q(0.5))} ms, p95 ${Math.round(q(0.95))} ms, min ${Math.round(sorted[0] ?? 0)} ms, max ${Math.round(sorted[sorted.length - 1] ?? 0)} ms`,
);
