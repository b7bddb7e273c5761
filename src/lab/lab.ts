/**
 * The whole lab: a real control plane, a VPC namespace, N nodes each with containerd and the
 * real kubelet (node.ts), kube-proxy as a DaemonSet from a locally built image, real CNI plugins
 * run by containerd, and a real CoreDNS as cluster DNS. `Lab.up()` returns when every node is
 * Ready, DNS answers and kube-proxy has programmed every Service on every node; `down()` removes
 * everything.
 */
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Pod } from '../core/objects.ts';
import { NetwardenError } from '../errors.ts';
import { connect, type KubeApis } from '../kube/connect.ts';
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
   * Run the netwarden agent on every node (under the ServiceAccount and RBAC the chart renders),
   * from `entry` (default src/cli/main.ts; e.g. a bundle, to measure the shipped form), with
   * `bootGate` its boot gate on (see {@link bootGateAgentArgs}).
   */
  readonly netwarden?: {
    readonly args?: readonly string[];
    readonly entry?: string;
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

  private constructor(init: {
    run: LabRun;
    cp: ControlPlane;
    admin: KubeApis;
    nodes: LabNode[];
    binaries: ResolvedBinaries;
    options: LabOptions;
    startedMs: number;
  }) {
    this.run = init.run;
    this.cp = init.cp;
    this.admin = init.admin;
    this.nodes = init.nodes;
    this.binaries = init.binaries;
    this.options = init.options;
    this.startedMs = init.startedMs;
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
    const agentKubeconfig = options.netwarden
      ? await installAgentIdentity(admin, cp, labServer, binaries.paths.helm)
      : undefined;
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
          images: Object.values(images).map((img) => ({ name: img.name, tarPath: img.tarPath })),
          sandboxImage: labImageName('pause'),
          podCidr: async () => (await admin.nodes.get(name))?.spec?.podCIDR,
          ...(options.onNodeEvent ? { onEvent: options.onNodeEvent } : {}),
          ...(agentKubeconfig
            ? {
                agent: {
                  kubeconfig: agentKubeconfig,
                  args: [
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
    const lab = new Lab({ run, cp, admin, nodes, binaries, options, startedMs: t0 });
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
    return lab;
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
 * The API server listens on the root namespace's loopback; nodes and pods reach it at
 * 10.251.0.1:<port> in the VPC namespace. Two forwarder processes join the two over a unix
 * socket in the run folder.
 */
async function startApiForwarders(run: LabRun, apiPort: number): Promise<void> {
  const sock = run.path('api.sock');
  const script = join(REPO_DIR, 'src/lab/forwarder.ts');
  const root = await LabProcess.start({
    name: 'api-forwarder-root',
    cmd: process.execPath,
    args: [script, `unix:${sock}`, `tcp:127.0.0.1:${apiPort}`],
    env: run.env(),
    logFile: run.path('logs', 'api-forwarder-root.log'),
  });
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
