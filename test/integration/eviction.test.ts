/** Eviction through the real API server, with PodDisruptionBudgets computed by the real disruption controller. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually, startTestControlPlane, type TestControlPlane } from '../support/control-plane.ts';

const NS = 'evict-test';

describe('eviction', () => {
  let t: TestControlPlane;

  beforeAll(async () => {
    t = await startTestControlPlane({ controllerManager: true });
    await t.admin.objects.create({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } });
    // The ServiceAccount controller must have made the namespace's default SA before pods can be created.
    await eventually('default ServiceAccount', () =>
      t.admin.objects.read({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: 'default', namespace: NS },
      }),
    );
  });
  afterAll(async () => {
    await t?.close();
  });

  /** Creates a pod bound to a node and writes its status as a kubelet would: Running and Ready. */
  async function readyPod(name: string, labels: Record<string, string>): Promise<string> {
    const created = await t.admin.objects.create<{
      apiVersion: string;
      kind: string;
      metadata: { name: string; namespace: string; labels: Record<string, string>; uid?: string };
      spec: unknown;
    }>({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NS, labels },
      spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'lab/tcp-server' }] },
    });
    const now = new Date();
    await t.admin.objects.patchPodStatus(NS, name, {
      phase: 'Running',
      podIP: '10.244.0.9',
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastTransitionTime: now },
        { type: 'ContainersReady', status: 'True', lastTransitionTime: now },
        { type: 'Ready', status: 'True', lastTransitionTime: now },
      ],
    });
    return created.metadata?.uid ?? '';
  }

  it('evicts a pod no budget protects', async () => {
    const uid = await readyPod('free', { app: 'free' });
    expect(await t.admin.eviction.evict(NS, 'free', uid)).toEqual({ kind: 'evicted' });
    const pod = await t.admin.objects.read({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'free', namespace: NS },
    });
    expect(pod?.metadata?.deletionTimestamp).toBeDefined();
  });

  it('answers already-gone for a pod that does not exist', async () => {
    expect(await t.admin.eviction.evict(NS, 'never-existed', 'f00dfeed-0000-4000-8000-000000000000')).toEqual(
      {
        kind: 'already-gone',
      },
    );
  });

  it('refuses to evict a pod re-created under the same name (stale UID precondition), as a typed result', async () => {
    const oldUid = await readyPod('again', { app: 'again' });
    await t.admin.objects.delete(
      { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'again', namespace: NS } },
      { gracePeriodSeconds: 0 },
    );
    await eventually('old pod gone', async () =>
      (await t.admin.objects.read({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'again', namespace: NS },
      })) === null
        ? true
        : undefined,
    );
    const newUid = await readyPod('again', { app: 'again' });
    expect(newUid).not.toBe(oldUid);
    expect(await t.admin.eviction.evict(NS, 'again', oldUid)).toMatchObject({ kind: 'uid-mismatch' });
    const pod = await t.admin.objects.read({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'again', namespace: NS },
    });
    expect(pod?.metadata?.deletionTimestamp).toBeUndefined();
    expect(await t.admin.eviction.evict(NS, 'again', newUid)).toEqual({ kind: 'evicted' });
  });

  it('returns a typed PDB refusal when minAvailable equals the ready replicas', async () => {
    const db0 = await readyPod('db-0', { app: 'db' });
    await readyPod('db-1', { app: 'db' });
    await t.admin.objects.create({
      apiVersion: 'policy/v1',
      kind: 'PodDisruptionBudget',
      metadata: { name: 'db', namespace: NS },
      spec: { minAvailable: 2, selector: { matchLabels: { app: 'db' } } },
    });
    // Wait for the real disruption controller to compute the budget.
    await eventually('PDB status from the disruption controller', async () => {
      const pdb = await t.admin.objects.read<{
        status?: { currentHealthy?: number; disruptionsAllowed?: number; observedGeneration?: number };
      }>({
        apiVersion: 'policy/v1',
        kind: 'PodDisruptionBudget',
        metadata: { name: 'db', namespace: NS },
      });
      return (
        pdb?.status?.observedGeneration === 1 &&
        pdb.status.currentHealthy === 2 &&
        pdb.status.disruptionsAllowed === 0
      );
    });
    const result = await t.admin.eviction.evict(NS, 'db-0', db0);
    expect(result).toMatchObject({
      kind: 'blocked-by-pdb',
      message: expect.stringMatching(/disruption budget/i),
    });
    // refused means untouched
    const pod = await t.admin.objects.read({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name: 'db-0', namespace: NS },
    });
    expect(pod?.metadata?.deletionTimestamp).toBeUndefined();
  });
});
