/**
 * The field failure, reproduced on real components: real kube-proxy rules, real CNI wiring, a
 * lab kubelet that reboots. Runs at time scale 0.2 (back-off 2 s doubling) to fit CI.
 */
import { describe, expect, it } from 'vitest';
import { listNetns } from '../../src/lab/network.ts';
import {
  REBOOT_RACE_DEFAULTS,
  type RebootRaceReport,
  runRebootRace,
} from '../../src/lab/scenarios/reboot-race.ts';

const fast = { ...REBOOT_RACE_DEFAULTS, timeScale: 0.2, observeMs: 30_000 };

describe('reboot-race', () => {
  it('with early-pods-lose-route: broken pods resolve DNS, cannot connect, restarts do not heal, delete does', async () => {
    const report: RebootRaceReport = await runRebootRace({ ...fast, faults: ['early-pods-lose-route'] });
    const s = report.summary;
    const onRebooted = (pod: string) => report.timeline.some((e) => e.pod === pod && e.node === 'node-2');

    // Both api-client pods of node-2 got their sandbox before the CNI was ready and stay broken.
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
      // the sandbox restart after boot plus at least two crash-loop restarts
      expect(b.restartCount).toBeGreaterThanOrEqual(3);
    }
    expect(report.timeline.filter((e) => e.event === 'crash-loop-back-off').length).toBeGreaterThanOrEqual(4);
    expect(s.healedByRestart).toBe(0);
    expect(s.allReadyAtMs).toBeNull();
    // kube-proxy did program every Service: the node's data path came back, those pods did not.
    expect(s.dataPathReadyAtMs).not.toBeNull();
    // The control experiment: a new sandbox heals.
    expect(s.healedByDelete).toBe(1);
    expect(s.controlExperiment?.replacement).toMatch(/^default\/api-client-/);
    expect(await listNetns(report.params.labRun)).toEqual([]);
  });

  it('without faults, pods that crashed before kube-proxy synced heal by restart', async () => {
    const report = await runRebootRace({ ...fast, kubeProxyDelayMs: 6_000, observeMs: 45_000 });
    const s = report.summary;
    expect(s.brokenPods).toEqual([]);
    expect(s.healedByRestart).toBe(2);
    expect(s.dataPathReadyAtMs).toBeGreaterThan(6_000);
    expect(s.allReadyAtMs).toBeGreaterThan(s.dataPathReadyAtMs ?? Infinity);
    expect(s.controlExperiment).toBeNull();
  });
});

describe('reboot-race with netwarden on', () => {
  it('closes the gate from the first moment of the new boot and opens it once the data path is verified', async () => {
    const report = await runRebootRace({
      ...fast,
      netwarden: true,
      kubeProxyDelayMs: 8_000,
      cniReadyDelayMs: 3_000,
      observeMs: 25_000,
    });
    const s = report.summary;
    const kubeProxyStarted =
      report.timeline.find((e) => e.event === 'kube-proxy-started' && e.node === 'node-2')?.tMs ?? Infinity;
    // closed before kube-proxy even started on the new boot
    expect(s.gateClosedAtMs).not.toBeNull();
    expect(s.gateClosedAtMs ?? Infinity).toBeLessThan(kubeProxyStarted);
    // opened only after the rules were complete, and soon after
    expect(s.dataPathReadyAtMs).not.toBeNull();
    expect(s.gateOpenedAtMs ?? -1).toBeGreaterThan(kubeProxyStarted);
    expect(s.gateReactionMs).not.toBeNull();
    // datapath-ready-at (written by the agent) is later than kube-proxy's start: no rule existed before
    const readyAtMs = Date.parse(s.datapathReadyAtAnnotation ?? '') - Date.parse(report.params.rebootAt);
    expect(readyAtMs).toBeGreaterThan(kubeProxyStarted);
    expect(readyAtMs).toBeLessThanOrEqual((s.gateOpenedAtMs ?? 0) + 50);
  });
});

describe('reboot-race with early-pods-lose-route and netwarden on (repair)', () => {
  it('recycles exactly the broken pods, PDB-safe, leaves healthy and bare pods alone', async () => {
    const report = await runRebootRace({
      ...fast,
      faults: ['early-pods-lose-route'],
      netwarden: true,
      tcpServers: 4,
      kubeProxyDelayMs: 12_000,
      cniReadyDelayMs: 5_000,
      observeMs: 60_000,
    });
    const s = report.summary;
    const recycled = (s.recycled ?? []).map((r) => r.pod);
    // every pod sandboxed at boot on node-2 (all broken by the fault) but the bare one was recycled
    const atBoot = new Set(
      report.timeline
        .filter(
          (e) =>
            e.event === 'sandbox-created' &&
            e.node === 'node-2' &&
            e.tMs < (s.gateOpenedAtMs ?? 0) &&
            !/early-ok|bare/.test(e.pod ?? ''),
        )
        .map((e) => e.pod),
    );
    expect(new Set(recycled)).toEqual(atBoot);
    expect(recycled.filter((p) => p?.includes('api-client'))).toHaveLength(2);
    expect(recycled.filter((p) => p?.includes('echo'))).toHaveLength(2);
    expect((s.recycled ?? []).every((r) => r.node === 'node-2')).toBe(true);
    // the early but healthy pod and the bare pod were not touched
    expect(recycled.some((p) => p?.includes('early-ok'))).toBe(false);
    expect(s.untouchedHealthy).toBeGreaterThanOrEqual(1);
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
