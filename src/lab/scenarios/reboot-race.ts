/**
 * Scenario `reboot-race`: the field failure, reproduced. A lab with a Deployment of
 * `lab/api-client` pods and a Service of `lab/tcp-server` pods spread over the nodes, CoreDNS on
 * a node that stays up; one node is hard-rebooted; the kubelet restarts its pods at once while
 * kube-proxy (and, with `early-pods-lose-route`, the CNI) are not ready. The runner observes for
 * a bounded window, probes the broken pods from inside, deletes one of them as the control
 * experiment, and reports a timeline and a summary.
 */
import { seededRandom } from '../../core/random.ts';
import {
  type ClusterProbeConfig,
  netnsLocationAt,
  nodeProbePlan,
  probeNetns,
} from '../../host/netns-probe.ts';
import type { Node, Pod } from '../../kube/types.ts';
import type { Reflector } from '../../kube/watch.ts';
import { KUBERNETES_SERVICE_IP } from '../control-plane.ts';
import { podNetns } from '../kubelet/pod-worker.ts';
import { Lab, type LabFault } from '../lab.ts';
import { CLUSTER_DNS_IP, service, spreadDeployment } from '../manifests.ts';
import type { NodeEvent } from '../node.ts';
import { clusterState, kubeProxyProblems } from '../observe.ts';
import { waitFor } from '../wait.ts';
import { GateTracker, PodTracker, type TimelineEntry } from './timeline.ts';

/** Parameters of a run (all have defaults; see the CLI's help). */
export interface RebootRaceParams {
  readonly nodes: number;
  readonly kubeProxyDelayMs: number;
  readonly cniReadyDelayMs: number;
  readonly faults: readonly LabFault[];
  readonly seed: number;
  readonly observeMs: number;
  readonly timeScale: number;
  readonly downtimeMs: number;
  readonly apiClients: number;
  readonly tcpServers: number;
  readonly proxyMode: 'iptables' | 'nftables';
  /** Run the netwarden agent on every node. */
  readonly netwarden: boolean;
}

/** Defaults: the field's shape at real kubelet timing. */
export const REBOOT_RACE_DEFAULTS: RebootRaceParams = {
  nodes: 2,
  kubeProxyDelayMs: 10_000,
  cniReadyDelayMs: 20_000,
  faults: [],
  seed: 1,
  observeMs: 60_000,
  timeScale: 1,
  downtimeMs: 2_000,
  apiClients: 4,
  tcpServers: 2,
  proxyMode: 'iptables',
  netwarden: false,
};

/** A broken pod and what probing it from inside showed. */
export interface BrokenPod {
  readonly pod: string;
  readonly node: string;
  readonly restartCount: number;
  readonly dns: { ok: boolean; detail: string };
  readonly tcp: { ok: boolean; detail: string };
}

/** The machine-readable result (the CLI's `--output json`). */
export interface RebootRaceReport {
  readonly scenario: 'reboot-race';
  readonly params: RebootRaceParams & { rebootedNode: string; labRun: string; rebootAt: string };
  readonly timeline: TimelineEntry[];
  readonly summary: {
    brokenPods: BrokenPod[];
    dnsResolvesInBrokenPods: boolean;
    tcpFailsInBrokenPods: boolean;
    healedByRestart: number;
    healedByDelete: number;
    allReadyAtMs: number | null;
    dataPathReadyAtMs: number | null;
    controlExperiment: { deleted: string; replacement: string | null; readyAfterMs: number | null } | null;
    /** With --netwarden on: when the rebooted node's gate closed and opened (ms after the reboot). */
    gateClosedAtMs?: number | null;
    gateOpenedAtMs?: number | null;
    /** gateOpenedAtMs − dataPathReadyAtMs: how long after the rules were complete the gate opened. */
    gateReactionMs?: number | null;
    datapathReadyAtAnnotation?: string | null;
  };
}

const NS = 'default';

/** Runs the scenario end to end; the lab is always torn down, also on failure. */
export async function runRebootRace(
  params: RebootRaceParams,
  log: (line: string) => void = () => {},
): Promise<RebootRaceReport> {
  const tracker = new PodTracker();
  const gate = new GateTracker(`node-${params.nodes}`, tracker);
  const nodeEvents: NodeEvent[] = [];
  const lab = await Lab.up({
    ...(params.netwarden ? { netwarden: {} } : {}),
    nodes: params.nodes,
    proxyMode: params.proxyMode,
    timeScale: params.timeScale,
    faults: params.faults,
    dnsNode: 'node-1',
    log,
    onNodeEvent: (e) => nodeEvents.push(e),
  });
  let watch: Reflector<Pod> | undefined;
  let nodeWatch: Reflector<Node> | undefined;
  try {
    watch = await lab.admin.pods.watch({
      onEvent: (ev) =>
        ev.type === 'DELETED'
          ? tracker.deleted(ev.object, Date.now())
          : tracker.observe(ev.object, Date.now()),
    });
    nodeWatch = await lab.admin.nodes.watch({ onEvent: (ev) => gate.observe(ev.object, Date.now()) });
    return await scenario(lab, params, tracker, gate, nodeEvents, log);
  } finally {
    await watch?.stop();
    await nodeWatch?.stop();
    const problems = await lab.down();
    for (const p of problems) log(`clean-up problem: ${p}`);
  }
}

async function scenario(
  lab: Lab,
  params: RebootRaceParams,
  tracker: PodTracker,
  gate: GateTracker,
  nodeEvents: NodeEvent[],
  log: (line: string) => void,
): Promise<RebootRaceReport> {
  const rebooted = `node-${params.nodes}`;
  const random = seededRandom(params.seed);
  await lab.admin.objects.apply(
    spreadDeployment({
      name: 'api-client',
      namespace: NS,
      image: 'lab/api-client',
      replicas: params.apiClients,
      readinessPort: 8081,
    }),
  );
  await lab.admin.objects.apply(
    spreadDeployment({
      name: 'echo',
      namespace: NS,
      image: 'lab/tcp-server',
      replicas: params.tcpServers,
      port: 8080,
    }),
  );
  await lab.admin.objects.apply(service('echo', NS, 80, 8080));
  const expected = params.apiClients + params.tcpServers + 1;
  await waitFor(
    `all ${expected} pods Ready before the reboot`,
    () => tracker.live().filter((f) => f.ready).length === expected,
    120_000,
    250,
  );
  log(`all ${expected} pods Ready; rebooting ${rebooted}`);

  // t = 0: power off.
  const t0 = Date.now();
  tracker.rebootAt(t0);
  if (params.netwarden) gate.arm();
  nodeEvents.length = 0;
  await lab.reboot(rebooted, {
    downtimeMs: params.downtimeMs,
    kubeProxyDelayMs: params.kubeProxyDelayMs,
    cniReadyDelayMs: params.cniReadyDelayMs,
  });
  const node = lab.node(rebooted);

  // Observe: data path readiness (rules for every Service) and whether all pods are Ready again.
  let dataPathReadyAt: number | null = null;
  let allReadyAt: number | null = null;
  const end = t0 + params.observeMs;
  while (Date.now() < end) {
    if (dataPathReadyAt === null && node.kubeProxy?.running) {
      const cluster = await clusterState(lab.admin.objects);
      if ((await kubeProxyProblems(node.netns, params.proxyMode, cluster, rebooted)).length === 0) {
        dataPathReadyAt = Date.now();
        tracker.add(dataPathReadyAt, {
          event: 'kube-proxy-rules-complete',
          node: rebooted,
          detail: `${cluster.services.length} services programmed`,
        });
      }
    }
    if (allReadyAt === null && allReadyAfterBoot(tracker, rebooted, t0, expected)) {
      allReadyAt = Date.now();
      tracker.add(allReadyAt, { event: 'all-pods-ready' });
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  for (const e of nodeEvents)
    tracker.add(e.atMs, { event: e.event, node: e.node, ...(e.detail ? { detail: e.detail } : {}) });

  // Probe every broken pod from inside its own namespace (the same probe the agent uses).
  const brokenFacts = tracker.live().filter((f) => f.node === rebooted && !f.ready);
  const brokenPods: BrokenPod[] = [];
  for (const f of brokenFacts) {
    const { dns, tcp } = await probePod(lab.run.id, f.node, f.uid);
    tracker.add(Date.now(), {
      event: 'probe',
      pod: f.key,
      node: f.node,
      detail: `DNS ${dns.ok ? 'ok' : 'FAILED'} (${dns.detail}); TCP ${tcp.ok ? 'ok' : 'FAILED'} (${tcp.detail})`,
    });
    brokenPods.push({ pod: f.key, node: f.node, restartCount: f.restartCount, dns, tcp });
  }
  const healedByRestart = tracker
    .live()
    .filter((f) => f.node === rebooted && f.brokeAfterBoot && f.ready && !f.createdAfterReboot).length;

  // Control experiment: delete one broken, controller-owned pod; a new sandbox should heal it.
  let controlExperiment: RebootRaceReport['summary']['controlExperiment'] = null;
  let healedByDelete = 0;
  const candidates = brokenFacts.filter((f) => f.key.startsWith(`${NS}/api-client-`));
  if (candidates.length > 0) {
    const victim = candidates[Math.floor(random() * candidates.length)] ?? candidates[0];
    if (victim) {
      const before = new Set(tracker.facts.keys());
      const deletedAt = Date.now();
      tracker.add(deletedAt, { event: 'control-delete', pod: victim.key, node: victim.node });
      await lab.admin.objects.delete({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: victim.key.split('/')[1] ?? '', namespace: NS },
      });
      const replacement = await waitFor(
        "the deleted pod's replacement to be Ready",
        () =>
          tracker.live().find((f) => !before.has(f.uid) && f.key.startsWith(`${NS}/api-client-`) && f.ready),
        60_000,
        250,
      ).catch(() => undefined);
      const readyAfterMs = replacement ? Date.now() - deletedAt : null;
      if (replacement) {
        healedByDelete = 1;
        tracker.add(Date.now(), { event: 'replacement-ready', pod: replacement.key, node: replacement.node });
      }
      controlExperiment = { deleted: victim.key, replacement: replacement?.key ?? null, readyAfterMs };
    }
  }

  const timeline = [...tracker.entries].sort((a, b) => a.tMs - b.tMs);
  return {
    scenario: 'reboot-race',
    params: { ...params, rebootedNode: rebooted, labRun: lab.run.id, rebootAt: new Date(t0).toISOString() },
    timeline,
    summary: {
      brokenPods,
      dnsResolvesInBrokenPods: brokenPods.length > 0 && brokenPods.every((b) => b.dns.ok),
      tcpFailsInBrokenPods: brokenPods.length > 0 && brokenPods.every((b) => !b.tcp.ok),
      healedByRestart,
      healedByDelete,
      allReadyAtMs: allReadyAt === null ? null : allReadyAt - t0,
      dataPathReadyAtMs: dataPathReadyAt === null ? null : dataPathReadyAt - t0,
      controlExperiment,
      ...(params.netwarden
        ? {
            gateClosedAtMs: rel(gate.closedAt, t0),
            gateOpenedAtMs: rel(gate.openedAt, t0),
            gateReactionMs:
              gate.openedAt !== undefined && dataPathReadyAt !== null
                ? gate.openedAt - dataPathReadyAt
                : null,
            datapathReadyAtAnnotation: gate.readyAtAnnotation ?? null,
          }
        : {}),
    },
  };
}

const rel = (ms: number | undefined, t0: number): number | null => (ms === undefined ? null : ms - t0);

/** The cluster's DNS and `kubernetes` Service as the lab sets them up. */
export const LAB_PROBE_CONFIG: ClusterProbeConfig = {
  dnsServer: CLUSTER_DNS_IP,
  clusterDomain: 'cluster.local',
  kubernetesService: { host: KUBERNETES_SERVICE_IP, port: 443 },
  timeoutMs: 5_000,
};

/** DNS (kubernetes.default.svc through cluster DNS) and TCP (kubernetes Service) from inside a lab pod. */
async function probePod(
  runId: string,
  node: string,
  uid: string,
): Promise<{ dns: BrokenPod['dns']; tcp: BrokenPod['tcp'] }> {
  const path = `/var/run/netns/${podNetns(runId, node, uid)}`;
  const location = await netnsLocationAt(path, 'lab');
  if (!location) {
    const gone = { ok: false, detail: `namespace ${path} not found` };
    return { dns: gone, tcp: gone };
  }
  // The core checks, in order: DNS of kubernetes.default.svc, then TCP to the kubernetes Service.
  const result = await probeNetns(location, nodeProbePlan(LAB_PROBE_CONFIG));
  const [dns, tcp] = [result.checks[0], result.checks[1]];
  const missing = { ok: false, detail: result.detail };
  return {
    dns: dns ? { ok: dns.ok, detail: dns.detail } : missing,
    tcp: tcp ? { ok: tcp.ok, detail: tcp.detail } : missing,
  };
}

/** Every pod Ready, and every pod of the rebooted node running in a sandbox made after the reboot. */
function allReadyAfterBoot(tracker: PodTracker, node: string, t0: number, expected: number): boolean {
  const live = tracker.live();
  if (live.length < expected) return false;
  return live.every(
    (f) => f.ready && (f.node !== node || (f.sandboxAt !== undefined && f.sandboxAt >= t0 - 1000)),
  );
}
