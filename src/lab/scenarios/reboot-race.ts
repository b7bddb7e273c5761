/**
 * Scenario `reboot-race`: the field failure, reproduced on real nodes. A lab with a Deployment of
 * `lab/api-client` pods and a Service of `lab/tcp-server` pods spread over the nodes, CoreDNS on
 * a node that stays up; one node is hard-rebooted; its real kubelet recreates its pods at once
 * while kube-proxy (a DaemonSet pod held by --kube-proxy-delay) and the CNI daemon are not ready.
 * An early but healthy pod arrives once the CNI is ready, before kube-proxy. The runner observes for
 * a bounded window, probes the broken pods from inside, deletes one of them as the control
 * experiment, and reports a timeline and a summary.
 */
import { existsSync, readFileSync } from 'node:fs';
import { GateState } from '../../cni-gate/state.ts';
import {
  DEFAULT_GATE_SETTINGS,
  GATE_FILES,
  type GateLogSummary,
  type GateOutcome,
  parseGateLog,
} from '../../core/boot-gate.ts';
import { TAINT_KEY } from '../../core/gate.ts';
import type { EndpointSlice, Node, Pod } from '../../core/objects.ts';
import { POD_NETWORK_READY } from '../../core/pod-readiness.ts';
import { type ClusterProbeConfig, nodeProbePlan } from '../../core/probe-plan.ts';
import { seededRandom } from '../../core/random.ts';
import { NetwardenError } from '../../errors.ts';
import { ProcNetnsLocator } from '../../host/netns-locator.ts';
import { probeNetns, probePods } from '../../host/netns-probe.ts';
import type { KubeObject } from '../../kube/objects.ts';
import type { Reflector } from '../../kube/watch.ts';
import { CNI_CONFLIST_NAME } from '../cni-config.ts';
import { KUBERNETES_SERVICE_IP } from '../control-plane.ts';
import { labImageRef } from '../images.ts';
import { type AgentDeployment, LAB_BOOT_GATE_STATE_DIR, Lab, type LabFault } from '../lab.ts';
import { CLUSTER_DNS_IP, service, spreadDeployment } from '../manifests.ts';
import type { LabNode, NodeEvent } from '../node.ts';
import { clusterState, kubeProxyProblems } from '../observe.ts';
import { waitFor } from '../wait.ts';
import { GateTracker, type PodFacts, PodTracker, type TimelineEntry } from './timeline.ts';

/** Parameters of a run (all have defaults; see the CLI's help). */
export interface RebootRaceParams {
  readonly nodes: number;
  readonly kubeProxyDelayMs: number;
  readonly cniReadyDelayMs: number;
  readonly faults: readonly LabFault[];
  readonly seed: number;
  readonly observeMs: number;
  readonly downtimeMs: number;
  readonly apiClients: number;
  readonly tcpServers: number;
  readonly proxyMode: 'iptables' | 'nftables';
  /** Run the netwarden agent on every node. */
  readonly netwarden: boolean;
  /** With netwarden: the boot gate CNI plugin too (the agents run with --boot-gate). */
  readonly bootGate: boolean;
  /** The boot gate's fail-open deadline since the boot was first seen (--boot-gate-deadline). */
  readonly bootGateDeadlineMs: number;
  /** How long the boot gate waits for the agent's first heartbeat (--boot-gate-agent-start-grace). */
  readonly bootGateAgentStartGraceMs: number;
  /** Start the rebooted node's agent on its new boot; false: the agent is absent after the reboot. */
  readonly agentAfterReboot: boolean;
  /** How the agents run with `netwarden`: chart-installed pods (`helm install`) or node programs. */
  readonly agentDeploy: AgentDeployment;
}

/**
 * Defaults: the field's shape. The CNI daemon is ready 10 s after boot, kube-proxy starts 20 s
 * after boot. The real kubelet takes 2-8 s after its start (more on a loaded machine) to recreate
 * the pods, so with a persisted CNI config they get their network well before the CNI is ready;
 * a pod arriving between the two (the early but healthy one) is set up before the data path is
 * ready and still works.
 */
export const REBOOT_RACE_DEFAULTS: RebootRaceParams = {
  nodes: 2,
  kubeProxyDelayMs: 20_000,
  cniReadyDelayMs: 10_000,
  faults: [],
  seed: 1,
  observeMs: 60_000,
  downtimeMs: 2_000,
  apiClients: 4,
  tcpServers: 2,
  proxyMode: 'iptables',
  netwarden: false,
  bootGate: false,
  bootGateDeadlineMs: DEFAULT_GATE_SETTINGS.bootGateDeadlineMs,
  bootGateAgentStartGraceMs: DEFAULT_GATE_SETTINGS.agentStartGraceMs,
  agentAfterReboot: true,
  agentDeploy: 'helm',
};

/** A broken pod and what probing it from inside showed. */
export interface BrokenPod {
  readonly pod: string;
  readonly node: string;
  readonly restartCount: number;
  readonly dns: { ok: boolean; detail: string };
  readonly tcp: { ok: boolean; detail: string };
}

/** A lab node as its Node object describes it, before and after the reboot. */
export interface NodeReport {
  readonly name: string;
  readonly kubeletVersion: string | null;
  readonly containerRuntimeVersion: string | null;
  /** `status.nodeInfo.bootID` before the reboot and at the end of the run. */
  readonly bootIds: [string | null, string | null];
}

/** One pod that lived on the rebooted node after the reboot (times in ms after the reboot). */
export interface PodReport {
  readonly name: string;
  readonly node: string;
  /** The controlling owner, `Kind/name`, or null for a bare pod. */
  readonly owner: string | null;
  /** PodReadyToStartContainers became True (the kubelet's second resolution) on this boot. */
  readonly networkSetUpAtMs: number | null;
  /**
   * Its own-namespace probe (DNS + TCP to the kubernetes Service) failed when run the moment the
   * data path was ready, before any repair; null when not probed (host network, no sandbox yet,
   * or gone by then).
   */
  readonly brokenAfterDataPathReady: boolean | null;
  /** Evicted through the Eviction API (by netwarden). */
  readonly recycledAtMs: number | null;
  /** Last became Ready. */
  readonly readyAtMs: number | null;
  /** Its containers last became ready (the kubelet's ContainersReady). */
  readonly containersReadyAtMs: number | null;
  /** netwarden.dev/PodNetworkReady turned True (pods with that readiness gate); null if never. */
  readonly podNetworkReadyAtMs: number | null;
  /** Reasons of the False PodNetworkReady conditions seen before, in order. */
  readonly podNetworkFalseReasons: string[];
  /** Its Service's EndpointSlice first listed it not ready / last turned it ready (pods behind a Service). */
  readonly endpointNotReadyAtMs: number | null;
  readonly endpointReadyAtMs: number | null;
}

/** What the boot gate plugin did on the rebooted node's new boot (its own log and counters). */
export interface BootGateReport extends GateLogSummary {
  /** The plugin's counters of this boot, by outcome (its state folder is under the node's /run). */
  readonly outcomes: Record<GateOutcome, number>;
  /** The plugin types of the node's conflist at the end, in order. */
  readonly conflist: string[];
}

/** The machine-readable result (the CLI's `--output json`). */
export interface RebootRaceReport {
  readonly scenario: 'reboot-race';
  readonly params: RebootRaceParams & { rebootedNode: string; labRun: string; rebootAt: string };
  readonly nodes: NodeReport[];
  readonly pods: PodReport[];
  readonly timeline: TimelineEntry[];
  readonly summary: {
    /** With --netwarden on: how the agents ran (chart-installed DaemonSet pods or node programs). */
    agentDeployedBy?: AgentDeployment;
    brokenPods: BrokenPod[];
    dnsResolvesInBrokenPods: boolean;
    tcpFailsInBrokenPods: boolean;
    healedByRestart: number;
    healedByDelete: number;
    allReadyAtMs: number | null;
    /** When the rebooted node's whole data path was ready: every Service's rules programmed and the CNI ready. */
    dataPathReadyAtMs: number | null;
    controlExperiment: { deleted: string; replacement: string | null; readyAfterMs: number | null } | null;
    /** With --netwarden on: when the rebooted node's gate closed and opened (ms after the reboot). */
    gateClosedAtMs?: number | null;
    gateOpenedAtMs?: number | null;
    /** gateOpenedAtMs − dataPathReadyAtMs: how long after the data path was ready the gate opened. */
    gateReactionMs?: number | null;
    datapathReadyAtAnnotation?: string | null;
    /** With --netwarden on: pods netwarden evicted (ms after the reboot). */
    recycled?: { pod: string; node: string; atMs: number }[];
    /** Pods on the rebooted node whose network was set up before the data path was ready, healthy, and left alone. */
    untouchedHealthy?: number;
    /** allReadyAtMs − dataPathReadyAtMs. */
    recoveredMsAfterDataPathReady?: number | null;
    /** Broken pods without a controller that netwarden reported instead of deleting. */
    reportedNotRecycled?: string[];
    /** Moments after the first eviction when more echo pods were unavailable than their PDB allows. */
    pdbViolations?: number;
    rebootedNode: string;
    /** With --boot-gate on: what the plugin did on the new boot. */
    bootGate?: BootGateReport;
  };
}

const NS = 'default';
/** Where a lab node's boot id is, as its own processes (the plugin) read it. */
const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';
/** With netwarden on, the run ends once all pods have been Ready this long without interruption. */
const SETTLED_MS = 8_000;

/** Runs the scenario end to end; the lab is always torn down, also on failure. */
export async function runRebootRace(
  params: RebootRaceParams,
  log: (line: string) => void = () => {},
): Promise<RebootRaceReport> {
  const tracker = new PodTracker();
  const gate = new GateTracker(`node-${params.nodes}`, tracker);
  const nodeEvents: NodeEvent[] = [];
  if (params.bootGate && !params.netwarden)
    throw new NetwardenError('usage', '--boot-gate on needs --netwarden on (the agent runs the boot gate)');
  if (params.netwarden && params.agentDeploy === 'helm' && (params.bootGate || !params.agentAfterReboot))
    throw new NetwardenError(
      'usage',
      'the boot gate and an agent absent after the reboot need the agents as lab programs (agentDeploy process)',
    );
  const lab = await Lab.up({
    ...(params.netwarden
      ? {
          netwarden: {
            deploy: params.agentDeploy,
            ...(params.bootGate
              ? {
                  bootGate: {
                    deadlineMs: params.bootGateDeadlineMs,
                    agentStartGraceMs: params.bootGateAgentStartGraceMs,
                  },
                }
              : {}),
          },
        }
      : {}),
    nodes: params.nodes,
    proxyMode: params.proxyMode,
    faults: params.faults,
    dnsNode: 'node-1',
    log,
    onNodeEvent: (e) => nodeEvents.push(e),
  });
  let watch: Reflector<Pod> | undefined;
  let nodeWatch: Reflector<Node> | undefined;
  let sliceWatch: Reflector<EndpointSlice> | undefined;
  try {
    watch = await lab.admin.pods.watch({
      onEvent: (ev) =>
        ev.type === 'DELETED'
          ? tracker.deleted(ev.object, Date.now())
          : tracker.observe(ev.object, Date.now()),
    });
    nodeWatch = await lab.admin.nodes.watch({ onEvent: (ev) => gate.observe(ev.object, Date.now()) });
    sliceWatch = await lab.admin.services.watchEndpointSlices({
      onEvent: (ev) => {
        if (ev.type !== 'DELETED') tracker.endpoints(ev.object, Date.now());
      },
    });
    return await scenario(lab, params, tracker, gate, nodeEvents, log);
  } finally {
    await watch?.stop();
    await nodeWatch?.stop();
    await sliceWatch?.stop();
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
      image: labImageRef('api-client'),
      replicas: params.apiClients,
      readinessPort: 8081,
    }),
  );
  await lab.admin.objects.apply(
    spreadDeployment({
      name: 'echo',
      namespace: NS,
      image: labImageRef('tcp-server'),
      replicas: params.tcpServers,
      port: 8080,
    }),
  );
  await lab.admin.objects.apply(service('echo', NS, 80, 8080));
  // The pods of the workloads plus one kube-proxy per node.
  let expected = params.apiClients + params.tcpServers + params.nodes + 1;
  if (params.netwarden) {
    // Recycling must respect a budget that allows one echo pod down at a time...
    await lab.admin.objects.apply(echoBudget());
    // ...and leave a broken pod without a controller alone (report it).
    await lab.admin.objects.apply(barePod(rebooted));
    expected += 1;
    // The chart's agents are pods too (one per node); the rebooted node's must come back Ready.
    if (params.agentDeploy === 'helm') expected += params.nodes;
  }
  await waitFor(
    `all ${expected} pods Ready before the reboot`,
    () => tracker.live().filter((f) => f.ready).length === expected,
    180_000,
    250,
  );
  const before = await nodeInfos(lab);
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
    startAgent: params.agentAfterReboot,
  });
  // A pod that arrives once the CNI is ready but before kube-proxy (it tolerates netwarden's taint,
  // like a DaemonSet): early, yet healthy — netwarden must not touch it.
  const earlyOkPossible = params.cniReadyDelayMs + 2_000 < params.kubeProxyDelayMs;
  let earlyOk = false;

  // Observe: the data path (every Service's rules and the CNI) and whether all pods are Ready again.
  let dataPathReadyAt: number | null = null;
  let firstProbe: Promise<Map<string, boolean>> | undefined;
  let allReadyAt: number | null = null;
  const pdbSamples: { at: number; unavailable: number }[] = [];
  const end = t0 + params.observeMs;
  while (Date.now() < end) {
    if (dataPathReadyAt === null && lab.cniReady(rebooted)) {
      const cluster = await clusterState(lab.admin.objects);
      const node = lab.node(rebooted);
      if ((await kubeProxyProblems(node.netns, params.proxyMode, cluster, rebooted)).length === 0) {
        dataPathReadyAt = Date.now();
        tracker.add(dataPathReadyAt, {
          event: 'data-path-ready',
          node: rebooted,
          detail: `${cluster.services.length} services programmed, CNI ready`,
        });
        firstProbe = probeSandboxedPods(tracker, rebooted, t0);
      }
    }
    const cniReadyAt = lab.node(rebooted).cniReadyAt;
    if (earlyOkPossible && !earlyOk && cniReadyAt !== undefined && Date.now() >= cniReadyAt + 1_000) {
      earlyOk = true;
      // With netwarden it waits for the pod readiness gate, behind a Service of its own.
      await lab.admin.objects.apply(earlyHealthy(rebooted, params.netwarden));
      if (params.netwarden) await lab.admin.objects.apply(service('early-ok', NS, 80, 8080));
      tracker.add(Date.now(), {
        event: 'early-healthy-created',
        node: rebooted,
        detail: 'tolerates the gate taint; sandboxed after the CNI is ready, before kube-proxy',
      });
    }
    const want = expected + (earlyOk ? 1 : 0);
    // All Ready counts from the last time the cluster entered that state: a later eviction (netwarden
    // recycling a Ready pod whose network is broken) starts it over.
    const allReady = allReadyAfterBoot(tracker, rebooted, t0, want);
    if (allReady && allReadyAt === null) {
      allReadyAt = Date.now();
      tracker.add(allReadyAt, { event: 'all-pods-ready' });
    } else if (!allReady && allReadyAt !== null) {
      allReadyAt = null;
      tracker.add(Date.now(), { event: 'pods-not-all-ready' });
    }
    // With netwarden, stop once everything has stayed Ready for a while (repair is done).
    if (params.netwarden && allReadyAt !== null && Date.now() - allReadyAt > SETTLED_MS) break;
    if (params.netwarden) pdbSamples.push(echoUnavailable(tracker, params.tcpServers));
    await new Promise((r) => setTimeout(r, 250));
  }
  const brokenAtDataPathReady = (await firstProbe) ?? new Map<string, boolean>();
  for (const e of nodeEvents)
    tracker.add(e.atMs, { event: e.event, node: e.node, ...(e.detail ? { detail: e.detail } : {}) });

  // Probe every broken pod from inside its own namespace (the same probe the agent uses).
  const brokenFacts = tracker.live().filter((f) => f.node === rebooted && !f.ready);
  const brokenPods: BrokenPod[] = [];
  for (const f of brokenFacts) {
    const { dns, tcp } = await probePod(f.uid);
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

  const { controlExperiment, healedByDelete } = params.netwarden
    ? { controlExperiment: null, healedByDelete: 0 }
    : await controlDelete(lab, tracker, brokenFacts, random);

  const after = await nodeInfos(lab);
  const bootGate = params.bootGate ? await bootGateReport(lab.node(rebooted), tracker) : undefined;
  const timeline = [...tracker.entries].sort((a, b) => a.tMs - b.tMs);
  return {
    scenario: 'reboot-race',
    params: { ...params, rebootedNode: rebooted, labRun: lab.run.id, rebootAt: new Date(t0).toISOString() },
    nodes: lab.nodes.map((n) => ({
      name: n.name,
      kubeletVersion: after.get(n.name)?.kubeletVersion ?? null,
      containerRuntimeVersion: after.get(n.name)?.containerRuntimeVersion ?? null,
      bootIds: [before.get(n.name)?.bootId ?? null, after.get(n.name)?.bootId ?? null],
    })),
    pods: podReports(tracker, rebooted, t0, brokenAtDataPathReady),
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
      rebootedNode: rebooted,
      ...(bootGate ? { bootGate } : {}),
      ...(params.netwarden
        ? {
            agentDeployedBy: params.agentDeploy,
            ...repairSummary(tracker, rebooted, t0, dataPathReadyAt, allReadyAt, pdbSamples),
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

/** Control experiment: delete one broken, controller-owned pod; a new sandbox should heal it. */
async function controlDelete(
  lab: Lab,
  tracker: PodTracker,
  brokenFacts: readonly PodFacts[],
  random: () => number,
): Promise<{ controlExperiment: RebootRaceReport['summary']['controlExperiment']; healedByDelete: number }> {
  const candidates = brokenFacts.filter((f) => f.key.startsWith(`${NS}/api-client-`));
  const victim = candidates[Math.floor(random() * candidates.length)] ?? candidates[0];
  if (!victim) return { controlExperiment: null, healedByDelete: 0 };
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
    () => tracker.live().find((f) => !before.has(f.uid) && f.key.startsWith(`${NS}/api-client-`) && f.ready),
    60_000,
    250,
  ).catch(() => undefined);
  if (replacement)
    tracker.add(Date.now(), { event: 'replacement-ready', pod: replacement.key, node: replacement.node });
  return {
    controlExperiment: {
      deleted: victim.key,
      replacement: replacement?.key ?? null,
      readyAfterMs: replacement ? Date.now() - deletedAt : null,
    },
    healedByDelete: replacement ? 1 : 0,
  };
}

/** What each Node object says now: versions and boot ID. */
async function nodeInfos(
  lab: Lab,
): Promise<Map<string, { kubeletVersion?: string; containerRuntimeVersion?: string; bootId?: string }>> {
  const out = new Map<
    string,
    { kubeletVersion?: string; containerRuntimeVersion?: string; bootId?: string }
  >();
  for (const n of await lab.admin.nodes.list()) {
    const info = n.status?.nodeInfo;
    out.set(n.metadata?.name ?? '', {
      ...(info?.kubeletVersion ? { kubeletVersion: info.kubeletVersion } : {}),
      ...(info?.containerRuntimeVersion ? { containerRuntimeVersion: info.containerRuntimeVersion } : {}),
      ...(info?.bootID ? { bootId: info.bootID } : {}),
    });
  }
  return out;
}

/**
 * Probes, at once, every pod-network pod of `node` with a sandbox from this boot; returns uid →
 * broken (DNS or TCP to the kubernetes Service failed). Pods the probe cannot find are left out.
 */
async function probeSandboxedPods(
  tracker: PodTracker,
  node: string,
  t0: number,
): Promise<Map<string, boolean>> {
  const pods = tracker
    .live()
    .filter(
      (f) => f.node === node && !f.hostNetwork && f.sandboxAt !== undefined && f.sandboxAt >= t0 - 1000,
    );
  const uids = pods.map((f) => f.uid);
  const locations = await new ProcNetnsLocator().locate(uids);
  const plan = nodeProbePlan(LAB_PROBE_CONFIG);
  const results = await probePods(
    uids.map((uid) => ({ uid, plan })),
    locations,
    { concurrency: 4 },
  );
  const out = new Map<string, boolean>();
  for (const [uid, r] of results) if (r.status !== 'unknown') out.set(uid, r.status === 'failing');
  return out;
}

/** The `pods` part of the report: every pod that lived on the rebooted node after the reboot. */
function podReports(
  tracker: PodTracker,
  node: string,
  t0: number,
  broken: ReadonlyMap<string, boolean>,
): PodReport[] {
  return [...tracker.facts.values()]
    .filter((f) => f.node === node && (f.createdAfterReboot || f.sandboxAt !== undefined))
    .filter(
      (f) => f.createdAfterReboot || !f.deleted || f.evictedAt !== undefined || f.sandboxAt !== undefined,
    )
    .map((f) => ({
      name: f.key,
      node: f.node,
      owner: f.owner ?? null,
      networkSetUpAtMs: f.sandboxAt !== undefined && f.sandboxAt >= t0 - 1000 ? f.sandboxAt - t0 : null,
      brokenAfterDataPathReady: broken.get(f.uid) ?? null,
      recycledAtMs: f.evictedAt === undefined ? null : f.evictedAt - t0,
      readyAtMs: after(f.readyAt, t0),
      containersReadyAtMs: after(f.containersReadyAt, t0),
      podNetworkReadyAtMs: after(f.podNetworkReadyAt, t0),
      podNetworkFalseReasons: [...f.podNetworkFalseReasons],
      endpointNotReadyAtMs: after(f.endpointNotReadyAt, t0),
      endpointReadyAtMs: after(f.endpointReadyAt, t0),
    }))
    .sort(
      (a, b) =>
        (a.networkSetUpAtMs ?? Number.MAX_SAFE_INTEGER) - (b.networkSetUpAtMs ?? Number.MAX_SAFE_INTEGER),
    );
}

const rel = (ms: number | undefined, t0: number): number | null => (ms === undefined ? null : ms - t0);
/** ms after the reboot of a moment on or after it; null for none or one before it. */
const after = (ms: number | undefined, t0: number): number | null =>
  ms !== undefined && ms >= t0 ? ms - t0 : null;

/**
 * What the boot gate did on `node`'s current boot, from the plugin's own files in the node's state
 * folder (its /run: emptied at every boot, so the counters are this boot's); its log's records go
 * into the timeline.
 */
async function bootGateReport(node: LabNode, tracker: PodTracker): Promise<BootGateReport> {
  const state = new GateState(node.hostPath(LAB_BOOT_GATE_STATE_DIR), node.hostPath(BOOT_ID_FILE));
  const summary = await state.logSummary(node.bootId);
  const logFile = node.hostPath(`${LAB_BOOT_GATE_STATE_DIR}/${GATE_FILES.log}`);
  const text = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
  for (const r of parseGateLog(text).filter((x) => x.bootId === node.bootId && x.timeMs !== undefined))
    tracker.add(r.timeMs ?? 0, {
      event: r.event === 'hold' ? 'boot-gate-hold' : `boot-gate-${r.outcome}`,
      node: node.name,
      ...(r.pod ? { pod: r.pod } : {}),
      detail: `${r.heldMs > 0 ? `held ${r.heldMs} ms; ` : ''}${r.reason}`.slice(0, 200),
    });
  let conflist: string[] = [];
  try {
    const doc = JSON.parse(readFileSync(node.hostPath(`/etc/cni/net.d/${CNI_CONFLIST_NAME}`), 'utf8')) as {
      plugins?: { type?: string }[];
    };
    conflist = (doc.plugins ?? []).map((p) => p.type ?? '?');
  } catch {
    // no conflist: reported as none
  }
  return { ...summary, outcomes: await state.counters(), conflist };
}

/** The cluster's DNS and `kubernetes` Service as the lab sets them up. */
export const LAB_PROBE_CONFIG: ClusterProbeConfig = {
  dnsServer: CLUSTER_DNS_IP,
  clusterDomain: 'cluster.local',
  kubernetesService: { host: KUBERNETES_SERVICE_IP, port: 443 },
  timeoutMs: 5_000,
};

/**
 * DNS (kubernetes.default.svc through cluster DNS) and TCP (kubernetes Service) from inside a lab
 * pod's own network namespace, found through /proc as the agent finds it (all lab nodes share the
 * host's PID namespace; the kubelet's cgroup paths name the pod UID).
 */
async function probePod(uid: string): Promise<{ dns: BrokenPod['dns']; tcp: BrokenPod['tcp'] }> {
  const location = (await new ProcNetnsLocator().locate([uid])).get(uid);
  if (!location) {
    const gone = { ok: false, detail: `no process of pod ${uid} found in /proc` };
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

/** Echo's budget: one pod down at a time (IfHealthyBudget: only Ready pods count as healthy). */
function echoBudget(): KubeObject {
  return {
    apiVersion: 'policy/v1',
    kind: 'PodDisruptionBudget',
    metadata: { name: 'echo', namespace: NS },
    spec: { maxUnavailable: 1, selector: { matchLabels: { app: 'echo' } } },
  };
}

/** A broken-to-be api-client pod without a controller, bound to `node`. */
function barePod(node: string): KubeObject {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'bare-api-client', namespace: NS, labels: { 'netwarden.dev/scenario-role': 'bare' } },
    spec: {
      nodeName: node,
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 2,
      containers: [
        {
          name: 'api-client',
          image: labImageRef('api-client'),
          imagePullPolicy: 'Never',
          readinessProbe: { tcpSocket: { port: 8081 }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    },
  };
}

/**
 * A healthy tcp-server that tolerates netwarden's taint, pinned to `node`; with `readinessGate`
 * it lists netwarden.dev/PodNetworkReady in its readinessGates.
 */
function earlyHealthy(node: string, readinessGate: boolean): KubeObject {
  const d = spreadDeployment({
    name: 'early-ok',
    namespace: NS,
    image: labImageRef('tcp-server'),
    replicas: 1,
    port: 8080,
    nodeSelector: { 'kubernetes.io/hostname': node },
  });
  const spec = (
    d.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } }
  ).template;
  spec.metadata.labels['netwarden.dev/scenario-role'] = 'early-healthy';
  spec.spec.tolerations = [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }];
  if (readinessGate) spec.spec.readinessGates = [{ conditionType: POD_NETWORK_READY }];
  return d;
}

/** Echo pods unavailable now (the PDB's view: replicas minus Ready). */
function echoUnavailable(tracker: PodTracker, replicas: number): { at: number; unavailable: number } {
  const ready = tracker.live().filter((f) => f.app === 'echo' && f.ready).length;
  return { at: Date.now(), unavailable: Math.max(0, replicas - ready) };
}

/** The repair part of the summary. */
function repairSummary(
  tracker: PodTracker,
  node: string,
  t0: number,
  dataPathReadyAt: number | null,
  allReadyAt: number | null,
  pdbSamples: readonly { at: number; unavailable: number }[],
): Partial<RebootRaceReport['summary']> {
  const all = [...tracker.facts.values()];
  const recycled = all
    .filter((f) => f.evictedAt !== undefined)
    .map((f) => ({ pod: f.key, node: f.node, atMs: (f.evictedAt ?? t0) - t0 }))
    .sort((a, b) => a.atMs - b.atMs);
  const readyAt = dataPathReadyAt ?? Number.POSITIVE_INFINITY;
  const untouchedHealthy = all.filter(
    (f) =>
      f.node === node &&
      !f.deleted &&
      f.evictedAt === undefined &&
      f.ready &&
      f.sandboxAt !== undefined &&
      f.sandboxAt >= t0 - 1000 &&
      f.sandboxAt < readyAt,
  ).length;
  const firstEviction = recycled[0] ? t0 + recycled[0].atMs : Number.POSITIVE_INFINITY;
  return {
    recycled,
    untouchedHealthy,
    recoveredMsAfterDataPathReady:
      allReadyAt !== null && dataPathReadyAt !== null ? allReadyAt - dataPathReadyAt : null,
    reportedNotRecycled: all
      .filter((f) => f.role === 'bare' && !f.deleted && f.evictedAt === undefined && !f.ready)
      .map((f) => f.key),
    pdbViolations: pdbSamples.filter((s) => s.at > firstEviction && s.unavailable > 1).length,
  };
}

/** Every pod Ready, and every pod of the rebooted node running in a sandbox made after the reboot. */
function allReadyAfterBoot(tracker: PodTracker, node: string, t0: number, expected: number): boolean {
  // A bare pod is left broken on purpose (reported, not recycled): it does not count.
  const live = tracker.live().filter((f) => f.role !== 'bare');
  expected -= tracker.live().length - live.length;
  if (live.length < expected) return false;
  return live.every(
    (f) => f.ready && (f.node !== node || (f.sandboxAt !== undefined && f.sandboxAt >= t0 - 1000)),
  );
}
