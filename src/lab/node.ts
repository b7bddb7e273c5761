/**
 * One lab node: its network namespace, its kubelet and kube-proxy processes, and its boot cycle.
 * `powerOff()` is a hard reboot's first half — every process of the node dies, its netfilter
 * state, routes, rules and pod namespaces vanish with the namespaces; `boot()` brings it back
 * with a new bootID, starts the kubelet at once, marks the CNI "ready" and starts kube-proxy
 * after their configured delays.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabBinary } from './binaries.ts';
import { cniReadyFile, type KubeletConfig, vpcCniStateDir } from './kubelet/config.ts';
import { createNodeNetwork, deleteNetns, listNetns, nodeIp, nodeNetns } from './network.ts';
import { LabProcess } from './process.ts';
import { type LabRun, pidsWithEnv, RUN_ENV, waitUntil } from './run-dir.ts';

/** Env var naming the lab node a process belongs to (kubelet, kube-proxy, containers). */
export const NODE_ENV = 'NETWARDEN_LAB_NODE';

/** What the node does at boot, and when (ms after boot). */
export interface BootOptions {
  /** kube-proxy starts this long after boot (`kube-proxy-delay`). */
  readonly kubeProxyDelayMs: number;
  /** The node's CNI daemon counts as ready this long after boot. */
  readonly cniReadyDelayMs: number;
}

/** Something that happened to a node, for scenario timelines. */
export interface NodeEvent {
  readonly atMs: number;
  readonly node: string;
  readonly event:
    | 'power-off'
    | 'boot'
    | 'kubelet-started'
    | 'agent-started'
    | 'cni-ready'
    | 'kube-proxy-started';
  readonly detail?: string;
}

/** Fixed facts a node needs from its lab. */
export interface LabNodeSpec {
  readonly run: LabRun;
  readonly name: string;
  readonly index: number;
  readonly binaries: Readonly<Record<LabBinary, string>>;
  readonly kubeletKubeconfig: string;
  readonly kubeProxyKubeconfig: string;
  readonly proxyMode: 'iptables' | 'nftables';
  readonly timeScale: number;
  readonly faults: readonly string[];
  readonly cniBinDir: string;
  readonly nodeBinary: string;
  readonly repoDir: string;
  readonly kubernetesVersion: string;
  readonly onEvent?: (e: NodeEvent) => void;
  /** Run the netwarden agent on the node (as a DaemonSet would), with these extra flags. */
  readonly agent?: { readonly kubeconfig: string; readonly args: readonly string[] };
}

/** A lab node. */
export class LabNode {
  readonly spec: LabNodeSpec;
  readonly ip: string;
  readonly netns: string;
  bootId = '';
  bootedAt = 0;
  kubelet: LabProcess | undefined;
  kubeProxy: LabProcess | undefined;
  agent: LabProcess | undefined;
  #timers: NodeJS.Timeout[] = [];

  constructor(spec: LabNodeSpec) {
    this.spec = spec;
    this.ip = nodeIp(spec.index);
    this.netns = nodeNetns(spec.run.id, spec.name);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The node's persistent folder (its "disk"); survives reboots. */
  get nodeDir(): string {
    return this.spec.run.path('nodes', this.name, 'disk');
  }

  /** The node's per-boot folder (its "tmpfs"); wiped by a reboot. */
  get bootDir(): string {
    return this.spec.run.path('nodes', this.name, 'boot');
  }

  /** Brings the node up: network, kubelet now, CNI-ready and kube-proxy after their delays. */
  async boot(opts: BootOptions): Promise<void> {
    const { run, name } = this.spec;
    rmSync(this.bootDir, { recursive: true, force: true });
    mkdirSync(this.bootDir, { recursive: true });
    mkdirSync(this.nodeDir, { recursive: true });
    await createNodeNetwork(run.id, name, this.spec.index);
    this.bootId = randomUUID();
    this.bootedAt = Date.now();
    this.#emit('boot', `bootID ${this.bootId}`);

    const cfg: KubeletConfig = {
      runId: run.id,
      nodeName: name,
      nodeIp: this.ip,
      kubeconfig: this.spec.kubeletKubeconfig,
      bootId: this.bootId,
      nodeDir: this.nodeDir,
      bootDir: this.bootDir,
      cniBinDir: this.spec.cniBinDir,
      podLogDir: run.path('logs', 'pods'),
      timeScale: this.spec.timeScale,
      faults: [...this.spec.faults],
      kubeletVersion: `${this.spec.kubernetesVersion}-lab`,
      images: { node: this.spec.nodeBinary, repo: this.spec.repoDir, coredns: this.spec.binaries.coredns },
    };
    const cfgPath = join(this.bootDir, 'kubelet.json');
    writeFileSync(cfgPath, JSON.stringify(cfg, null, 2));
    this.kubelet = await this.#startScript('kubelet', 'src/lab/kubelet/main.ts', [cfgPath]);
    this.#emit('kubelet-started');
    await this.#startCniDaemon(cniReadyFile(cfg), vpcCniStateDir(cfg));
    if (this.spec.agent) await this.startAgent();
    this.#after(opts.cniReadyDelayMs, () => {
      writeFileSync(cniReadyFile(cfg), `${new Date().toISOString()}\n`);
      this.#emit('cni-ready');
    });
    this.#after(opts.kubeProxyDelayMs, () => this.startKubeProxy());
  }

  /** Starts kube-proxy in the node's namespace (also used to bring it back after a stop). */
  async startKubeProxy(): Promise<void> {
    if (this.kubeProxy?.running) return;
    const { run, name } = this.spec;
    const config = {
      apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
      kind: 'KubeProxyConfiguration',
      clientConnection: { kubeconfig: this.spec.kubeProxyKubeconfig },
      hostnameOverride: name,
      mode: this.spec.proxyMode,
      clusterCIDR: '10.244.0.0/16',
      bindAddress: '0.0.0.0',
      healthzBindAddress: '0.0.0.0:10256',
      metricsBindAddress: '0.0.0.0:10249',
      // Leave conntrack sysctls alone: some are machine-wide.
      conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
      iptables: { syncPeriod: '30s', minSyncPeriod: '1s' },
      nftables: { syncPeriod: '30s', minSyncPeriod: '1s' },
    };
    const cfgPath = join(this.bootDir, 'kube-proxy.json');
    writeFileSync(cfgPath, JSON.stringify(config, null, 2));
    this.kubeProxy = await LabProcess.start({
      name: `kube-proxy-${name}`,
      cmd: this.spec.binaries['kube-proxy'],
      args: [`--config=${cfgPath}`, '--v=1'],
      env: run.env({ [NODE_ENV]: name }),
      logFile: run.path('logs', `kube-proxy-${name}.log`),
      netns: this.netns,
    });
    this.#emit('kube-proxy-started');
  }

  /**
   * Starts the netwarden agent in the node's namespace, pointed at this node's CNI folder; its
   * HTTP surface listens on the node's loopback (127.0.0.1:9746).
   */
  async startAgent(extraArgs: readonly string[] = []): Promise<void> {
    const agent = this.spec.agent;
    if (!agent || this.agent?.running) return;
    const { run, name } = this.spec;
    this.agent = await this.#startScript('agent', 'src/cli/main.ts', [
      'agent',
      `--node-name=${name}`,
      `--kubeconfig=${agent.kubeconfig}`,
      `--cni-conf-dir=${this.nodeDir}/net.d`,
      // The lab's ipamd stand-in: it tells the agent which pods sit on the secondary ENI.
      `--ipamd-url=${LabNode.IPAMD_URL}`,
      `--cni-health-url=${LabNode.CNI_HEALTH_URL}`,
      // kube-proxy runs as a process here, not a pod: no pod tells the agent it belongs on the node.
      '--kube-proxy=expected',
      `--pod-netns-locator=lab:${run.id}`,
      '--listen=127.0.0.1:9746',
      ...agent.args,
      ...extraArgs,
    ]);
    this.#emit('agent-started');
  }

  /** The CNI daemon's health endpoint, as seen from inside the node. */
  static readonly CNI_HEALTH_URL = 'http://127.0.0.1:61678/healthz';
  /** The CNI daemon's ipamd-style introspection, as seen from inside the node. */
  static readonly IPAMD_URL = 'http://127.0.0.1:61678';

  async #startCniDaemon(readyFile: string, stateDir: string): Promise<void> {
    await this.#startScript('cni-daemon', 'src/lab/cni-daemon.ts', [readyFile, '127.0.0.1:61678', stateDir]);
  }

  /** Stops the agent (as `kubectl delete pod` of the DaemonSet pod would). */
  async stopAgent(): Promise<void> {
    await this.agent?.stop();
  }

  /** Starts one of the lab's own Node.js programs in the node's network namespace (nsenter keeps the root mount namespace). */
  #startScript(component: string, script: string, args: readonly string[]): Promise<LabProcess> {
    const { run, name } = this.spec;
    return LabProcess.start({
      name: `${component}-${name}`,
      cmd: 'nsenter',
      args: [
        `--net=/var/run/netns/${this.netns}`,
        this.spec.nodeBinary,
        join(this.spec.repoDir, script),
        ...args,
      ],
      env: run.env({ [NODE_ENV]: name }),
      logFile: run.path('logs', `${component}-${name}.log`),
    });
  }

  /** Stops kube-proxy only (its rules stay in the kernel until flushed). */
  async stopKubeProxy(): Promise<void> {
    await this.kubeProxy?.stop();
  }

  /**
   * Power loss: every process of the node is SIGKILLed, then its pod namespaces and its own
   * namespace are deleted (with them every route, rule and netfilter table). The Node object stays.
   */
  async powerOff(): Promise<void> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    const { run, name } = this.spec;
    await killNodeProcesses(run.id, name);
    this.kubelet = undefined;
    this.kubeProxy = undefined;
    this.agent = undefined;
    for (const ns of await listNetns(`${this.netns}-`)) {
      await deleteNetns(ns);
      rmSync(`/etc/netns/${ns}`, { recursive: true, force: true });
    }
    await deleteNetns(this.netns);
    this.#emit('power-off');
  }

  /** Pod namespaces of this node (`<run>-<node>-<uid8>`). */
  async podNetns(): Promise<string[]> {
    return listNetns(`${this.netns}-`);
  }

  #after(ms: number, fn: () => void | Promise<void>): void {
    this.#timers.push(
      setTimeout(() => {
        void Promise.resolve(fn()).catch(() => {});
      }, ms),
    );
  }

  #emit(event: NodeEvent['event'], detail?: string): void {
    this.spec.onEvent?.({ atMs: Date.now(), node: this.name, event, ...(detail ? { detail } : {}) });
  }
}

/** SIGKILLs every process of one lab node (found by its environment) and waits until they are gone. */
async function killNodeProcesses(runId: string, node: string): Promise<void> {
  const mine = { [RUN_ENV]: runId, [NODE_ENV]: node };
  for (const pid of pidsWithEnv(mine)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  await waitUntil(() => pidsWithEnv(mine).length === 0, 5_000);
}
