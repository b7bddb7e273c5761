/**
 * The field failure, reproduced on real nodes: the real kubelet and containerd recreate the pods
 * of a hard-rebooted node, real kube-proxy (a DaemonSet pod held by --kube-proxy-delay) programs
 * the rules, the real CNI plugins wire the pods. Real kubelet timing (back-off 10 s doubling).
 */
import { describe, expect, it } from 'vitest';
import { listNetns } from '../../src/lab/network.ts';
import {
  REBOOT_RACE_DEFAULTS,
  type RebootRaceReport,
  runRebootRace,
} from '../../src/lab/scenarios/reboot-race.ts';

const FIELD_FAULTS = ['cni-config-persisted', 'early-pods-lose-route'] as const;

/** Common facts of every run: real kubelets, a new boot ID on the rebooted node only. */
function expectRealNodes(report: RebootRaceReport): void {
  expect(report.nodes.map((n) => n.name)).toEqual(['node-1', 'node-2']);
  for (const n of report.nodes) {
    expect(n.kubeletVersion).toBe('v1.36.5');
    expect(n.containerRuntimeVersion).toMatch(/^containerd:\/\/1\.\d+\.\d+/);
    expect(n.bootIds[0]).toMatch(/^[0-9a-f-]{36}$/);
  }
  const [n1, n2] = report.nodes;
  expect(n1?.bootIds[1]).toBe(n1?.bootIds[0]);
  expect(n2?.bootIds[1]).not.toBe(n2?.bootIds[0]);
}

describe('reboot-race', () => {
  it('with a persisted CNI config and early-pods-lose-route: broken pods resolve DNS, cannot connect, restarts do not heal, delete does', async () => {
    const report = await runRebootRace({ ...REBOOT_RACE_DEFAULTS, faults: [...FIELD_FAULTS] });
    const s = report.summary;
    expectRealNodes(report);
    const onRebooted = (pod: string) => report.timeline.some((e) => e.pod === pod && e.node === 'node-2');

    // Both api-client pods of node-2 got their network before the CNI was ready and stay broken.
    expect(s.brokenPods.map((b) => b.pod.replace(/-[a-z0-9]+-[a-z0-9]+$/, ''))).toEqual([
      'default/api-client',
      'default/api-client',
    ]);
    expect(s.brokenPods.every((b) => onRebooted(b.pod))).toBe(true);
    expect(s.dnsResolvesInBrokenPods).toBe(true);
    expect(s.tcpFailsInBrokenPods).toBe(true);
    for (const b of s.brokenPods) {
      expect(b.dns.detail).toContain('-> 10.96.0.1 via 10.96.0.10');
      expect(b.tcp.detail).toMatch(/^connect 10\.96\.0\.1:443: ENETUNREACH/);
      // the kubelet's restart after boot plus crash-loop restarts (10 s, 20 s back-off) in the window
      expect(b.restartCount).toBeGreaterThanOrEqual(3);
    }
    expect(report.timeline.filter((e) => e.event === 'crash-loop-back-off').length).toBeGreaterThanOrEqual(4);
    expect(s.healedByRestart).toBe(0);
    expect(s.allReadyAtMs).toBeNull();
    // The whole data path came back (rules and CNI), those pods did not.
    const cniReady = report.timeline.find((e) => e.event === 'cni-ready')?.tMs ?? Infinity;
    expect(s.dataPathReadyAtMs).toBeGreaterThanOrEqual(cniReady);
    expect(s.dataPathReadyAtMs).toBeGreaterThan(REBOOT_RACE_DEFAULTS.kubeProxyDelayMs);
    // pods[]: sandboxed before the CNI was ready = broken; the early one after it = healthy.
    const pod = (prefix: string) => report.pods.filter((p) => p.name.startsWith(prefix));
    for (const p of pod('default/api-client-').filter((x) => (x.networkSetUpAtMs ?? Infinity) < cniReady))
      expect(p.brokenAfterDataPathReady).toBe(true);
    const early = pod('default/early-ok-');
    expect(early).toHaveLength(1);
    expect(early[0]?.networkSetUpAtMs ?? -1).toBeLessThan(s.dataPathReadyAtMs ?? 0);
    expect(early[0]?.brokenAfterDataPathReady).toBe(false);
    expect(early[0]?.readyAtMs).not.toBeNull();
    expect(pod('kube-system/kube-proxy-')[0]?.owner).toBe('DaemonSet/kube-proxy');
    // The control experiment: a new sandbox heals.
    expect(s.healedByDelete).toBe(1);
    expect(s.controlExperiment?.replacement).toMatch(/^default\/api-client-/);
    expect(await listNetns(report.params.labRun)).toEqual([]);
  });

  it('without faults, pods that crashed before kube-proxy synced heal by restart', async () => {
    // No config survives, so the pods wait for the CNI (4 s), then crash until kube-proxy (12 s).
    const report = await runRebootRace({
      ...REBOOT_RACE_DEFAULTS,
      cniReadyDelayMs: 4_000,
      kubeProxyDelayMs: 12_000,
      observeMs: 45_000,
    });
    const s = report.summary;
    expect(s.brokenPods).toEqual([]);
    expect(s.healedByRestart).toBe(2);
    expect(s.dataPathReadyAtMs).toBeGreaterThan(12_000);
    expect(s.allReadyAtMs).toBeGreaterThan(s.dataPathReadyAtMs ?? Infinity);
    expect(s.controlExperiment).toBeNull();
    // Without a persisted config nobody got network before the CNI daemon was ready.
    const cniReady = report.timeline.find((e) => e.event === 'cni-ready')?.tMs ?? Infinity;
    for (const p of report.pods.filter((x) => !x.name.startsWith('kube-system/')))
      expect(p.networkSetUpAtMs ?? Infinity).toBeGreaterThanOrEqual(cniReady - 1000);
    expect(report.pods.every((p) => p.brokenAfterDataPathReady !== true)).toBe(true);
  });
});

describe('reboot-race with netwarden on', () => {
  it('gates the node from the new boot until the data path is ready, then recycles exactly the broken pods, PDB-safe', async () => {
    const report = await runRebootRace({
      ...REBOOT_RACE_DEFAULTS,
      faults: [...FIELD_FAULTS],
      netwarden: true,
      tcpServers: 4,
      observeMs: 60_000,
    });
    const s = report.summary;
    expectRealNodes(report);
    // The chart's agents, installed with helm and run by the kubelet (the scenario's default).
    expect(s.agentDeployedBy).toBe('helm');
    expect(report.pods.find((p) => p.name.startsWith('netwarden/netwarden-agent-'))?.owner).toBe(
      'DaemonSet/netwarden-agent',
    );
    const kubeProxyReady =
      report.pods.find((p) => p.name.startsWith('kube-system/kube-proxy-'))?.readyAtMs ?? Infinity;
    // closed before kube-proxy was even running on the new boot, opened once the whole data path was ready
    expect(s.gateClosedAtMs).not.toBeNull();
    expect(s.gateClosedAtMs ?? Infinity).toBeLessThan(kubeProxyReady);
    expect(s.dataPathReadyAtMs).not.toBeNull();
    expect(s.gateOpenedAtMs ?? -1).toBeGreaterThan(kubeProxyReady);
    expect(s.gateReactionMs).not.toBeNull();
    const readyAtMs = Date.parse(s.datapathReadyAtAnnotation ?? '') - Date.parse(report.params.rebootAt);
    expect(readyAtMs).toBeGreaterThan(kubeProxyReady - 1000);
    expect(readyAtMs).toBeLessThanOrEqual((s.gateOpenedAtMs ?? 0) + 50);

    // Recycled exactly the broken controller-owned pods, touched no healthy one (checkable from pods[]).
    const recycled = report.pods.filter((p) => p.recycledAtMs !== null).map((p) => p.name);
    const brokenOwned = report.pods
      .filter((p) => p.brokenAfterDataPathReady === true && p.owner?.startsWith('ReplicaSet/'))
      .map((p) => p.name);
    expect(recycled.sort()).toEqual(brokenOwned.sort());
    expect(recycled.filter((p) => p.includes('api-client'))).toHaveLength(2);
    expect(recycled.filter((p) => p.includes('echo'))).toHaveLength(2);
    expect(
      report.pods.filter((p) => p.brokenAfterDataPathReady === false && p.recycledAtMs !== null),
    ).toEqual([]);
    expect((s.recycled ?? []).every((r) => r.node === 'node-2')).toBe(true);
    const early = report.pods.find((p) => p.name.startsWith('default/early-ok-'));
    expect(early?.brokenAfterDataPathReady).toBe(false);
    expect(early?.recycledAtMs).toBeNull();
    expect(s.untouchedHealthy).toBeGreaterThanOrEqual(1);
    // The pod readiness gate on the real kubelet: the early pod lists netwarden.dev/PodNetworkReady.
    // Its containers are ready long before kube-proxy starts, but the pod is not Ready, nor a ready
    // endpoint of its Service, until the agent's probe from inside it passes — which it cannot
    // before kube-proxy (20 s after the boot) has programmed the node. (Condition times are the API's
    // whole seconds.)
    expect(early?.podNetworkFalseReasons).toContain('PodNetworkProbeFailing');
    expect(early?.containersReadyAtMs).not.toBeNull();
    expect(early?.podNetworkReadyAtMs ?? -1).toBeGreaterThan(REBOOT_RACE_DEFAULTS.kubeProxyDelayMs);
    expect(early?.podNetworkReadyAtMs ?? -1).toBeGreaterThan(
      (early?.containersReadyAtMs ?? Infinity) + 1_000,
    );
    expect(early?.readyAtMs ?? -1).toBeGreaterThanOrEqual(early?.podNetworkReadyAtMs ?? Infinity);
    expect(early?.endpointNotReadyAtMs ?? Infinity).toBeLessThan(early?.podNetworkReadyAtMs ?? -1);
    expect(early?.endpointReadyAtMs ?? -1).toBeGreaterThanOrEqual(early?.podNetworkReadyAtMs ?? Infinity);
    expect(s.reportedNotRecycled).toEqual(['default/bare-api-client']);
    // everything else recovered, after the gate opened
    expect(s.allReadyAtMs).not.toBeNull();
    expect(s.recoveredMsAfterDataPathReady).not.toBeNull();
    expect(Math.min(...(s.recycled ?? []).map((r) => r.atMs))).toBeGreaterThanOrEqual(
      s.gateOpenedAtMs ?? Infinity,
    );
    // echo's budget (one down at a time) held: the second echo eviction waited for a Ready replacement
    expect(s.pdbViolations).toBe(0);
    const echoEvictions = (s.recycled ?? []).filter((r) => r.pod.includes('echo')).map((r) => r.atMs);
    const echoReady = report.timeline
      .filter((e) => e.event === 'pod-ready' && e.pod?.includes('echo') && e.tMs > (echoEvictions[0] ?? 0))
      .map((e) => e.tMs);
    expect(echoEvictions[1] ?? 0).toBeGreaterThan(echoReady[0] ?? Infinity);
  });
});
