/**
 * One lab node: a machine made of a network namespace (its NIC, routes, rules, netfilter), a
 * mount namespace (its disk and its /run, node-mounts.ts), a cgroup root (cgroups.ts), and the
 * programs a Kubernetes node runs: containerd with runc, the real kubelet, the CNI daemon
 * stand-in (cni-daemon.ts) and, on request, the netwarden agent. Pods, kube-proxy (a DaemonSet)
 * and CoreDNS are started by the kubelet like on any node.
 *
 * `powerOff()` is a hard power loss: every process of the node dies at once (kubelet,
 * containerd, shims, containers), its network namespaces (node and pods) and its /run vanish;
 * its disk stays. `boot()` brings it back with a new boot ID; containerd and the kubelet start at
 * once and the kubelet recreates every bound pod itself. The CNI daemon becomes ready, and writes
 * the node's CNI config unless one survived, after `cniReadyDelayMs`; kube-proxy's init container
 * waits until `kubeProxyDelayMs` after boot (boot-wait reads the plan the boot writes to /run).
 */
import { randomUUID } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeError, NetwardenError } from '../errors.ts';
import { run, runOk } from '../host/exec.ts';
import { RUNTIME_FLAGS, runtimeEnv } from '../packaging/runtime.ts';
import type { LabBinary } from './binaries.ts';
import { createCgroupRoot, nodeCgroupName, removeCgroupRoot } from './cgroups.ts';
import { CNI_CONFLIST_NAME, CNI_READY_FILE, labConflist, VPC_RULES_STATE_DIR } from './cni-config.ts';
import { CONTAINERD_SOCKET, CRI_NAMESPACE, containerdConfig, importImage, listImages } from './containerd.ts';
import { kubeletConfiguration } from './kubelet-config.ts';
import { createNodeNetwork, deleteNetns, nodeIp, nodeNetns } from './network.ts';
import { enterNodeArgs, holderScript, nodeMounts } from './node-mounts.ts';
import { LabProcess } from './process.ts';
import { type LabRun, pidsWithEnv, RUN_ENV, waitUntil } from './run-dir.ts';

/** Env var naming the lab node a process belongs to (containerd and the shims inherit it). */
export const NODE_ENV = 'NETWARDEN_LAB_NODE';

/** Where the node's boot writes its plan (in the node's /run): read by boot-wait init containers. */
export const BOOT_PLAN_FILE = '/run/netwarden-lab/boot.json';
/**
 * This boot's start as a `btime <epoch seconds>` line (the /proc/stat form), in the node's /run.
 * Lab nodes share the machine's kernel, whose /proc/stat names the machine's boot: the agent
 * (`--boot-time-file`) and the doctor (`--boot-time-file`) read the node's boot here instead.
 */
export const BOOT_TIME_FILE = '/run/netwarden-lab/btime';
/** The saved ruleset a node image carries and restores at boot (fault `forward-drop-restored`), on the disk. */
const SAVED_RULESET = 'sysconfig-iptables';
/** The VPC CIDRs of the lab for the VPC CNI's node rules: node subnet and pod network. */
const LAB_VPC_CIDRS = ['10.250.0.0/16', '10.244.0.0/16'] as const;

/** How one start of the agent differs from what ships (benches only): see {@link LabNode.startAgent}. */
export interface AgentRuntimeVariant {
  readonly flags?: readonly string[];
  readonly env?: Readonly<Record<string, string>>;
  readonly entry?: string;
}

/** What the node does at boot, and when (ms after boot). */
export interface BootOptions {
  /** kube-proxy's container starts this long after boot (`kube-proxy-delay`). */
  readonly kubeProxyDelayMs: number;
  /** The node's CNI daemon becomes ready this long after boot. */
  readonly cniReadyDelayMs: number;
  /**
   * Faults of this boot only, beside the lab's own (the ones that act at boot:
   * `cni-config-persisted`, `forward-drop-restored`, `vpc-rules-in-legacy`), so one lab can show
   * several field cases one reboot after another.
   */
  readonly faults?: readonly string[];
  /**
   * Start the node's netwarden agent (when it has one) on this boot; default true. False is an
   * agent that is not there after the reboot (its DaemonSet pod not started yet, or removed).
   */
  readonly startAgent?: boolean;
}

/** Something that happened to a node, for scenario timelines. */
export interface NodeEvent {
  readonly atMs: number;
  readonly node: string;
  readonly event:
    | 'power-off'
    | 'boot'
    | 'containerd-started'
    | 'kubelet-started'
    | 'agent-started'
    | 'cni-ready'
    | 'iptables-restored';
  readonly detail?: string;
}

/** Fixed facts a node needs from its lab. */
export interface LabNodeSpec {
  readonly run: LabRun;
  readonly name: string;
  readonly index: number;
  readonly binaries: Readonly<Record<LabBinary, string>>;
  readonly kubeletKubeconfig: string;
  readonly caFile: string;
  readonly faults: readonly string[];
  readonly nodeBinary: string;
  readonly repoDir: string;
  /** Image tars imported into the node's containerd at first boot (the disk keeps them). */
  readonly images: readonly { readonly name: string; readonly tarPath: string }[];
  /** The sandbox image's full name. */
  readonly sandboxImage: string;
  /** The node's pod CIDR once the controller-manager has given it one (the CNI daemon needs it). */
  readonly podCidr: () => Promise<string | undefined>;
  readonly onEvent?: (e: NodeEvent) => void;
  /** Run the netwarden agent on the node (as a DaemonSet would), with these extra flags. */
  readonly agent?: {
    readonly kubeconfig: string;
    readonly args: readonly string[];
    /** The agent's entry file (default src/cli/main.ts; a bundle to measure the shipped form). */
    readonly entry?: string;
  };
}

/** A lab node. */
export class LabNode {
  readonly spec: LabNodeSpec;
  readonly ip: string;
  readonly netns: string;
  readonly cgroup: string;
  bootId = '';
  bootedAt = 0;
  /** When this boot's CNI daemon became ready (undefined before). */
  cniReadyAt: number | undefined;
  holder: LabProcess | undefined;
  containerd: LabProcess | undefined;
  kubelet: LabProcess | undefined;
  agent: LabProcess | undefined;
  #timers: NodeJS.Timeout[] = [];
  /** The faults of the current boot: the lab's plus this boot's own (BootOptions.faults). */
  #bootFaults: readonly string[] = [];

  constructor(spec: LabNodeSpec) {
    this.spec = spec;
    this.ip = nodeIp(spec.index);
    this.netns = nodeNetns(spec.run.id, spec.name);
    this.cgroup = nodeCgroupName(spec.run.id, spec.name);
  }

  get name(): string {
    return this.spec.name;
  }

  /** The node's folder in the run folder (`disk/` survives reboots, `run/` does not). */
  get dir(): string {
    return this.spec.run.path('nodes', this.name, 'x').slice(0, -2);
  }

  /** A path of the node's filesystem as the host sees it (`/run/…` and the disk mounts only). */
  hostPath(nodePath: string): string {
    for (const m of nodeMounts(this.dir)) {
      if (nodePath === m.target || nodePath.startsWith(`${m.target}/`))
        return m.source + nodePath.slice(m.target.length);
    }
    throw new NetwardenError('usage', `${nodePath} is not on a lab node's own folders`);
  }

  /** The node's containerd socket, as the host reaches it. */
  get containerdSocket(): string {
    return this.hostPath(CONTAINERD_SOCKET);
  }

  /** Brings the node up; resolves once the kubelet runs (not once the node is Ready). */
  async boot(opts: BootOptions): Promise<void> {
    const { run, name } = this.spec;
    this.#bootFaults = [...this.spec.faults, ...(opts.faults ?? [])];
    this.#prepareFolders();
    this.bootId = randomUUID();
    this.bootedAt = Date.now();
    this.cniReadyAt = undefined;
    writeFileSync(join(this.dir, 'boot_id'), `${this.bootId}\n`);
    writeFileSync(
      this.hostPath(BOOT_PLAN_FILE),
      `${JSON.stringify({ bootedAtMs: this.bootedAt, kubeProxyDelayMs: opts.kubeProxyDelayMs, cniReadyDelayMs: opts.cniReadyDelayMs })}\n`,
    );
    writeFileSync(this.hostPath(BOOT_TIME_FILE), `btime ${Math.floor(this.bootedAt / 1000)}\n`);
    await createNodeNetwork(run.id, name, this.spec.index);
    createCgroupRoot(this.cgroup);
    this.#emit('boot', `bootID ${this.bootId}`);

    // The holder's log is appended to across boots: wait for this boot's "mounted" line, not the
    // last boot's (else containerd could start before the binds and miss its config in /run).
    const holderLog = run.path('logs', `node-${name}.log`);
    this.holder = await LabProcess.start({
      name: `node-${name}`,
      cmd: 'unshare',
      args: [
        '--mount',
        '--propagation',
        'private',
        '--',
        'sh',
        '-c',
        holderScript(nodeMounts(this.dir), this.bootId),
      ],
      env: run.env({ [NODE_ENV]: name }),
      logFile: holderLog,
    });
    const holder = this.holder;
    if (
      !(await waitUntil(
        () => !holder.running || holder.logTail(1).includes(`mounted ${this.bootId}`),
        10_000,
      )) ||
      !holder.running
    )
      throw new NetwardenError(
        'lab-start-failed',
        `node ${name}: its mount namespace did not come up: ${holder.logSummary(3)} (log: ${holder.spec.logFile})`,
      );

    await this.#startContainerd();
    await this.#startKubelet();
    await this.#startCniDaemon();
    if (this.spec.agent && opts.startAgent !== false) await this.startAgent();
    this.#after(opts.cniReadyDelayMs, () => this.#cniReady());
    if (this.spec.faults.includes('stale-iptables-restore'))
      this.#after(opts.kubeProxyDelayMs + STALE_RESTORE_AFTER_KUBE_PROXY_MS, () =>
        this.#restoreStaleIptables(),
      );
    if (this.#bootFaults.includes('forward-drop-restored'))
      this.#after(opts.kubeProxyDelayMs + STALE_RESTORE_AFTER_KUBE_PROXY_MS, () =>
        this.restoreSavedRuleset(),
      );
  }

  /** Imports an image tar into this node's containerd (the disk keeps it across reboots). */
  async importImage(tarPath: string): Promise<void> {
    await importImage(this.containerdSocket, tarPath);
  }

  /** Folders: the disk once, /run afresh; the CNI config of the last boot goes unless the fault keeps it. */
  #prepareFolders(): void {
    const runDir = join(this.dir, 'run');
    rmSync(runDir, { recursive: true, force: true });
    for (const m of nodeMounts(this.dir)) if (!m.file) mkdirSync(m.source, { recursive: true });
    mkdirSync(this.hostPath('/run/netwarden-lab'), { recursive: true });
    this.#fillCniBin();
    if (!this.#bootFaults.includes('cni-config-persisted'))
      rmSync(this.hostPath(`/etc/cni/net.d/${CNI_CONFLIST_NAME}`), { force: true });
    writeFileSync(
      this.hostPath('/run/netwarden-lab/containerd.toml'),
      containerdConfig({ sandboxImage: this.spec.sandboxImage }),
    );
  }

  /** /opt/cni/bin: the real plugins plus the lab's VPC-rules plugin (once: it is on the disk). */
  #fillCniBin(): void {
    const dir = this.hostPath('/opt/cni/bin');
    for (const name of ['ptp', 'host-local', 'loopback', 'bridge', 'portmap'] as const) {
      if (!existsSync(join(dir, name))) symlinkSync(this.spec.binaries[name], join(dir, name));
    }
    const wrapper = join(dir, 'lab-vpc-rules');
    writeFileSync(
      wrapper,
      `#!/bin/sh\nexec "${this.spec.nodeBinary}" "${join(this.spec.repoDir, 'src/lab/cni-plugins/vpc-rules.ts')}" "$@"\n`,
    );
    chmodSync(wrapper, 0o755);
  }

  /** Starts a program inside the node (its mount and network namespaces). */
  #startInNode(
    component: string,
    cmd: string,
    args: readonly string[],
    env: Record<string, string> = {},
  ): Promise<LabProcess> {
    const { run, name } = this.spec;
    const holder = this.holder;
    if (!holder?.running) throw new NetwardenError('lab-start-failed', `node ${name} is powered off`);
    return LabProcess.start({
      name: `${component}-${name}`,
      cmd: 'nsenter',
      args: [...enterNodeArgs(holder.pid, this.netns), cmd, ...args],
      env: run.env({ ...env, [NODE_ENV]: name }),
      logFile: run.path('logs', `${component}-${name}.log`),
    });
  }

  async #startContainerd(): Promise<void> {
    const proc = await this.#startInNode('containerd', 'containerd', [
      '--config',
      '/run/netwarden-lab/containerd.toml',
    ]);
    this.containerd = proc;
    const socket = this.containerdSocket;
    const up = await waitUntil(
      async () =>
        !proc.running ||
        (existsSync(socket) &&
          (await run('ctr', ['-a', socket, 'version'], { timeoutMs: 5_000 })).code === 0),
      30_000,
      100,
    );
    if (!up || !proc.running)
      throw new NetwardenError(
        'lab-start-failed',
        `containerd on ${this.name} ${proc.running ? 'did not answer within 30 s' : proc.exitStatus}: ${proc.logSummary(3)} (log: ${proc.spec.logFile})`,
      );
    this.#emit('containerd-started');
    const have = new Set(await listImages(socket));
    // One at a time (each import unpacks into the same snapshotter). An image of the disk that
    // is gone after a reboot is imported again; that was seen once in a dozen reboots (the
    // import then failed on a missing parent snapshot, hence one retry after removing the name).
    for (const img of this.spec.images.filter((i) => !have.has(i.name))) {
      if (have.size > 0)
        this.#emit('containerd-started', `image ${img.name} missing after boot: importing it again`);
      try {
        await this.importImage(img.tarPath);
      } catch (err) {
        this.#emit(
          'containerd-started',
          `import of ${img.name} failed, retrying once: ${describeError(err)}`,
        );
        await run('ctr', ['-a', socket, '-n', CRI_NAMESPACE, 'images', 'rm', img.name], {
          timeoutMs: 30_000,
        });
        await this.importImage(img.tarPath);
      }
    }
  }

  async #startKubelet(): Promise<void> {
    const cfgPath = '/run/netwarden-lab/kubelet.json';
    writeFileSync(
      this.hostPath(cfgPath),
      `${JSON.stringify(
        kubeletConfiguration({
          nodeIp: this.ip,
          cgroupRoot: `/${this.cgroup}`,
          clientCaFile: this.spec.caFile,
          clusterDns: '10.96.0.10',
          containerRuntimeEndpoint: `unix://${CONTAINERD_SOCKET}`,
        }),
        null,
        2,
      )}\n`,
    );
    this.kubelet = await this.#startInNode('kubelet', this.spec.binaries.kubelet, [
      `--config=${cfgPath}`,
      `--kubeconfig=${this.spec.kubeletKubeconfig}`,
      `--hostname-override=${this.name}`,
      `--node-ip=${this.ip}`,
      `--node-labels=netwarden.dev/lab=${this.spec.run.id}`,
      '--v=1',
    ]);
    this.#emit('kubelet-started');
  }

  /** The CNI daemon's health endpoint, as seen from inside the node. */
  static readonly CNI_HEALTH_URL = 'http://127.0.0.1:61678/healthz';
  /** The CNI daemon's ipamd-style introspection, as seen from inside the node. */
  static readonly IPAMD_URL = 'http://127.0.0.1:61678';

  async #startCniDaemon(): Promise<void> {
    await this.#startInNode('cni-daemon', this.spec.nodeBinary, [
      join(this.spec.repoDir, 'src/lab/cni-daemon.ts'),
      CNI_READY_FILE,
      '127.0.0.1:61678',
      VPC_RULES_STATE_DIR,
    ]);
  }

  /**
   * The CNI daemon's ready moment: it installs the node's CNI config (unless one survived the
   * reboot) and answers healthy. Waits (bounded) for the node's pod CIDR on a first boot.
   */
  async #cniReady(): Promise<void> {
    const conflist = this.hostPath(`/etc/cni/net.d/${CNI_CONFLIST_NAME}`);
    if (!existsSync(conflist)) {
      let cidr: string | undefined;
      await waitUntil(
        async () => {
          cidr = await this.spec.podCidr().catch(() => undefined);
          return cidr !== undefined;
        },
        120_000,
        250,
      );
      if (!cidr || this.holder?.running !== true) return;
      writeFileSync(`${conflist}.tmp`, `${JSON.stringify(labConflist(cidr, this.spec.faults), null, 2)}\n`);
      // Renamed into place so that containerd never reads half a file.
      renameSync(`${conflist}.tmp`, conflist);
    }
    // Like an ipamd of the wrong backend, the daemon writes its node rules as it starts serving.
    if (this.#bootFaults.includes('vpc-rules-in-legacy')) await this.writeVpcRulesInLegacy();
    writeFileSync(this.hostPath(CNI_READY_FILE), `${new Date().toISOString()}\n`);
    this.cniReadyAt = Date.now();
    this.#emit('cni-ready');
  }

  /**
   * Fault `forward-drop-restored` (awslabs/amazon-eks-ami#526), now: the saved ruleset a node image
   * carries (`:FORWARD DROP`, no rules) is restored the way an iptables-restore boot unit does it —
   * with the host's default `iptables-restore` (iptables-nft here) and without --noflush, so the
   * filter table is flushed and its FORWARD policy is DROP. kube-proxy re-creates its own filter
   * chains on a later sync and never sets a policy. Bounded retries, as in #restoreStaleIptables.
   */
  async restoreSavedRuleset(): Promise<void> {
    const saved = join(this.dir, 'disk', SAVED_RULESET);
    writeFileSync(saved, '*filter\n:INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\nCOMMIT\n');
    let last = '';
    for (let attempt = 1; attempt <= 10; attempt++) {
      if (this.holder?.running !== true) return;
      const res = await run(
        'sh',
        ['-c', 'ip netns exec "$1" iptables-restore < "$2"', 'sh', this.netns, saved],
        {
          timeoutMs: 15_000,
        },
      );
      if (res.code === 0) {
        this.#emit('iptables-restored', `saved ruleset with FORWARD DROP restored (attempt ${attempt})`);
        return;
      }
      last = res.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${res.code}`;
      await new Promise((r) => setTimeout(r, 300));
    }
    this.#emit('iptables-restored', `FAILED after 10 attempts: ${last}`);
  }

  /** Undoes `forward-drop-restored` as an operator would: `iptables -P FORWARD ACCEPT` (the host's default backend). */
  async acceptForward(): Promise<void> {
    await runOk('ip', ['netns', 'exec', this.netns, 'iptables', '-P', 'FORWARD', 'ACCEPT'], {
      timeoutMs: 15_000,
    });
  }

  /**
   * Fault `vpc-rules-in-legacy` (amazon-vpc-cni-k8s#2103, #1847): the VPC CNI's node rules — the
   * SNAT chain in nat POSTROUTING and the connmark chain in nat PREROUTING, as ipamd writes them —
   * written with iptables-legacy while kube-proxy and the host use iptables-nft. The SNAT exempts
   * the lab's VPC CIDRs (nodes, pods) and the connmark matches `eni+` veths only (the lab's pods
   * have none), so lab traffic is unchanged: the mix itself is what this shows.
   */
  async writeVpcRulesInLegacy(): Promise<void> {
    const rules = [
      ['-N', 'AWS-SNAT-CHAIN-0'],
      ['-A', 'POSTROUTING', '-m', 'comment', '--comment', 'AWS SNAT CHAIN', '-j', 'AWS-SNAT-CHAIN-0'],
      ...LAB_VPC_CIDRS.map((c) => [
        '-A',
        'AWS-SNAT-CHAIN-0',
        '-d',
        c,
        '-m',
        'comment',
        '--comment',
        'AWS SNAT CHAIN',
        '-j',
        'RETURN',
      ]),
      [
        '-A',
        'AWS-SNAT-CHAIN-0',
        '!',
        '-o',
        'vlan+',
        '-m',
        'comment',
        '--comment',
        'AWS, SNAT',
        '-m',
        'addrtype',
        '!',
        '--dst-type',
        'LOCAL',
        '-j',
        'SNAT',
        '--to-source',
        this.ip,
        '--random-fully',
      ],
      ['-N', 'AWS-CONNMARK-CHAIN-0'],
      [
        '-A',
        'PREROUTING',
        '-i',
        'eni+',
        '-m',
        'comment',
        '--comment',
        'AWS, outbound connections',
        '-j',
        'AWS-CONNMARK-CHAIN-0',
      ],
      ...LAB_VPC_CIDRS.map((c) => [
        '-A',
        'AWS-CONNMARK-CHAIN-0',
        '-d',
        c,
        '-m',
        'comment',
        '--comment',
        'AWS CONNMARK CHAIN, VPC CIDR',
        '-j',
        'RETURN',
      ]),
      [
        '-A',
        'AWS-CONNMARK-CHAIN-0',
        '-m',
        'comment',
        '--comment',
        'AWS, CONNMARK',
        '-j',
        'CONNMARK',
        '--set-xmark',
        '0x80/0x80',
      ],
      [
        '-A',
        'PREROUTING',
        '-m',
        'comment',
        '--comment',
        'AWS, CONNMARK',
        '-j',
        'CONNMARK',
        '--restore-mark',
        '--nfmask',
        '0x80',
        '--ctmask',
        '0x80',
      ],
    ];
    for (const r of rules)
      await runOk('ip', ['netns', 'exec', this.netns, 'iptables-legacy', '-w', '5', '-t', 'nat', ...r], {
        timeoutMs: 15_000,
      });
  }

  /** Removes what writeVpcRulesInLegacy wrote (the legacy nat table itself stays, empty, as on a real node). */
  async removeVpcRulesInLegacy(): Promise<void> {
    const ipt = (args: string[]) =>
      run('ip', ['netns', 'exec', this.netns, 'iptables-legacy', '-w', '5', '-t', 'nat', ...args], {
        timeoutMs: 15_000,
      });
    for (const chain of ['POSTROUTING', 'PREROUTING']) await ipt(['-F', chain]);
    for (const chain of ['AWS-SNAT-CHAIN-0', 'AWS-CONNMARK-CHAIN-0']) {
      await ipt(['-F', chain]);
      await ipt(['-X', chain]);
    }
  }

  /**
   * Fault `stale-iptables-restore`: a ruleset saved before the reboot (at power-off) is restored
   * shortly after kube-proxy starts, with the FORWARD policy DROP, as the EKS AMI's iptables
   * restore unit did when it raced kube-proxy.
   */
  async #restoreStaleIptables(): Promise<void> {
    const saved = join(this.dir, 'disk', 'iptables.rules');
    if (!existsSync(saved)) return;
    // kube-proxy may be in the middle of its own transaction: the nft backend then refuses ours,
    // and a boot unit would try again. Bounded: 10 tries, 300 ms apart.
    let last = '';
    for (let attempt = 1; attempt <= 10; attempt++) {
      const res = await run('sh', [
        '-c',
        'ip netns exec "$1" iptables-restore < "$2" && ip netns exec "$1" iptables -P FORWARD DROP',
        'sh',
        this.netns,
        saved,
      ]);
      if (res.code === 0) {
        this.#emit(
          'iptables-restored',
          `ruleset from before the reboot, FORWARD policy DROP (attempt ${attempt})`,
        );
        return;
      }
      last = res.stderr.trim().split('\n').slice(-1)[0] ?? `exit ${res.code}`;
      await new Promise((r) => setTimeout(r, 300));
    }
    this.#emit('iptables-restored', `FAILED after 10 attempts: ${last}`);
  }

  /**
   * Starts the netwarden agent inside the node, pointed at the node's CNI folder; it finds pods'
   * network namespaces through /proc (the hostPID way); its HTTP surface listens on the node's
   * loopback (127.0.0.1:9746). `runtime` is for benches that weigh a runtime setting against what
   * ships: `flags` go to Node.js after the shipped ones (V8 takes the last of a repeated flag),
   * `env` is added to the shipped environment (replacing a shipped variable of the same name), and
   * `entry` replaces the lab's agent entry file for this start (another build of the agent).
   */
  async startAgent(extraArgs: readonly string[] = [], runtime: AgentRuntimeVariant = {}): Promise<void> {
    const agent = this.spec.agent;
    if (!agent || this.agent?.running) return;
    // Node.js runs the agent as the image does (its flags and environment), so the lab measures what ships.
    const args = [
      ...RUNTIME_FLAGS,
      ...(runtime.flags ?? []),
      runtime.entry ?? agent.entry ?? join(this.spec.repoDir, 'src/cli/main.ts'),
      'agent',
      `--node-name=${this.name}`,
      `--kubeconfig=${agent.kubeconfig}`,
      '--cni-conf-dir=/etc/cni/net.d',
      // The lab's ipamd stand-in: it tells the agent which pods sit on the secondary ENI.
      `--ipamd-url=${LabNode.IPAMD_URL}`,
      `--cni-health-url=${LabNode.CNI_HEALTH_URL}`,
      '--pod-netns-locator=proc',
      '--listen=127.0.0.1:9746',
      ...agent.args,
      ...extraArgs,
    ];
    const env = { ...runtimeEnv(), ...runtime.env };
    this.agent = await this.#startInNode('agent', this.spec.nodeBinary, args, env);
    this.#emit('agent-started');
  }

  /** Stops the agent (as `kubectl delete pod` of the DaemonSet pod would). */
  async stopAgent(): Promise<void> {
    await this.agent?.stop();
  }

  /**
   * Power loss: every process of the node is SIGKILLed (found by its environment, and by the
   * node's cgroup tree for containers), then its namespace goes, and with it every route, rule and
   * netfilter table; the mount namespace dies with its last process. The Node object stays.
   */
  async powerOff(): Promise<string[]> {
    for (const t of this.#timers) clearTimeout(t);
    this.#timers = [];
    const { run, name } = this.spec;
    if (this.spec.faults.includes('stale-iptables-restore') && this.holder?.running) {
      // The ruleset an iptables-save unit would have stored on the disk.
      const res = await runOk('ip', ['netns', 'exec', this.netns, 'iptables-save'], { timeoutMs: 20_000 });
      writeFileSync(join(this.dir, 'disk', 'iptables.rules'), res.stdout);
    }
    const problems = await killNodeProcesses(run.id, name, this.cgroup);
    this.holder = undefined;
    this.containerd = undefined;
    this.kubelet = undefined;
    this.agent = undefined;
    await deleteNetns(this.netns);
    this.#emit('power-off');
    return problems;
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

/** With fault stale-iptables-restore, the saved ruleset lands this long after kube-proxy's start. */
const STALE_RESTORE_AFTER_KUBE_PROXY_MS = 1_500;

/**
 * SIGKILLs every process of one lab node at once: those carrying its environment (kubelet,
 * containerd, shims, the namespace holder) and those in its cgroup tree (containers), then removes
 * the cgroup tree. Waits until they are gone (bounded); returns problems.
 */
async function killNodeProcesses(runId: string, node: string, cgroup: string): Promise<string[]> {
  const mine = { [RUN_ENV]: runId, [NODE_ENV]: node };
  for (const pid of pidsWithEnv(mine)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone
    }
  }
  const problems = await removeCgroupRoot(cgroup);
  if (!(await waitUntil(() => pidsWithEnv(mine).length === 0, 5_000)))
    problems.push(`node ${node}: processes survived SIGKILL: ${pidsWithEnv(mine).join(', ')}`);
  return problems;
}
