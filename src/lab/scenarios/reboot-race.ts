/**
 * Scenario `reboot-race`: the field failure, reproduced. A lab with a Deployment of
 * `lab/api-client` pods and a Service of `lab/tcp-server` pods spread over the nodes, CoreDNS on
 * a node that stays up; one node is hard-rebooted; the kubelet restarts its pods at once while
 * kube-proxy (and, with `early-pods-lose-route`, the CNI) are not ready. The runner observes for
 * a bounded window, probes the broken pods from inside, deletes one of them as the control
 * experiment, and reports a timeline and a summary.
 */
import { TAINT_KEY } from '../../core/gate.ts';
import { seededRandom } from '../../core/random.ts';
import {
  type ClusterProbeConfig,
  nodeProbePlan,
  ProcNetnsLocator,
  probeNetns,
} from '../../host/netns-probe.ts';
import type { KubeObject } from '../../kube/objects.ts';
import type { Node, Pod } from '../../kube/types.ts';
import type { Reflector } from '../../kube/watch.ts';
import { KUBERNETES_SERVICE_IP } from '../control-plane.ts';
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
  };
}

const NS = 'default';
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
  const lab = await Lab.up({
    ...(params.netwarden ? { netwarden: {} } : {}),
    nodes: params.nodes,
    proxyMode: params.proxyMode,
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
  let expected = params.apiClients + params.tcpServers + 1;
  if (params.netwarden) {
    // Recycling must respect a budget that allows one echo pod down at a time...
    await lab.admin.objects.apply(echoBudget());
    // ...and leave a broken pod without a controller alone (report it).
    await lab.admin.objects.apply(barePod(rebooted));
    expected += 1;
  }
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
  // A pod that arrives after the CNI is ready but before the data path is verified (it tolerates
  // netwarden's taint, like a DaemonSet): early, yet healthy — netwarden must not touch it.
  let earlyOk = false;
  const earlyAt = node.bootedAt + params.cniReadyDelayMs + 1_000;
  const expectEarlyOk = params.netwarden && params.cniReadyDelayMs + 2_000 < params.kubeProxyDelayMs;

  // Observe: data path readiness (rules for every Service) and whether all pods are Ready again.
  let dataPathReadyAt: number | null = null;
  let allReadyAt: number | null = null;
  const pdbSamples: { at: number; unavailable: number }[] = [];
  const end = t0 + params.observeMs;
  while (Date.now() < end) {
    if (dataPathReadyAt === null) {
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
    if (expectEarlyOk && !earlyOk && Date.now() >= earlyAt) {
      earlyOk = true;
      await lab.admin.objects.apply(earlyHealthy(rebooted));
      tracker.add(Date.now(), {
        event: 'early-healthy-created',
        node: rebooted,
        detail: 'tolerates the gate taint; sandboxed after the CNI is ready',
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

  // Control experiment: delete one broken, controller-owned pod; a new sandbox should heal it.
  let controlExperiment: RebootRaceReport['summary']['controlExperiment'] = null;
  let healedByDelete = 0;
  const candidates = params.netwarden ? [] : brokenFacts.filter((f) => f.key.startsWith(`${NS}/api-client-`));
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

const rel = (ms: number | undefined, t0: number): number | null => (ms === undefined ? null : ms - t0);

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
          image: 'lab/api-client',
          readinessProbe: { tcpSocket: { port: 8081 }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
    },
  };
}

/** A healthy tcp-server that tolerates netwarden's taint, pinned to `node`. */
function earlyHealthy(node: string): KubeObject {
  const d = spreadDeployment({
    name: 'early-ok',
    namespace: NS,
    image: 'lab/tcp-server',
    replicas: 1,
    port: 8080,
    nodeSelector: { 'kubernetes.io/hostname': node },
  });
  const spec = (
    d.spec as { template: { metadata: { labels: Record<string, string> }; spec: Record<string, unknown> } }
  ).template;
  spec.metadata.labels['netwarden.dev/scenario-role'] = 'early-healthy';
  spec.spec.tolerations = [{ key: TAINT_KEY, operator: 'Exists', effect: 'NoSchedule' }];
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
