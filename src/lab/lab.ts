/**
 * The whole lab: a real control plane, a VPC namespace, N nodes each with containerd and the
 * real kubelet (node.ts), kube-proxy as a DaemonSet from a locally built image, real CNI plugins
 * run by containerd, and a real CoreDNS as cluster DNS. `Lab.up()` returns when every node is
 * Ready, DNS answers and kube-proxy has programmed every Service on every node; `down()` removes
 * everything.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../core/objects.ts';
import { NetwardenError } from '../errors.ts';
import { connect, type KubeApis } from '../kube/connect.ts';
import {
  AGENT_SELECTOR,
  helmInstallAgents,
  helmUninstallAgents,
  labChartValues,
  waitAgentsReady,
} from './agent-deploy.ts';
import { type AgentImage, ensureAgentImage } from './agent-image.ts';
import { ensureBinaries, type ResolvedBinaries } from './binaries.ts';
import { NAMESPACE as CHART_NAMESPACE, identityOf, renderChart } from './chart.ts';
import { ControlPlane } from './control-plane.ts';
import { ensureLabImages, labImageName } from './images.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import { coreDns, coreDnsRbac, KUBE_PROXY_OFF_LABEL, kubeProxy } from './manifests.ts';
import { API_LAB_IP, createVpc, routePodCidr, vpcNetns } from './network.ts';
import { type BootOptions, LabNode, type NodeEvent } from './node.ts';
import { clusterState, kubeProxyProblems } from './observe.ts';
import { issueCert } from './pki.ts';
import { freePort } from './ports.ts';
import { LabProcess } from './process.ts';
import { LabRun } from './run-dir.ts';
import { waitFor } from './wait.ts';

/**
 * Faults the lab can inject:
 * - `cni-config-persisted`: the CNI config of the previous boot stays on the node's disk, so
 *   containerd uses it at once, before the CNI daemon is ready (else the daemon writes it when ready);
 * - `early-pods-lose-route`: pods whose CNI ADD runs before the daemon is ready get no
 *   `from <podIP>` rule (cni-plugins/vpc-rules.ts); needs `cni-config-persisted` to bite;
 * - `stale-iptables-restore`: the ruleset of before the reboot is restored with FORWARD DROP
 *   shortly after kube-proxy starts (node.ts).
 * - `forward-drop-restored`: a saved ruleset of the node image (`:FORWARD DROP`, no rules) is
 *   restored without --noflush shortly after kube-proxy starts (awslabs/amazon-eks-ami#526);
 * - `vpc-rules-in-legacy`: the CNI daemon writes the VPC CNI's node rules (SNAT and connmark
 *   chains) with iptables-legacy when it becomes ready, while kube-proxy uses iptables-nft
 *   (amazon-vpc-cni-k8s#2103).
 * The last two, and `cni-config-persisted`, can also be given for one boot (BootOptions.faults),
 * and LabNode applies and undoes the last two at runtime.
 */
export const LAB_FAULTS = [
  'early-pods-lose-route',
  'cni-config-persisted',
  'stale-iptables-restore',
  'forward-drop-restored',
  'vpc-rules-in-legacy',
] as const;
/** One fault name. */
export type LabFault = (typeof LAB_FAULTS)[number];
/** Returns `faults` if they make sense together; throws a usage error naming the problem. */
export function checkFaults(faults: readonly LabFault[]): LabFault[] {
  if (faults.includes('early-pods-lose-route') && !faults.includes('cni-config-persisted'))
    throw new NetwardenError(
      'usage',
      '--faults: early-pods-lose-route needs cni-config-persisted (without a CNI config on the disk no pod gets its network before the CNI is ready, so no pod can lose its route)',
    );
  return [...faults];
}

/** How to build the lab. */
export interface LabOptions {
  readonly nodes?: number;
  readonly proxyMode?: 'iptables' | 'nftables';
  readonly faults?: readonly LabFault[];
  /** The node CoreDNS runs on (default: node-1). */
  readonly dnsNode?: string;
  readonly log?: (line: string) => void;
  readonly onNodeEvent?: (e: NodeEvent) => void;
  readonly readyTimeoutMs?: number;
  /**
   * Run the netwarden agent on every node, deployed as `deploy` says:
   * - `process` (the default here; the CLI's and the scenario's default is `helm`): a program in
   *   each node (LabNode.startAgent) from `entry` (default src/cli/main.ts; e.g. a bundle, to
   *   measure the shipped form) with `args`, under a token of the ServiceAccount and RBAC the chart
   *   renders (not bound to a pod, so the own-node policy is not in play);
   * - `helm`: the image built from this checkout (agent-image.ts) imported into every node's
   *   containerd and the chart installed with the pinned `helm install`; `config` adds chart
   *   `config.*` values (agent settings by their chart names). The kubelet runs the agents as
   *   DaemonSet pods with pod-bound tokens, and recreates them after a reboot.
   */
  readonly netwarden?: {
    readonly deploy?: AgentDeployment;
    readonly args?: readonly string[];
    readonly entry?: string;
    readonly config?: Readonly<Record<string, string | number | boolean>>;
    /** Process mode only: the boot gate on (see {@link bootGateAgentArgs}). */
    readonly bootGate?: LabBootGate;
  };
}

/** The boot gate in the lab: its timings (the agent's defaults where not given). */
export interface LabBootGate {
  readonly deadlineMs?: number;
  readonly agentStartGraceMs?: number;
  readonly maxWaitMs?: number;
}

/** Where a lab node keeps the boot gate's state: under its /run, which every boot empties (a tmpfs on a real node). */
export const LAB_BOOT_GATE_STATE_DIR = '/run/netwarden';

/**
 * The agent flags of the boot gate on a lab node, as the DaemonSet passes them: the agent copies
 * `plugin` (the lab's build of tools/cni-gate, where the image has /opt/netwarden/bin) into the
 * node's CNI bin folder and keeps it last in the node's conflist. The node's own mount namespace
 * gives it /opt/cni/bin, /etc/cni/net.d, /run and the per-node boot id file at the standard paths.
 */
export function bootGateAgentArgs(plugin: string, gate: LabBootGate): string[] {
  return [
    '--boot-gate',
    `--boot-gate-plugin=${plugin}`,
    '--cni-bin-dir=/opt/cni/bin',
    `--boot-gate-state-dir=${LAB_BOOT_GATE_STATE_DIR}`,
    ...(gate.deadlineMs !== undefined ? [`--boot-gate-deadline=${gate.deadlineMs}ms`] : []),
    ...(gate.agentStartGraceMs !== undefined
      ? [`--boot-gate-agent-start-grace=${gate.agentStartGraceMs}ms`]
      : []),
    ...(gate.maxWaitMs !== undefined ? [`--boot-gate-max-wait=${gate.maxWaitMs}ms`] : []),
  ];
}

/** How the lab runs the agents: chart-installed DaemonSet pods, or programs inside the nodes. */
export type AgentDeployment = 'helm' | 'process';

/** Defaults of a boot (first boot and reboots). */
export const DEFAULT_BOOT: BootOptions = { kubeProxyDelayMs: 0, cniReadyDelayMs: 0 };

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** A running lab. */
export class Lab {
  readonly run: LabRun;
  readonly cp: ControlPlane;
  readonly admin: KubeApis;
  readonly nodes: LabNode[];
  readonly binaries: ResolvedBinaries;
  readonly options: LabOptions;
  readonly startedMs: number;
  /** How the agents run (undefined: no agents). */
  readonly agentDeployedBy: AgentDeployment | undefined;
  /** The API server as nodes reach it without kube-proxy. */
  readonly apiServer: { readonly host: string; readonly port: number };
  /** With helm deployment: the agent image the nodes imported. */
  readonly agentImage: AgentImage | undefined;

  private constructor(init: {
    run: LabRun;
    cp: ControlPlane;
    admin: KubeApis;
    nodes: LabNode[];
    binaries: ResolvedBinaries;
    options: LabOptions;
    startedMs: number;
    apiServer: { host: string; port: number };
    agentImage: AgentImage | undefined;
  }) {
    this.run = init.run;
    this.cp = init.cp;
    this.admin = init.admin;
    this.nodes = init.nodes;
    this.binaries = init.binaries;
    this.options = init.options;
    this.startedMs = init.startedMs;
    this.apiServer = init.apiServer;
    this.agentImage = init.agentImage;
    this.agentDeployedBy = init.options.netwarden ? (init.options.netwarden.deploy ?? 'process') : undefined;
  }

  /** Builds the lab. On failure everything started so far is removed before the error is thrown. */
  static async up(options: LabOptions = {}): Promise<Lab> {
    const t0 = performance.now();
    const log = options.log ?? (() => {});
    const binaries = await ensureBinaries({ log });
    const run = await LabRun.create();
    try {
      return await Lab.#build(run, binaries, options, log, t0);
    } catch (err) {
      // Keep the logs for the post-mortem; the next lab command removes them with the stale run.
      await run.close({ keepFiles: true });
      log(`lab ${run.id} failed to come up; logs kept in ${run.dir}`);
      throw err;
    }
  }

  static async #build(
    run: LabRun,
    binaries: ResolvedBinaries,
    options: LabOptions,
    log: (l: string) => void,
    t0: number,
  ): Promise<Lab> {
    const count = options.nodes ?? 2;
    checkFaults(options.faults ?? []);
    const timeout = options.readyTimeoutMs ?? 120_000;
    await createVpc(run.id);
    log(`lab ${run.id}: VPC namespace ${vpcNetns(run.id)} (router 10.250.0.1, API address ${API_LAB_IP})`);

    const apiPort = await freePort();
    const cp = await ControlPlane.start({
      run,
      binaries: binaries.paths,
      controllerManager: true,
      scheduler: true,
      apiServerPort: apiPort,
      advertiseAddress: API_LAB_IP,
      log,
    });
    const labServer = `https://${API_LAB_IP}:${apiPort}`;
    await startApiForwarders(run, apiPort);
    const admin = connect({ kubeconfigPath: cp.adminKubeconfig });

    const images = await ensureLabImages(binaries.paths, log);
    const deploy = options.netwarden ? (options.netwarden.deploy ?? 'process') : undefined;
    if (deploy === 'helm' && (options.netwarden?.args?.length || options.netwarden?.entry))
      throw new NetwardenError(
        'usage',
        'netwarden.args and netwarden.entry are for process deployment; with helm use netwarden.config (chart values)',
      );
    if (deploy === 'helm' && options.netwarden?.bootGate)
      throw new NetwardenError(
        'usage',
        "the lab's boot gate runs with process deployment of the agents (--agent-deploy process): its helm mode does not install the plugin",
      );
    const agentImage = deploy === 'helm' ? await ensureAgentImage(log) : undefined;
    if (agentImage)
      log(
        `lab ${run.id}: agent image ${agentImage.name} (${agentImage.manifestDigest.slice(0, 19)}, ${agentImage.built ? 'built' : 'cached'})`,
      );
    const agentKubeconfig =
      deploy === 'process'
        ? await installAgentIdentity(admin, cp, labServer, binaries.paths.helm)
        : undefined;
    const nodeImages = [
      ...Object.values(images).map((img) => ({ name: img.name, tarPath: img.tarPath })),
      ...(agentImage ? [{ name: agentImage.name, tarPath: agentImage.tarPath }] : []),
    ];
    for (const obj of kubeProxy({ server: labServer, mode: options.proxyMode ?? 'iptables' }))
      await admin.objects.apply(obj);
    const nodes: LabNode[] = [];
    for (let i = 1; i <= count; i++) {
      const name = `node-${i}`;
      const cert = await issueCert(cp.pki.dir, cp.pki.ca, `kubelet-${name}`, {
        cn: `system:node:${name}`,
        orgs: ['system:nodes'],
      });
      nodes.push(
        new LabNode({
          run,
          name,
          index: i,
          binaries: binaries.paths,
          kubeletKubeconfig: writeKubeconfig(
            run.path('kubeconfigs', `kubelet-${name}.kubeconfig`),
            labServer,
            cp.pki.ca.cert,
            name,
            { certFile: cert.cert, keyFile: cert.key },
          ),
          caFile: cp.pki.ca.cert,
          faults: options.faults ?? [],
          nodeBinary: process.execPath,
          repoDir: REPO_DIR,
          images: nodeImages,
          sandboxImage: labImageName('pause'),
          podCidr: async () => (await admin.nodes.get(name))?.spec?.podCIDR,
          ...(options.onNodeEvent ? { onEvent: options.onNodeEvent } : {}),
          ...(agentKubeconfig
            ? {
                agent: {
                  kubeconfig: agentKubeconfig,
                  args: [
                    // where the image carries it at the flag's default
                    `--nft-generation-bin=${binaries.paths['netwarden-nft-generation']}`,
                    ...(options.netwarden?.bootGate
                      ? bootGateAgentArgs(binaries.paths['netwarden-cni-gate'], options.netwarden.bootGate)
                      : []),
                    ...(options.netwarden?.args ?? []),
                  ],
                  ...(options.netwarden?.entry ? { entry: options.netwarden.entry } : {}),
                },
              }
            : {}),
        }),
      );
    }
    run.onClose(async () => {
      const problems: string[] = [];
      for (const n of nodes) problems.push(...(await n.powerOff().catch((e: unknown) => [String(e)])));
      if (problems.length > 0) throw new Error(problems.join('; '));
    });
    await Promise.all(nodes.map((n) => n.boot(DEFAULT_BOOT)));
    const lab = new Lab({
      run,
      cp,
      admin,
      nodes,
      binaries,
      options,
      startedMs: t0,
      apiServer: { host: API_LAB_IP, port: apiPort },
      agentImage,
    });
    await lab.#waitNodesReady(timeout);
    log(`lab ${run.id}: ${count} node(s) Ready, pod CIDRs routed`);
    await lab.#deployDns(options.dnsNode ?? 'node-1', timeout);
    log(
      `lab ${run.id}: CoreDNS Ready behind kube-dns (10.96.0.10) after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    await lab.waitDataPath(timeout);
    log(
      `lab ${run.id}: kube-proxy has programmed every Service on every node after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    if (agentImage) {
      await lab.helmInstallAgents(timeout);
      log(
        `lab ${run.id}: helm-installed agents Ready on every node after ${((performance.now() - t0) / 1000).toFixed(1)} s`,
      );
    }
    return lab;
  }

  /**
   * `helm install` of the chart with the lab's values (labChartValues: the imported image, the
   * lab's CNI endpoints, the API server's lab address) and a bounded wait until every node runs a
   * Ready agent pod under the chart's ServiceAccount. Only with helm deployment.
   */
  async helmInstallAgents(timeoutMs = 120_000): Promise<void> {
    const image = this.agentImage;
    if (!image) throw new NetwardenError('usage', 'the lab was not built with helm deployment of the agents');
    await helmInstallAgents({
      helm: this.binaries.paths.helm,
      kubeconfig: this.cp.adminKubeconfig,
      runDir: this.run.dir,
      values: labChartValues({
        image,
        apiHost: this.apiServer.host,
        apiPort: this.apiServer.port,
        ...(this.options.netwarden?.config ? { config: this.options.netwarden.config } : {}),
      }),
    });
    await this.waitAgentsReady(timeoutMs);
  }

  /**
   * Waits (bounded) until every powered node runs a Ready, chart-installed agent pod; the error
   * names the node, the pod, its container's last state, its newest Events and the pod logs' folder.
   */
  async waitAgentsReady(timeoutMs = 120_000): Promise<void> {
    const powered = this.nodes.filter((n) => n.holder?.running);
    await waitAgentsReady(
      this.admin,
      powered.map((n) => n.name),
      timeoutMs,
    ).catch((err: unknown) => {
      const logs = powered.map((n) => `${n.name}: ${n.hostPath('/var/log/pods')}`).join(', ');
      const tails = powered.flatMap((n) => {
        const tail = agentLogTail(n.hostPath('/var/log/pods'), 6);
        return tail ? [`${n.name} agent log: ${tail}`] : [];
      });
      throw new NetwardenError(
        'lab-timeout',
        `${err instanceof Error ? err.message : String(err)}${tails.length ? `; ${tails.join('; ')}` : ''} (pod logs: ${logs})`,
      );
    });
  }

  /** The release's agent pods (helm deployment), from the API. */
  async agentPods(): Promise<Pod[]> {
    return this.admin.objects.list<Pod>('v1', 'Pod', {
      namespace: CHART_NAMESPACE,
      labelSelector: AGENT_SELECTOR,
    });
  }

  /** `helm uninstall` of the agents' release; returns once helm has run the post-delete clean-up Job. */
  async helmUninstallAgents(): Promise<string> {
    return helmUninstallAgents({
      helm: this.binaries.paths.helm,
      kubeconfig: this.cp.adminKubeconfig,
      runDir: this.run.dir,
    });
  }

  /** The node called `name`; throws a clear error for an unknown one. */
  node(name: string): LabNode {
    const n = this.nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no lab node "${name}" (have ${this.nodes.map((x) => x.name).join(', ')})`);
    return n;
  }

  /** Hard reboot of a node: power off, wait `downtimeMs`, boot with the given delays. */
  async reboot(name: string, opts: BootOptions & { downtimeMs?: number }): Promise<void> {
    const node = this.node(name);
    await node.powerOff();
    await new Promise((r) => setTimeout(r, opts.downtimeMs ?? 1_000));
    await node.boot(opts);
  }

  /** Waits until kube-proxy on every powered node has programmed every Service as the cluster says. */
  async waitDataPath(timeoutMs: number): Promise<void> {
    const mode = this.options.proxyMode ?? 'iptables';
    for (const node of this.nodes.filter((n) => n.holder?.running)) {
      let last = '';
      await waitFor(
        `kube-proxy on ${node.name} to program every Service (logs: ${node.hostPath('/var/log/pods')})`,
        async () => {
          const problems = await kubeProxyProblems(
            node.netns,
            mode,
            await clusterState(this.admin.objects),
            node.name,
          );
          last = problems.map((p) => p.title).join('; ');
          return problems.length === 0;
        },
        timeoutMs,
        250,
      ).catch((err: unknown) => {
        throw new Error(`${err instanceof Error ? err.message : String(err)}; still wrong: ${last}`);
      });
    }
  }

  /** Pods on a node (or all pods), from the API. */
  async pods(nodeName?: string): Promise<Pod[]> {
    const all = await this.admin.objects.list<Pod>(
      'v1',
      'Pod',
      nodeName ? { fieldSelector: `spec.nodeName=${nodeName}` } : {},
    );
    return all;
  }

  /**
   * Imports an image tar (OCI layout or Docker archive) into every node's containerd, so that pods
   * can run it with `imagePullPolicy: Never`. The nodes' disks keep it across reboots.
   */
  async importImage(tarPath: string): Promise<void> {
    await Promise.all(this.nodes.filter((n) => n.holder?.running).map((n) => n.importImage(tarPath)));
  }

  /** Takes kube-proxy's DaemonSet pod off a node (its rules stay in the kernel) and waits until it is gone. */
  async stopKubeProxy(nodeName: string, timeoutMs = 60_000): Promise<void> {
    await this.#labelNode(nodeName, { [KUBE_PROXY_OFF_LABEL]: 'off' });
    await waitFor(
      `kube-proxy's pod on ${nodeName} to go`,
      async () => !(await this.#kubeProxyPod(nodeName)),
      timeoutMs,
      250,
    );
  }

  /** Lets kube-proxy's DaemonSet run on the node again; resolves once its pod exists (not once it is ready). */
  async startKubeProxy(nodeName: string, timeoutMs = 60_000): Promise<void> {
    await this.#labelNode(nodeName, {});
    await waitFor(`kube-proxy's pod on ${nodeName}`, () => this.#kubeProxyPod(nodeName), timeoutMs, 250);
  }

  async #kubeProxyPod(nodeName: string): Promise<Pod | undefined> {
    const pods = await this.admin.objects.list<Pod>('v1', 'Pod', {
      namespace: 'kube-system',
      labelSelector: 'k8s-app=kube-proxy',
      fieldSelector: `spec.nodeName=${nodeName}`,
    });
    return pods[0];
  }

  /** Server-side apply of the lab's own node labels (labels it set earlier and omits now are removed). */
  async #labelNode(nodeName: string, labels: Record<string, string>): Promise<void> {
    this.node(nodeName);
    await this.admin.objects.apply({ apiVersion: 'v1', kind: 'Node', metadata: { name: nodeName, labels } });
  }

  /** Whether a node's CNI daemon is ready on its current boot. */
  cniReady(nodeName: string): boolean {
    return this.node(nodeName).cniReadyAt !== undefined;
  }

  /** Removes every lab object; returns problems (empty when clean). */
  async down(): Promise<string[]> {
    return this.run.close();
  }

  async #waitNodesReady(timeoutMs: number): Promise<void> {
    for (const node of this.nodes) {
      const cidr = await waitFor(
        `node ${node.name} to be Ready with a pod CIDR (kubelet log: ${node.kubelet?.spec.logFile ?? '?'})`,
        async () => {
          const n = await this.admin.nodes.get(node.name);
          const ready = n?.status?.conditions?.find((c) => c.type === 'Ready')?.status === 'True';
          return ready && n?.spec?.podCIDR;
        },
        timeoutMs,
      );
      await routePodCidr(this.run.id, cidr, node.spec.index);
    }
  }

  async #deployDns(dnsNode: string, timeoutMs: number): Promise<void> {
    for (const obj of coreDnsRbac()) await this.admin.objects.apply(obj);
    for (const obj of coreDns(dnsNode)) await this.admin.objects.apply(obj);
    await waitFor(
      `CoreDNS to be Ready (logs: ${this.node(dnsNode).hostPath('/var/log/pods')})`,
      async () => {
        const pods = await this.admin.objects.list<Pod>('v1', 'Pod', {
          namespace: 'kube-system',
          labelSelector: 'k8s-app=kube-dns',
        });
        return pods.some((p) => p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'));
      },
      timeoutMs,
    );
  }
}

/**
 * Applies the agent's ServiceAccount and RBAC exactly as the chart renders them (the one source,
 * through the pinned helm) and writes a kubeconfig holding a token of that ServiceAccount, so the
 * lab's agents run with exactly the permissions a cluster grants. Not the chart's own-node
 * admission policy: lab agents are processes, not pods, so their token is bound to no pod and
 * carries no node name (that policy is proven in test/integration/own-node-policy.test.ts).
 */
export async function installAgentIdentity(
  admin: KubeApis,
  cp: ControlPlane,
  server: string,
  helm: string,
): Promise<string> {
  const objects = await renderChart({
    helm,
    showOnly: ['templates/serviceaccount.yaml', 'templates/rbac.yaml'],
  });
  await admin.objects.apply({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: CHART_NAMESPACE } });
  const identity = identityOf(objects, 'agent');
  for (const obj of identity) await admin.objects.apply(obj);
  const sa = identity.find((o) => o.kind === 'ServiceAccount')?.metadata?.name ?? '';
  const token = await admin.objects.serviceAccountToken(CHART_NAMESPACE, sa, 86_400);
  return cp.tokenKubeconfig(CHART_NAMESPACE, sa, token, server);
}

/**
 * The last `lines` lines of the newest log of the chart's agent container in a node's pod log
 * folder (`<ns>_<pod>_<uid>/agent/<restart>.log`, CRI format), or undefined when there is none.
 */
function agentLogTail(podLogDir: string, lines: number): string | undefined {
  try {
    const newest = readdirSync(podLogDir)
      .filter((d) => d.startsWith(`${CHART_NAMESPACE}_`) && d.includes('-agent-'))
      .flatMap((d) => {
        const dir = join(podLogDir, d, 'agent');
        return existsSync(dir) ? readdirSync(dir).map((f) => join(dir, f)) : [];
      })
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs)[0];
    if (!newest) return undefined;
    return readFileSync(newest, 'utf8')
      .trimEnd()
      .split('\n')
      .slice(-lines)
      .map((l) => l.replace(/^\S+ (stdout|stderr) [FP] /, ''))
      .join(' | ');
  } catch {
    return undefined;
  }
}

/** The forwarder program (run by the project's Node.js): `forwarder.ts <listen> <connect>`. */
export const API_FORWARDER_SCRIPT = join(REPO_DIR, 'src/lab/forwarder.ts');

/** The unix socket in the run folder that joins the root namespace's forwarder to the others. */
export function apiForwarderSocket(run: LabRun): string {
  return run.path('api.sock');
}

/**
 * The root namespace's half: the run's unix socket → the API server on loopback. The caller
 * stops it (or registers it with the run).
 */
export function startRootApiForwarder(run: LabRun, apiPort: number): Promise<LabProcess> {
  return LabProcess.start({
    name: 'api-forwarder-root',
    cmd: process.execPath,
    args: [API_FORWARDER_SCRIPT, `unix:${apiForwarderSocket(run)}`, `tcp:127.0.0.1:${apiPort}`],
    env: run.env(),
    logFile: run.path('logs', 'api-forwarder-root.log'),
  });
}

/**
 * The API server listens on the root namespace's loopback; nodes and pods reach it at
 * 10.251.0.1:<port> in the VPC namespace. Two forwarder processes join the two over a unix
 * socket in the run folder.
 */
async function startApiForwarders(run: LabRun, apiPort: number): Promise<void> {
  const sock = apiForwarderSocket(run);
  const script = API_FORWARDER_SCRIPT;
  const root = await startRootApiForwarder(run, apiPort);
  const vpc = await LabProcess.start({
    name: 'api-forwarder-vpc',
    cmd: 'nsenter',
    args: [
      `--net=/var/run/netns/${vpcNetns(run.id)}`,
      process.execPath,
      script,
      `tcp:${API_LAB_IP}:${apiPort}`,
      `unix:${sock}`,
    ],
    env: run.env(),
    logFile: run.path('logs', 'api-forwarder-vpc.log'),
  });
  run.onClose(async () => {
    await vpc.stop();
    await root.stop();
  });
  await waitFor(
    'the API forwarders to listen',
    () => root.logTail(1).includes('forwarding') && vpc.logTail(1).includes('forwarding'),
    10_000,
    50,
  );
}
