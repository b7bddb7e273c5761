/**
 * Issue 11's proof in the lab: the image built from this checkout, imported into every node's
 * containerd, and the chart installed with the pinned `helm install` into a lab of real kubelets.
 * The kubelet runs the agents as DaemonSet pods under the chart's ServiceAccount; their own
 * pod-bound tokens (read from the containers' root) meet the chart's admission policies; a reboot
 * gates and ungates the node under the chart-installed agent; `helm uninstall` runs the
 * post-delete clean-up Job (the image's `netwarden cleanup`) and leaves no netwarden key.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONDITION_TYPE, TAINT_EFFECT, TAINT_KEY } from '../../src/core/gate.ts';
import { isClean, netwardenKeys } from '../../src/core/node-state.ts';
import type { Node, Pod } from '../../src/core/objects.ts';
import { POD_NETWORK_READY } from '../../src/core/pod-readiness.ts';
import { connect, type KubeApis } from '../../src/kube/connect.ts';
import type { KubeObject } from '../../src/kube/objects.ts';
import { AGENT_SERVICE_ACCOUNT, helmReleases, readAgentToken } from '../../src/lab/agent-deploy.ts';
import { NAMESPACE } from '../../src/lab/chart.ts';
import { Lab } from '../../src/lab/lab.ts';
import { waitFor } from '../../src/lab/wait.ts';
import { downAndExpectClean } from '../support/lab.ts';

const OWN_NODE_POLICY = 'netwarden-agent-own-node';
const OWN_PODS_POLICY = 'netwarden-agent-own-pods';

const gate = (n: Node | null | undefined) => ({
  status: n?.status?.conditions?.find((c) => c.type === CONDITION_TYPE)?.status,
  tainted: (n?.spec?.taints ?? []).some((t) => t.key === TAINT_KEY),
});
type AgentPod = Pod & {
  spec?: Pod['spec'] & {
    serviceAccountName?: string;
    containers: (NonNullable<Pod['spec']>['containers'][number] & {
      env?: { name: string; value?: string }[];
    })[];
  };
};

describe('the chart installed with helm into the real-kubelet lab', () => {
  let lab: Lab;
  const agentOn = async (node: string): Promise<AgentPod> => {
    const pod = (await lab.agentPods()).find(
      (p) => p.spec?.nodeName === node && !p.metadata?.deletionTimestamp,
    );
    if (!pod) throw new Error(`no agent pod on ${node}`);
    return pod as AgentPod;
  };
  const gateOf = (name: string) => lab.admin.nodes.get(name).then(gate);

  beforeAll(async () => {
    lab = await Lab.up({ nodes: 2, netwarden: { deploy: 'helm' } });
    await waitFor(
      'every gate open under the helm-installed agents',
      async () => (await lab.admin.nodes.list()).every((n) => gate(n).status === 'True' && !gate(n).tainted),
      90_000,
    );
  }, 900_000);

  afterAll(() => downAndExpectClean(lab));

  it("runs one Ready agent pod per node from the imported image, under the chart's ServiceAccount, as helm's release", async () => {
    const releases = await helmReleases({
      helm: lab.binaries.paths.helm,
      kubeconfig: lab.cp.adminKubeconfig,
      runDir: lab.run.dir,
    });
    expect(releases.map((r) => [r.name, r.status])).toEqual([['netwarden', 'deployed']]);
    const pods = (await lab.agentPods()) as AgentPod[];
    expect(pods.map((p) => p.spec?.nodeName).sort()).toEqual(['node-1', 'node-2']);
    for (const p of pods) {
      expect(p.metadata?.ownerReferences?.map((o) => `${o.kind}/${o.name}`)).toEqual([
        'DaemonSet/netwarden-agent',
      ]);
      expect(p.spec?.serviceAccountName).toBe(AGENT_SERVICE_ACCOUNT);
      expect(p.spec?.hostNetwork).toBe(true);
      const c = p.spec?.containers.find((x) => x.name === 'agent');
      expect(c?.image).toBe(lab.agentImage?.name);
      expect(c?.imagePullPolicy).toBe('Never');
      // The API server's lab address, not the ClusterIP (a rebooted node has no rules for it yet).
      expect(c?.env?.find((e) => e.name === 'KUBERNETES_SERVICE_HOST')?.value).toBe(lab.apiServer.host);
      expect(c?.env?.find((e) => e.name === 'KUBERNETES_SERVICE_PORT')?.value).toBe(
        String(lab.apiServer.port),
      );
      // Ready = the kubelet's readiness probe (GET /readyz on the metrics port) passed.
      expect(p.status?.phase).toBe('Running');
      expect(p.status?.conditions?.find((x) => x.type === 'Ready')?.status).toBe('True');
      expect(p.status?.containerStatuses?.find((x) => x.name === 'agent')?.ready).toBe(true);
    }
    // The agents wrote their keys: the condition and the boot annotation on every node.
    for (const n of await lab.admin.nodes.list()) {
      const keys = netwardenKeys(n);
      expect(keys.condition).toBe(true);
      expect(keys.annotations).toContain('netwarden.dev/boot-id');
    }
  });

  describe("the agent pod's own token under the chart's admission policies", () => {
    let agent: KubeApis;
    beforeAll(async () => {
      const pod = await agentOn('node-1');
      const token = await readAgentToken(pod.metadata?.uid ?? '');
      expect(token.split('.')).toHaveLength(3);
      agent = connect({
        kubeconfigPath: lab.cp.tokenKubeconfig(NAMESPACE, AGENT_SERVICE_ACCOUNT, token, lab.cp.server),
      });
    });

    it('denies a patch of another node, naming the policy', async () => {
      const denied = new RegExp(
        `ValidatingAdmissionPolicy '${OWN_NODE_POLICY}'.*may write only the Node it runs on: this token is bound to node node-1, not node-2`,
      );
      await expect(
        agent.nodes.setAnnotations('node-2', { 'netwarden.dev/boot-id': 'forged' }),
      ).rejects.toThrow(denied);
      await expect(
        agent.nodes.setTaint('node-2', { key: TAINT_KEY, effect: TAINT_EFFECT }, 'present'),
      ).rejects.toThrow(denied);
      await expect(
        agent.nodes.setCondition('node-2', {
          type: CONDITION_TYPE,
          status: 'False',
          reason: 'Forged',
          message: 'x',
        }),
      ).rejects.toThrow(denied);
      const other = await lab.admin.nodes.get('node-2');
      expect(other?.metadata?.annotations?.['netwarden.dev/boot-id']).not.toBe('forged');
      expect(gate(other).tainted).toBe(false);
    });

    it('denies a label write on its own node, naming the policy', async () => {
      await expect(
        agent.objects.apply({
          apiVersion: 'v1',
          kind: 'Node',
          metadata: { name: 'node-1', labels: { evil: 'yes' } },
        }),
      ).rejects.toThrow(
        new RegExp(`ValidatingAdmissionPolicy '${OWN_NODE_POLICY}'.*may not change Node labels`),
      );
      expect((await lab.admin.nodes.get('node-1'))?.metadata?.labels?.evil).toBeUndefined();
    });

    it('denies a pod status write on another node, naming the policy', async () => {
      const other = await agentOn('node-2');
      await expect(
        agent.pods.setPodCondition(NAMESPACE, other.metadata?.name ?? '', {
          type: POD_NETWORK_READY,
          status: 'False',
          reason: 'Forged',
          message: 'x',
        }),
      ).rejects.toThrow(
        new RegExp(
          `ValidatingAdmissionPolicy '${OWN_PODS_POLICY}'.*status only of pods on the Node it runs on`,
        ),
      );
    });

    it('passes its normal writes on its own node: its annotation, its condition, its taint', async () => {
      expect(await agent.nodes.setAnnotations('node-1', { 'netwarden.dev/lab-probe': 'x' })).toBe('changed');
      expect(await agent.nodes.setAnnotations('node-1', { 'netwarden.dev/lab-probe': null })).toBe('changed');
      const current = (await lab.admin.nodes.get('node-1'))?.status?.conditions?.find(
        (c) => c.type === CONDITION_TYPE,
      );
      expect(
        await agent.nodes.setCondition('node-1', {
          type: CONDITION_TYPE,
          status: 'True',
          reason: current?.reason ?? 'DataPathVerified',
          message: 'written by the e2e test with the agent pod token',
        }),
      ).toBe('changed');
      expect(await agent.nodes.setTaint('node-1', { key: TAINT_KEY, effect: TAINT_EFFECT }, 'present')).toBe(
        'changed',
      );
      // The agent, whose gate is open, may take its taint off first: either way it goes.
      expect(['changed', 'unchanged']).toContain(
        await agent.nodes.setTaint('node-1', { key: TAINT_KEY, effect: TAINT_EFFECT }, 'absent'),
      );
      expect(gate(await lab.admin.nodes.get('node-1')).tainted).toBe(false);
    });
  });

  it('after a reboot the kubelet runs the agent pod again; the gate closes at boot and opens once the data path is ready', async () => {
    const before = await agentOn('node-2');
    const bootBefore = (await lab.admin.nodes.get('node-2'))?.status?.nodeInfo?.bootID;
    const rebootAt = Date.now();
    await lab.reboot('node-2', { downtimeMs: 1_000, kubeProxyDelayMs: 15_000, cniReadyDelayMs: 2_000 });
    await waitFor(
      'node-2 gated on its new boot',
      async () => {
        const g = await gateOf('node-2');
        return g.status === 'False' && g.tainted;
      },
      60_000,
      250,
    );
    const closedAt = Date.now();
    // The kube-proxy pod of the new boot is not running yet: the agent closed the gate before it.
    expect(closedAt - rebootAt).toBeLessThan(15_000 + 1_000 + 10_000);
    await waitFor(
      'node-2 open again',
      async () => {
        const g = await gateOf('node-2');
        return g.status === 'True' && !g.tainted;
      },
      120_000,
      250,
    );
    await lab.waitAgentsReady(60_000);
    const after = await agentOn('node-2');
    // The same DaemonSet pod, restarted by the kubelet on the new boot (no CNI needed: host network).
    expect(after.metadata?.uid).toBe(before.metadata?.uid);
    const started = after.status?.containerStatuses?.find((c) => c.name === 'agent')?.state?.running
      ?.startedAt;
    expect(Date.parse(String(started))).toBeGreaterThan(rebootAt - 1_000);
    expect((await lab.admin.nodes.get('node-2'))?.status?.nodeInfo?.bootID).not.toBe(bootBefore);
  }, 300_000);

  it('helm uninstall runs the clean-up Job: no netwarden key on any node, the Job and its objects gone', async () => {
    // A gated node at uninstall time: reboot node-2 with kube-proxy held back for longer than the test.
    await lab.reboot('node-2', { downtimeMs: 1_000, kubeProxyDelayMs: 600_000, cniReadyDelayMs: 2_000 });
    await waitFor(
      'node-2 gated',
      async () => {
        const g = await gateOf('node-2');
        return g.status === 'False' && g.tainted;
      },
      60_000,
      250,
    );
    for (const n of await lab.admin.nodes.list()) expect(isClean(netwardenKeys(n))).toBe(false);

    await lab.helmUninstallAgents();

    // helm returned after the hook Job succeeded: the keys are gone now, not eventually.
    for (const n of await lab.admin.nodes.list()) {
      expect({ node: n.metadata?.name, keys: netwardenKeys(n) }).toEqual({
        node: n.metadata?.name,
        keys: { taint: false, label: false, condition: false, annotations: [] },
      });
    }
    expect(
      await helmReleases({
        helm: lab.binaries.paths.helm,
        kubeconfig: lab.cp.adminKubeconfig,
        runDir: lab.run.dir,
      }),
    ).toEqual([]);
    // The hook's objects (deleted by helm on success) and the release's own.
    const left = async (apiVersion: string, kind: string, namespaced: boolean): Promise<string[]> =>
      (await lab.admin.objects.list<KubeObject>(apiVersion, kind, namespaced ? { namespace: NAMESPACE } : {}))
        .filter((o) => o.metadata?.labels?.['app.kubernetes.io/name'] === 'netwarden')
        .map((o) => `${kind}/${o.metadata?.name}`);
    const kinds: [string, string, boolean][] = [
      ['batch/v1', 'Job', true],
      ['v1', 'ServiceAccount', true],
      ['rbac.authorization.k8s.io/v1', 'Role', true],
      ['rbac.authorization.k8s.io/v1', 'RoleBinding', true],
      ['rbac.authorization.k8s.io/v1', 'ClusterRole', false],
      ['rbac.authorization.k8s.io/v1', 'ClusterRoleBinding', false],
      ['admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicy', false],
      ['admissionregistration.k8s.io/v1', 'ValidatingAdmissionPolicyBinding', false],
      ['apps/v1', 'DaemonSet', true],
    ];
    for (const [v, k, ns] of kinds) expect(await left(v, k, ns)).toEqual([]);
    // The Job ran to completion (its Events outlive it).
    const jobEvents = await lab.admin.objects.list<{ reason?: string }>('v1', 'Event', {
      namespace: NAMESPACE,
      fieldSelector: 'involvedObject.kind=Job,involvedObject.name=netwarden-cleanup',
    });
    expect(jobEvents.map((e) => e.reason)).toContain('Completed');
    // The Job's and the agents' pods go with their owners (garbage collection, bounded).
    await waitFor(
      'the clean-up and agent pods to be gone',
      async () =>
        (
          await lab.admin.objects.list<Pod>('v1', 'Pod', {
            namespace: NAMESPACE,
            labelSelector: 'app.kubernetes.io/name=netwarden',
          })
        ).length === 0,
      60_000,
      500,
    );
  }, 400_000);
});
