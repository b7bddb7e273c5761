/**
 * The chart's admission policies against the real API server: the agent's ServiceAccount, with
 * a token bound to a Pod on node A (as the kubelet's projected token is), may write netwarden's
 * keys on node A only (and the readiness-gate condition on node A's pods only); the uninstall clean-up identity may remove netwarden's keys on any node and
 * nothing else. The objects applied are the chart's, rendered by the pinned helm; the writes are
 * the ones the agent and `netwarden cleanup` send (kube/nodes.ts).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITION_TYPE, GATED_LABEL, TAINT_EFFECT, TAINT_KEY } from '../../src/core/gate.ts';
import { POD_NETWORK_READY } from '../../src/core/pod-readiness.ts';
import { connect, type KubeApis } from '../../src/kube/connect.ts';
import type { KubeObject } from '../../src/kube/objects.ts';
import type { Taint } from '../../src/kube/types.ts';
import { ensureBinaries } from '../../src/lab/binaries.ts';
import { admissionPoliciesOf, identityOf, NAMESPACE, renderChart } from '../../src/lab/chart.ts';
import {
  eventually,
  startTestControlPlane,
  type TestControlPlane,
  testNode,
} from '../support/control-plane.ts';

const GATE: Taint = { key: TAINT_KEY, effect: TAINT_EFFECT };
const OWN = 'node-a';
const OTHER = 'node-b';

describe('own-node admission policy (chart)', () => {
  let t: TestControlPlane;
  let agent: KubeApis;
  let unbound: KubeApis;
  let cleanup: KubeApis;

  beforeAll(async () => {
    t = await startTestControlPlane();
    const { paths } = await ensureBinaries();
    const objects = await renderChart({ helm: paths.helm });
    await t.admin.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NAMESPACE } });
    const apply = [
      ...identityOf(objects, 'agent'),
      ...identityOf(objects, 'cleanup'),
      ...admissionPoliciesOf(objects, 'agent'),
      ...admissionPoliciesOf(objects, 'cleanup'),
    ];
    for (const obj of apply) await t.admin.objects.apply(withoutHookAnnotations(obj));
    for (const name of [OWN, OTHER]) await t.admin.objects.create(testNode(name));

    // The agent's pod on node A (no kubelet runs it: the token only needs the Pod to exist).
    const pod = await t.admin.objects.create<KubeObject>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent-a', namespace: NAMESPACE },
      spec: {
        nodeName: OWN,
        serviceAccountName: 'netwarden-agent',
        containers: [{ name: 'agent', image: 'netwarden' }],
      },
    });
    await t.admin.objects.create({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'app-b', namespace: NAMESPACE },
      spec: {
        nodeName: OTHER,
        serviceAccountName: 'netwarden-agent',
        containers: [{ name: 'app', image: 'app' }],
      },
    });
    const sa = 'netwarden-agent';
    const bound = await t.admin.objects.serviceAccountToken(NAMESPACE, sa, 600, {
      name: 'agent-a',
      uid: pod.metadata?.uid ?? '',
    });
    agent = connect({ kubeconfigPath: t.cp.tokenKubeconfig(NAMESPACE, sa, bound) });
    const plain = await t.admin.objects.serviceAccountToken(NAMESPACE, sa, 600);
    const unboundCfg = t.cp.tokenKubeconfig(NAMESPACE, `${sa}-unbound`, plain);
    unbound = connect({ kubeconfigPath: unboundCfg });
    const cleanupSa = identityOf(objects, 'cleanup').find((o) => o.kind === 'ServiceAccount')?.metadata?.name;
    const cleanupToken = await t.admin.objects.serviceAccountToken(NAMESPACE, cleanupSa ?? '', 600);
    cleanup = connect({ kubeconfigPath: t.cp.tokenKubeconfig(NAMESPACE, cleanupSa ?? '', cleanupToken) });

    // Policies are enforced once the API server has loaded them: wait for the first denial (a
    // new value each try: an unchanged write sends no request).
    let attempt = 0;
    await eventually(
      'the own-node policy to be enforced',
      () =>
        agent.nodes.setAnnotations(OTHER, { 'netwarden.dev/boot-id': `probe-${attempt++}` }).then(
          () => false,
          (err: unknown) => String(err).includes('may write only the Node it runs on'),
        ),
      30_000,
    );
    await eventually(
      'the clean-up policy to be enforced',
      () =>
        cleanup.nodes.setAnnotations(OTHER, { 'example.com/x': `probe-${attempt++}` }).then(
          () => false,
          (err: unknown) => String(err).includes('only netwarden.dev/* annotations'),
        ),
      30_000,
    );
    await eventually(
      'the own-pods policy to be enforced',
      () =>
        agent.pods
          .setPodCondition(NAMESPACE, 'app-b', {
            type: POD_NETWORK_READY,
            status: 'False',
            reason: 'Probe',
            message: 'x',
          })
          .then(
            () => false,
            (err: unknown) => String(err).includes('status only of pods on the Node it runs on'),
          ),
      30_000,
    );
    await t.admin.nodes.setAnnotations(OTHER, { 'example.com/x': null, 'netwarden.dev/boot-id': null });
  });
  afterAll(async () => {
    await t?.close();
  });

  it("passes the agent's normal writes on its own node", async () => {
    expect(await agent.nodes.setTaint(OWN, GATE, 'present')).toBe('changed');
    expect(
      await agent.nodes.setAnnotations(OWN, {
        'netwarden.dev/boot-id': 'boot-1',
        'netwarden.dev/datapath-ready-at': null,
      }),
    ).toBe('changed');
    const condition = {
      type: CONDITION_TYPE,
      status: 'False',
      reason: 'NewBootNotVerified',
      message: 'x',
    } as const;
    expect(await agent.nodes.setCondition(OWN, condition)).toBe('changed');
    expect(
      await agent.nodes.setCondition(OWN, { ...condition, status: 'True', reason: 'DataPathVerified' }),
    ).toBe('changed');
    expect(
      await agent.nodes.setAnnotations(OWN, { 'netwarden.dev/datapath-ready-at': '2026-01-01T00:00:00Z' }),
    ).toBe('changed');
    expect(await agent.nodes.setTaint(OWN, GATE, 'absent')).toBe('changed');
    const node = await t.admin.nodes.get(OWN);
    expect(node?.metadata?.annotations?.['netwarden.dev/boot-id']).toBe('boot-1');
    expect(node?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.status).toBe('True');
    expect((node?.spec?.taints ?? []).map((x) => x.key)).not.toContain(TAINT_KEY);
  });

  it('passes the gated label with the taint on its own node, on and off, and on its own', async () => {
    const label = { label: GATED_LABEL };
    const labels = async () => (await t.admin.nodes.get(OWN))?.metadata?.labels ?? {};
    expect(await agent.nodes.setTaint(OWN, GATE, 'present', label)).toBe('changed');
    expect((await labels())[GATED_LABEL]).toBe('true');
    expect(await agent.nodes.setTaint(OWN, GATE, 'absent', label)).toBe('changed');
    expect(await labels()).not.toHaveProperty(GATED_LABEL);
    // the label alone, brought in step with a taint placed without it
    expect(await agent.nodes.setTaint(OWN, GATE, 'present')).toBe('changed');
    expect(await agent.nodes.setTaint(OWN, GATE, 'keep', label)).toBe('changed');
    expect((await labels())[GATED_LABEL]).toBe('true');
    expect(await agent.nodes.setTaint(OWN, GATE, 'absent', label)).toBe('changed');
    expect(await labels()).toEqual({ 'netwarden.dev/test': 'true' });
    // on another node, not even the label
    await expect(agent.nodes.setTaint(OTHER, GATE, 'present', label)).rejects.toThrow(
      'may write only the Node it runs on',
    );
    expect((await t.admin.nodes.get(OTHER))?.metadata?.labels).not.toHaveProperty(GATED_LABEL);
  });

  it('denies every write to another node', async () => {
    await expect(agent.nodes.setTaint(OTHER, GATE, 'present')).rejects.toThrow(
      `may write only the Node it runs on: this token is bound to node ${OWN}, not ${OTHER}`,
    );
    await expect(
      agent.nodes.setCondition(OTHER, { type: CONDITION_TYPE, status: 'False', reason: 'X', message: 'x' }),
    ).rejects.toThrow('may write only the Node it runs on');
    await expect(agent.nodes.setAnnotations(OTHER, { 'netwarden.dev/boot-id': 'x' })).rejects.toThrow(
      'may write only the Node it runs on',
    );
    expect(
      (await t.admin.nodes.get(OTHER))?.metadata?.annotations?.['netwarden.dev/boot-id'],
    ).toBeUndefined();
  });

  it('denies writes outside netwarden keys on its own node', async () => {
    await expect(
      agent.objects.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: OWN, labels: { evil: 'yes' } },
      }),
    ).rejects.toThrow('may not change Node labels other than netwarden.dev/gated');
    // its own label key beside another label, or with another value: denied as a whole
    await expect(
      agent.objects.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: OWN, labels: { [GATED_LABEL]: 'true', 'example.com/other': 'x' } },
      }),
    ).rejects.toThrow('may not change Node labels other than netwarden.dev/gated');
    await expect(
      agent.objects.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: OWN, labels: { [GATED_LABEL]: 'yes' } },
      }),
    ).rejects.toThrow('may only have the value "true"');
    // nor may it add or remove any other label by the way it writes its own
    await expect(agent.nodes.setTaint(OWN, GATE, 'present', { label: 'example.com/x' })).rejects.toThrow(
      'may not change Node labels other than netwarden.dev/gated',
    );
    await expect(agent.nodes.setTaint(OWN, GATE, 'keep', { label: 'netwarden.dev/test' })).rejects.toThrow(
      'may not change Node labels other than netwarden.dev/gated',
    );
    await expect(
      agent.nodes.setTaint(OWN, { key: 'example.com/other', effect: 'NoSchedule' }, 'present'),
    ).rejects.toThrow('only its own taint');
    await expect(
      agent.nodes.setTaint(OWN, { key: TAINT_KEY, effect: 'NoExecute' }, 'present'),
    ).rejects.toThrow('only have the NoSchedule effect');
    await expect(
      agent.nodes.setCondition(OWN, { type: 'Ready', status: 'False', reason: 'Evil', message: 'x' }),
    ).rejects.toThrow('only its own condition');
    await expect(agent.nodes.setAnnotations(OWN, { 'example.com/other': 'x' })).rejects.toThrow(
      'only netwarden.dev/* annotations',
    );
    // The kubelet's own taint on the node (not-ready, added at creation) cannot be removed either.
    await expect(
      agent.nodes.setTaint(OWN, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }, 'absent'),
    ).rejects.toThrow('only its own taint');
    const node = await t.admin.nodes.get(OWN);
    expect(node?.metadata?.labels?.evil).toBeUndefined();
    expect(node?.metadata?.annotations?.['example.com/other']).toBeUndefined();
  });

  it('denies a token that is not bound to a pod (no node name to check)', async () => {
    await expect(unbound.nodes.setAnnotations(OWN, { 'netwarden.dev/boot-id': 'x' })).rejects.toThrow(
      'not a pod-bound token',
    );
  });

  it('lets the clean-up identity remove netwarden keys on any node, and nothing else', async () => {
    await t.admin.nodes.setTaint(OTHER, GATE, 'present');
    await t.admin.nodes.setAnnotations(OTHER, { 'netwarden.dev/boot-id': 'b' });
    await t.admin.nodes.setCondition(OTHER, {
      type: CONDITION_TYPE,
      status: 'False',
      reason: 'X',
      message: 'x',
    });
    await t.admin.nodes.setTaint(OTHER, GATE, 'keep', { label: GATED_LABEL }); // labelled too
    expect((await t.admin.nodes.get(OTHER))?.metadata?.labels?.[GATED_LABEL]).toBe('true');
    expect(await cleanup.nodes.setTaint(OTHER, GATE, 'absent', { label: GATED_LABEL })).toBe('changed');
    expect((await t.admin.nodes.get(OTHER))?.metadata?.labels).not.toHaveProperty(GATED_LABEL);
    expect(await cleanup.nodes.setAnnotations(OTHER, { 'netwarden.dev/boot-id': null })).toBe('changed');
    expect(await cleanup.nodes.removeCondition(OTHER, CONDITION_TYPE)).toBe('changed');
    expect(await cleanup.nodes.removeCondition(OTHER, CONDITION_TYPE)).toBe('unchanged');
    const node = await t.admin.nodes.get(OTHER);
    expect((node?.status?.conditions ?? []).some((c) => c.type === CONDITION_TYPE)).toBe(false);
    await expect(
      cleanup.objects.apply({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: { name: OTHER, labels: { evil: 'yes' } },
      }),
    ).rejects.toThrow('may not change Node labels other than netwarden.dev/gated');
    await expect(
      cleanup.nodes.setTaint(OTHER, { key: 'node.kubernetes.io/not-ready', effect: 'NoSchedule' }, 'absent'),
    ).rejects.toThrow('only its own taint');
  });

  it("sets the readiness-gate condition on its own node's pods only, and no other condition", async () => {
    const ready = {
      type: POD_NETWORK_READY,
      status: 'True',
      reason: 'PodNetworkVerified',
      message: 'probe from the pod passed',
    };
    expect(await agent.pods.setPodCondition(NAMESPACE, 'agent-a', ready)).toBe('changed');
    const pod = await t.admin.objects.read<KubeObject & { status?: { conditions?: { type: string }[] } }>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'agent-a', namespace: NAMESPACE },
    });
    expect(pod?.status?.conditions?.map((c) => c.type)).toContain(POD_NETWORK_READY);
    await expect(agent.pods.setPodCondition(NAMESPACE, 'app-b', ready)).rejects.toThrow(
      `status only of pods on the Node it runs on: this token is bound to node ${OWN}, the pod is on ${OTHER}`,
    );
    await expect(
      agent.pods.setPodCondition(NAMESPACE, 'agent-a', {
        type: 'Ready',
        status: 'True',
        reason: 'Evil',
        message: 'x',
      }),
    ).rejects.toThrow('only its own pod condition');
  });

  it('leaves other users alone', async () => {
    await t.admin.objects.apply({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name: OTHER, labels: { ok: 'yes' } },
    });
    expect((await t.admin.nodes.get(OTHER))?.metadata?.labels?.ok).toBe('yes');
  });
});

/** Hook objects are applied directly here: drop helm's hook annotations (meaningless to the API). */
function withoutHookAnnotations(obj: KubeObject): KubeObject {
  const annotations = Object.fromEntries(
    Object.entries(obj.metadata?.annotations ?? {}).filter(([k]) => !k.startsWith('helm.sh/hook')),
  );
  return { ...obj, metadata: { ...obj.metadata, annotations } };
}
