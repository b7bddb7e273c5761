/**
 * `netwarden status` and `netwarden cleanup`, run as the real CLI against the real API server:
 * the Node state and Events are written the way the agent writes them (kube/nodes.ts,
 * kube/events.ts under the agent's reporting controller).
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  AGENT_CONTROLLER,
  CONDITION_TYPE,
  GATED_LABEL,
  TAINT_EFFECT,
  TAINT_KEY,
} from '../../src/core/gate.ts';
import { isClean, netwardenKeys } from '../../src/core/node-state.ts';
import { run } from '../../src/host/exec.ts';
import { connect, type KubeApis } from '../../src/kube/connect.ts';
import { startTestControlPlane, type TestControlPlane, testNode } from '../support/control-plane.ts';

const CLI = join(import.meta.dirname, '../../bin/netwarden');

describe('netwarden status and cleanup', () => {
  let t: TestControlPlane;
  let agent: KubeApis;

  const cli = (...args: string[]) =>
    run(CLI, [...args, '--kubeconfig', t.cp.adminKubeconfig], { timeoutMs: 60_000 });

  beforeAll(async () => {
    t = await startTestControlPlane();
    agent = connect({ kubeconfigPath: t.cp.adminKubeconfig, controller: AGENT_CONTROLLER });
    for (const name of ['gated', 'verified', 'fresh']) await t.admin.objects.create(testNode(name));
    await t.admin.objects.patchNodeStatus('gated', { nodeInfo: { bootID: 'boot-2' } });
    await t.admin.objects.patchNodeStatus('verified', { nodeInfo: { bootID: 'boot-1' } });

    await agent.events.emit({
      subject: { kind: 'Node', name: 'verified' },
      type: 'Warning',
      reason: 'DataPathGateClosed',
      action: 'AddTaint',
      note: 'Gate closed: NewBootNotVerified: boot boot-1 has not been verified yet',
    });
    await agent.nodes.setCondition('verified', {
      type: CONDITION_TYPE,
      status: 'True',
      reason: 'DataPathVerified',
      message: 'all checks pass',
    });
    await new Promise((r) => setTimeout(r, 1_100)); // boot→ready is measured in whole seconds at least
    await agent.nodes.setAnnotations('verified', {
      'netwarden.dev/boot-id': 'boot-1',
      'netwarden.dev/datapath-ready-at': new Date().toISOString(),
    });
    await agent.events.emit({
      subject: { kind: 'Node', name: 'verified' },
      type: 'Normal',
      reason: 'CrashLoopBackOff',
      action: 'Evict',
      note: 'Pod shop/api-1: Evicted by netwarden for a new network sandbox',
    });

    await agent.nodes.setTaint('gated', { key: TAINT_KEY, effect: TAINT_EFFECT }, 'present', {
      label: GATED_LABEL,
    });
    await agent.nodes.setAnnotations('gated', { 'netwarden.dev/boot-id': 'boot-2' });
    await agent.nodes.setCondition('gated', {
      type: CONDITION_TYPE,
      status: 'False',
      reason: 'NewBootNotVerified',
      message: 'boot boot-2 has not been verified yet',
    });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('shows every node as JSON', async () => {
    const res = await cli('status', '-o', 'json');
    expect(res.stderr).toBe('');
    expect(res.code).toBe(0);
    const doc = JSON.parse(res.stdout) as { nodes: Record<string, unknown>[] };
    const byNode = Object.fromEntries(doc.nodes.map((n) => [n.node, n]));
    expect(Object.keys(byNode)).toEqual(['fresh', 'gated', 'verified']);
    expect(byNode.gated).toMatchObject({
      gate: 'closed',
      tainted: true,
      reason: 'NewBootNotVerified',
      bootPending: true,
    });
    expect(byNode.verified).toMatchObject({
      gate: 'open',
      reason: 'DataPathVerified',
      bootPending: false,
      recycles: { count: 1, pods: ['shop/api-1'] },
    });
    expect(byNode.verified?.bootToReadySeconds).toBeGreaterThanOrEqual(1);
    expect(byNode.fresh).toMatchObject({ gate: 'none' });
  });

  it('shows a table with the gated node explained', async () => {
    const res = await cli('status');
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/^NODE\s+GATE\s+REASON/);
    expect(res.stdout).toMatch(/\ngated\s+closed\s+NewBootNotVerified\s+\S+\s+pending\s+0\n/);
    expect(res.stdout).toContain('  gated: boot boot-2 has not been verified yet');
    expect(res.stdout).toContain('  verified: recycled shop/api-1');
  });

  it('rejects a bad flag with a usage error', async () => {
    const res = await cli('status', '-o', 'yaml');
    expect(res.code).toBe(2);
    expect(res.stderr).toContain('--output: "yaml" is not one of text, json');
  });

  it('cleans every node, waiting for the agents first, and is idempotent', async () => {
    await t.admin.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'nw' } });
    // no controller-manager here: the namespace's default ServiceAccount is ours to create
    await t.admin.objects.create({
      apiVersion: 'v1',
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: 'nw' },
    });
    await t.admin.objects.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent-x', namespace: 'nw', labels: { app: 'agent' } },
      spec: { nodeName: 'gated', containers: [{ name: 'a', image: 'x' }] },
    });
    const dry = await cli('cleanup', '--dry-run');
    expect(dry.stdout).toContain('gated: would remove taint netwarden.dev/datapath-unready');
    expect(netwardenKeys((await t.admin.nodes.get('gated')) ?? {})).toMatchObject({
      taint: true,
      label: true,
    });

    // The agent pod never goes (no kubelet): cleanup waits its timeout, says so, cleans anyway.
    const res = await cli(
      'cleanup',
      '--wait-for-pods',
      'app=agent',
      '--namespace',
      'nw',
      '--wait-timeout',
      '2s',
    );
    expect(res.code).toBe(0);
    expect(res.stderr).toContain('1 pod(s) matching app=agent still there after 2s; cleaning anyway');
    expect(res.stdout).toContain(
      `gated: removed taint ${TAINT_KEY}; label ${GATED_LABEL}; condition ${CONDITION_TYPE}; annotations netwarden.dev/boot-id`,
    );
    for (const n of await t.admin.nodes.list())
      expect(isClean(netwardenKeys(n)), n.metadata?.name).toBe(true);
    // the API server's own taint stays
    expect(((await t.admin.nodes.get('gated'))?.spec?.taints ?? []).map((x) => x.key)).toEqual([
      'node.kubernetes.io/not-ready',
    ]);
    const again = await cli('cleanup');
    expect(again.stdout).toBe('no node carries netwarden state\n');
  });
});
