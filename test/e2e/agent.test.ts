/**
 * The node agent on a 4-node lab: real kubelets and containerd, real kube-proxy (a DaemonSet), real
 * scheduler, the agent under the ServiceAccount and RBAC the chart renders
 * (deploy/chart/netwarden/templates/rbac.yaml; a missing permission shows up as a failed write, a
 * missing Event or a crashed agent, and fails these tests).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITION_TYPE, GATED_LABEL, TAINT_KEY } from '../../src/core/gate.ts';
import type { Node, Pod } from '../../src/core/objects.ts';
import { run } from '../../src/host/exec.ts';
import { labImageRef } from '../../src/lab/images.ts';
import { Lab } from '../../src/lab/lab.ts';
import { waitFor } from '../../src/lab/wait.ts';
import { downAndExpectClean } from '../support/lab.ts';

const gate = (n: Node | null | undefined) => ({
  status: n?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.status,
  reason: n?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.reason,
  tainted: (n?.spec?.taints ?? []).some((t) => t.key === TAINT_KEY),
});

describe('node agent', () => {
  let lab: Lab;

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 4, netwarden: {} });
    await waitFor(
      'every gate open',
      async () => (await lab.admin.nodes.list()).every((n) => gate(n).status === 'True' && !gate(n).tainted),
      60_000,
    );
  });

  afterAll(() => downAndExpectClean(lab));

  const get = (name: string) => lab.admin.nodes.get(name).then(gate);

  async function breakKubeProxy(name: string): Promise<void> {
    const node = lab.node(name);
    await lab.stopKubeProxy(name);
    await run('ip', ['netns', 'exec', node.netns, 'iptables', '-t', 'nat', '-F', 'KUBE-SERVICES']);
  }

  it('closes the gate when kube-proxy is gone, keeps new pods off the node, opens when it is back', async () => {
    await breakKubeProxy('node-2');
    await waitFor(
      'node-2 gated',
      async () => {
        const g = await get('node-2');
        return g.status === 'False' && g.tainted;
      },
      60_000, // the open gate notices at its next steady round (--steady-interval 30 s)
    );
    expect((await get('node-2')).reason).toMatch(/^KubeProxy/);

    // The real scheduler keeps new pods off the gated node.
    await lab.admin.objects.apply({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'newcomers', namespace: 'default' },
      spec: {
        replicas: 6,
        selector: { matchLabels: { app: 'newcomers' } },
        template: {
          metadata: { labels: { app: 'newcomers' } },
          spec: { containers: [{ name: 'c', image: labImageRef('pause'), imagePullPolicy: 'Never' }] },
        },
      },
    });
    const placed = await waitFor(
      '6 newcomers scheduled',
      async () => {
        const pods = await lab.admin.objects.list<Pod>('v1', 'Pod', {
          namespace: 'default',
          labelSelector: 'app=newcomers',
        });
        return pods.length === 6 && pods.every((p) => p.spec?.nodeName) && pods;
      },
      60_000,
    );
    expect(placed.map((p) => p.spec?.nodeName)).not.toContain('node-2');

    await lab.startKubeProxy('node-2');
    await waitFor(
      'node-2 open again',
      async () => {
        const g = await get('node-2');
        return g.status === 'True' && !g.tainted;
      },
      30_000,
    );

    // Events prove the agent may create them (RBAC) and say what happened.
    const events = await lab.admin.objects.list<{
      reason?: string;
      regarding?: { name?: string };
      note?: string;
    }>('events.k8s.io/v1', 'Event');
    const mine = events.filter((e) => e.regarding?.name === 'node-2').map((e) => e.reason);
    expect(mine).toEqual(expect.arrayContaining(['DataPathGateClosed', 'DataPathGateOpened']));
    await lab.admin.objects.delete({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'newcomers', namespace: 'default' },
    });
  });

  it('an Unknown check (iptables-save missing) sets the condition Unknown and leaves the gate alone', async () => {
    const node = lab.node('node-1');
    await node.stopAgent();
    await node.startAgent(['--proxy-mode=iptables', '--iptables-save=/nonexistent/iptables-save']);
    await waitFor('node-1 Unknown', async () => (await get('node-1')).status === 'Unknown', 30_000);
    // No flapping: for five seconds it stays Unknown and untainted.
    for (let i = 0; i < 20; i++) {
      const g = await get('node-1');
      expect(g).toEqual({ status: 'Unknown', reason: 'IptablesSaveUnavailable', tainted: false });
      await new Promise((r) => setTimeout(r, 250));
    }
    await node.stopAgent();
    await node.startAgent();
    await waitFor('node-1 True again', async () => (await get('node-1')).status === 'True', 30_000);
  });

  it('breaker: with rules broken on 3 of 4 nodes, at most one is tainted and the others say BreakerOpen', async () => {
    const broken = ['node-2', 'node-3', 'node-4'];
    for (const n of broken) await breakKubeProxy(n);
    await waitFor(
      'all three report the failure',
      async () => {
        const gs = await Promise.all(broken.map(get));
        return gs.every((g) => g.status === 'False');
      },
      75_000, // next steady round (30 s) + closing rounds + the breaker's decision
    );
    // Let simultaneous decisions settle, then sample for a few seconds.
    await new Promise((r) => setTimeout(r, 3_000));
    for (let i = 0; i < 10; i++) {
      const gs = await Promise.all(broken.map(get));
      expect(gs.filter((g) => g.tainted).length).toBeLessThanOrEqual(1);
      expect(gs.filter((g) => !g.tainted).every((g) => g.reason === 'BreakerOpen')).toBe(true);
      await new Promise((r) => setTimeout(r, 300));
    }
    expect((await Promise.all(broken.map(get))).filter((g) => g.tainted)).toHaveLength(1);
    // The breaker's agents see each other through the gated label, which follows the taint exactly.
    for (const n of await lab.admin.nodes.list())
      expect(n.metadata?.labels?.[GATED_LABEL] === 'true', n.metadata?.name).toBe(gate(n).tainted);
    for (const n of broken) await lab.startKubeProxy(n);
    await waitFor(
      'all gates open',
      async () => (await lab.admin.nodes.list()).every((n) => gate(n).status === 'True' && !gate(n).tainted),
      60_000,
    );
    expect((await lab.admin.nodes.list()).filter((n) => n.metadata?.labels?.[GATED_LABEL])).toEqual([]);
  });
});
