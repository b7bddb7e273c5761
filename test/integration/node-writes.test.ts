/** Taints, conditions and annotations written to real Nodes through the real API server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Taint, timeMs } from '../../src/core/objects.ts';
import { connect } from '../../src/kube/connect.ts';
import { startTestControlPlane, type TestControlPlane, testNode } from '../support/control-plane.ts';

const GATE: Taint = { key: 'netwarden.dev/datapath-unready', effect: 'NoSchedule' };
const CONDITION = 'netwarden.dev/DataPathReady';

describe('node writes', () => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane();
  });
  afterAll(async () => {
    await t?.close();
  });

  it('adds and removes a taint idempotently', async () => {
    await t.admin.objects.create(testNode('taint-idem'));
    const nodes = t.admin.nodes;
    expect(await nodes.setTaint('taint-idem', GATE, 'present')).toBe('changed');
    const rv = (await nodes.get('taint-idem'))?.metadata?.resourceVersion;
    expect(await nodes.setTaint('taint-idem', GATE, 'present')).toBe('unchanged');
    // an unchanged write sends nothing: the resourceVersion does not move
    expect((await nodes.get('taint-idem'))?.metadata?.resourceVersion).toBe(rv);
    // The API server's TaintNodesByCondition admission adds node.kubernetes.io/not-ready on create:
    // ours is added beside it, exactly once, and removing ours keeps it.
    const keys = async (): Promise<string[]> =>
      ((await nodes.get('taint-idem'))?.spec?.taints ?? []).map((x) => `${x.key}:${x.effect}`).sort();
    expect(await keys()).toEqual([`${GATE.key}:NoSchedule`, 'node.kubernetes.io/not-ready:NoSchedule']);
    expect(await nodes.setTaint('taint-idem', GATE, 'absent')).toBe('changed');
    expect(await nodes.setTaint('taint-idem', GATE, 'absent')).toBe('unchanged');
    expect(await keys()).toEqual(['node.kubernetes.io/not-ready:NoSchedule']);
  });

  it('never loses or duplicates a taint when writers race', async () => {
    await t.admin.objects.create(testNode('taint-race'));
    // Two independent clients, as two controllers would be.
    const a = connect({ kubeconfigPath: t.cp.adminKubeconfig }).nodes;
    const b = connect({ kubeconfigPath: t.cp.adminKubeconfig }).nodes;
    const keys = Array.from({ length: 12 }, (_, i) => `race.example/t${i}`);
    const writes = keys.flatMap((key, i) => [
      (i % 2 === 0 ? a : b).setTaint('taint-race', { key, effect: 'NoSchedule' }, 'present'),
      // everybody also adds the shared gate taint at the same time
      (i % 2 === 0 ? b : a).setTaint('taint-race', GATE, 'present'),
    ]);
    const results = await Promise.all(writes);
    const taints = (await a.get('taint-race'))?.spec?.taints ?? [];
    const seen = taints.map((x) => `${x.key}:${x.effect}`).sort();
    const admitted = 'node.kubernetes.io/not-ready:NoSchedule';
    expect(seen).toEqual(
      [...keys.map((k) => `${k}:NoSchedule`), `${GATE.key}:${GATE.effect}`, admitted].sort(),
    );
    // exactly one of the racing gate writers changed the node
    expect(results.filter((r, i) => i % 2 === 1 && r === 'changed')).toHaveLength(1);

    // and racing removals leave exactly the untouched ones
    await Promise.all(
      keys
        .slice(0, 6)
        .map((key, i) => (i % 2 ? a : b).setTaint('taint-race', { key, effect: 'NoSchedule' }, 'absent')),
    );
    const after = ((await a.get('taint-race'))?.spec?.taints ?? []).map((x) => x.key).sort();
    expect(after).toEqual([...keys.slice(6), GATE.key, 'node.kubernetes.io/not-ready'].sort());
  });

  it('keeps lastTransitionTime while the status holds and moves it on a flip', async () => {
    await t.admin.objects.create(testNode('cond'));
    const nodes = t.admin.nodes;
    const want = {
      type: CONDITION,
      status: 'False',
      reason: 'KubeProxyRulesMissing',
      message: 'missing 3 of 10',
    } as const;
    expect(await nodes.setCondition('cond', want)).toBe('changed');
    const first = (await nodes.get('cond'))?.status?.conditions?.find((c) => c.type === CONDITION);
    expect(first).toMatchObject({ status: 'False', reason: 'KubeProxyRulesMissing' });
    expect(await nodes.setCondition('cond', want)).toBe('unchanged');

    await new Promise((r) => setTimeout(r, 1_100)); // metav1.Time has one-second resolution
    expect(await nodes.setCondition('cond', { ...want, message: 'missing 1 of 10' })).toBe('changed');
    const second = (await nodes.get('cond'))?.status?.conditions?.find((c) => c.type === CONDITION);
    expect(second?.message).toBe('missing 1 of 10');
    expect(timeMs(second?.lastTransitionTime)).toBe(timeMs(first?.lastTransitionTime));

    await new Promise((r) => setTimeout(r, 1_100));
    expect(
      await nodes.setCondition('cond', {
        ...want,
        status: 'True',
        reason: 'DataPathVerified',
        message: 'ok',
      }),
    ).toBe('changed');
    const third = (await nodes.get('cond'))?.status?.conditions?.find((c) => c.type === CONDITION);
    expect(third?.status).toBe('True');
    expect(timeMs(third?.lastTransitionTime)).toBeGreaterThan(timeMs(first?.lastTransitionTime) ?? Infinity);
  });

  it('sets and removes annotations without touching others', async () => {
    await t.admin.objects.create({
      ...testNode('annot'),
      metadata: { name: 'annot', annotations: { keep: 'me' } },
    });
    const nodes = t.admin.nodes;
    expect(await nodes.setAnnotations('annot', { 'netwarden.dev/boot-id': 'b1' })).toBe('changed');
    expect(await nodes.setAnnotations('annot', { 'netwarden.dev/boot-id': 'b1' })).toBe('unchanged');
    expect(await nodes.setAnnotations('annot', { 'netwarden.dev/boot-id': null })).toBe('changed');
    expect((await nodes.get('annot'))?.metadata?.annotations).toEqual({ keep: 'me' });
  });

  it('records events.k8s.io Events for a Node and a Pod', async () => {
    await t.admin.events.emit({
      subject: { kind: 'Node', name: 'cond' },
      type: 'Warning',
      reason: 'DataPathGateClosed',
      action: 'Taint',
      note: 'kube-proxy rules missing for 3 services',
    });
    await t.admin.events.emit({
      subject: { kind: 'Pod', namespace: 'kube-system', name: 'some-pod' },
      type: 'Normal',
      reason: 'Recycled',
      action: 'Evict',
      note: 'x'.repeat(2000),
    });
    // Only the events this client reported: the API server's own controllers record events too
    // (e.g. ClusterIPNotAllocated for Service/kubernetes while its IP repair loop catches up).
    const events = (
      await t.admin.objects.list<{
        reason?: string;
        note?: string;
        reportingController?: string;
        regarding?: { kind?: string; name?: string };
      }>('events.k8s.io/v1', 'Event')
    ).filter((e) => e.reportingController === 'netwarden.dev/netwarden');
    expect(events.map((e) => `${e.regarding?.kind}/${e.regarding?.name} ${e.reason}`).sort()).toEqual([
      'Node/cond DataPathGateClosed',
      'Pod/some-pod Recycled',
    ]);
    expect(events.find((e) => e.reason === 'Recycled')?.note?.length).toBeLessThanOrEqual(1024);
  });

  it('counts Nodes, with and without a label selector (the breaker total)', async () => {
    const names = ['count-a', 'count-b', 'count-c'];
    for (const name of names) {
      await t.admin.objects.create({
        ...testNode(name),
        metadata: { name, labels: { 'netwarden.dev/test': 'true', pool: name === 'count-c' ? 'b' : 'a' } },
      });
    }
    const all = (await t.admin.nodes.list()).length;
    expect(all).toBeGreaterThanOrEqual(3);
    // one metadata-only item plus remainingItemCount, or pages where the server leaves that out
    expect(await t.admin.nodes.count()).toBe(all);
    expect(await t.admin.nodes.count('pool=a')).toBe(2);
    expect(await t.admin.nodes.count('pool=b,netwarden.dev/test')).toBe(1);
    expect(await t.admin.nodes.count('pool=none')).toBe(0);
  });

  it('reports a missing node clearly', async () => {
    await expect(t.admin.nodes.setTaint('no-such-node', GATE, 'present')).rejects.toThrow(
      'node no-such-node not found',
    );
    expect(await t.admin.nodes.get('no-such-node')).toBeNull();
  });
});
