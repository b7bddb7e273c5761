/**
 * A fleet on one machine, for API-load benchmarks: the lab's real control plane (etcd +
 * kube-apiserver, audit log on), a few hundred Node objects created directly in the API (no
 * kubelets), a status updater that patches each Node's status like a kubelet does, a few "hosts"
 * (network namespaces with only loopback) each running a real kube-proxy, and many netwarden
 * agents spread over those hosts, each for its own Node (usually `--dry-run`).
 *
 * Network: every host namespace holds the API server's lab address (10.251.0.1) on its loopback,
 * served by a forwarder that pipes to the root namespace's loopback over a unix socket — the same
 * shape as the lab's VPC, without a bridge. The service CIDR is routed to loopback so kube-proxy's
 * DNAT of the `kubernetes` ClusterIP works. Nothing leaves the namespaces; no route goes out.
 */
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runOk } from '../host/exec.ts';
import { httpGet } from '../host/http.ts';
import { connect, type KubeApis } from '../kube/connect.ts';
import { RUNTIME_FLAGS, runtimeEnv } from '../packaging/runtime.ts';
import { type PromSample, parsePrometheusText } from '../sources/kube-proxy-metrics.ts';
import { ensureBinaries } from './binaries.ts';
import { ControlPlane } from './control-plane.ts';
import { writeKubeconfig } from './kubeconfig.ts';
import {
  API_FORWARDER_SCRIPT,
  apiForwarderSocket,
  installAgentIdentity,
  startRootApiForwarder,
} from './lab.ts';
import { API_LAB_IP } from './network.ts';
import { issueCert } from './pki.ts';
import { freePort } from './ports.ts';
import { LabProcess } from './process.ts';
import { LabRun } from './run-dir.ts';
import { createSyntheticServices } from './scale.ts';
import { waitFor } from './wait.ts';

const REPO_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** What to build. */
export interface FleetOptions {
  /** Node objects in the API (the agents' and kube-proxies' own among them). */
  readonly nodes: number;
  /** Host namespaces, each with one real kube-proxy. */
  readonly hosts: number;
  /** ClusterIP Services (each with one EndpointSlice of `endpoints` ready endpoints). */
  readonly services: number;
  readonly endpoints: number;
  readonly log?: (line: string) => void;
}

/** The Node name of fleet node `i` (1-based). */
export function fleetNodeName(i: number): string {
  return `node-${String(i).padStart(4, '0')}`;
}

/** A running fleet. */
export class Fleet {
  readonly run: LabRun;
  readonly cp: ControlPlane;
  readonly admin: KubeApis;
  readonly hosts: readonly string[];
  readonly nodeNames: readonly string[];
  readonly #opts: FleetOptions;
  readonly #labServer: string;
  readonly #kubeProxyKubeconfig: string;
  readonly #kubeProxyPath: string;
  readonly #helmPath: string;
  #agentKubeconfig: string | undefined;
  readonly kubeProxies: LabProcess[] = [];
  readonly agents: LabProcess[] = [];
  #statusTimer: NodeJS.Timeout | undefined;
  #statusWrites = 0;

  private constructor(init: {
    run: LabRun;
    cp: ControlPlane;
    admin: KubeApis;
    hosts: string[];
    opts: FleetOptions;
    labServer: string;
    kubeProxyKubeconfig: string;
    kubeProxyPath: string;
    helmPath: string;
  }) {
    this.run = init.run;
    this.cp = init.cp;
    this.admin = init.admin;
    this.hosts = init.hosts;
    this.#opts = init.opts;
    this.#labServer = init.labServer;
    this.#kubeProxyKubeconfig = init.kubeProxyKubeconfig;
    this.#kubeProxyPath = init.kubeProxyPath;
    this.#helmPath = init.helmPath;
    this.nodeNames = Array.from({ length: init.opts.nodes }, (_, i) => fleetNodeName(i + 1));
  }

  /** Control plane, hosts, Node objects and Services; kube-proxies and agents start later. */
  static async up(opts: FleetOptions): Promise<Fleet> {
    const log = opts.log ?? (() => {});
    const binaries = await ensureBinaries({ log });
    const run = await LabRun.create();
    try {
      const apiPort = await freePort();
      const cp = await ControlPlane.start({
        run,
        binaries: binaries.paths,
        apiServerPort: apiPort,
        advertiseAddress: API_LAB_IP,
        auditLog: true,
        log,
      });
      const labServer = `https://${API_LAB_IP}:${apiPort}`;
      const sock = apiForwarderSocket(run);
      const script = API_FORWARDER_SCRIPT;
      const root = await startRootApiForwarder(run, apiPort);
      run.onClose(() => root.stop());
      const hosts: string[] = [];
      for (let h = 1; h <= opts.hosts; h++) hosts.push(await createHost(run, h, apiPort, sock, script));
      const admin = connect({ kubeconfigPath: cp.adminKubeconfig });
      const proxyCert = await issueCert(cp.pki.dir, cp.pki.ca, 'kube-proxy', {
        cn: 'system:kube-proxy',
        orgs: [],
      });
      const kubeProxyKubeconfig = writeKubeconfig(
        run.path('kubeconfigs', 'kube-proxy.kubeconfig'),
        labServer,
        cp.pki.ca.cert,
        'kube-proxy',
        { certFile: proxyCert.cert, keyFile: proxyCert.key },
      );
      const fleet = new Fleet({
        run,
        cp,
        admin,
        hosts,
        opts,
        labServer,
        kubeProxyKubeconfig,
        kubeProxyPath: binaries.paths['kube-proxy'],
        helmPath: binaries.paths.helm,
      });
      await fleet.#createNodes();
      log(`fleet ${run.id}: ${opts.nodes} Node objects`);
      await createSyntheticServices(admin.objects, 'bench', opts.services, opts.endpoints, {
        concurrency: 8,
      });
      log(`fleet ${run.id}: ${opts.services} Services × ${opts.endpoints} endpoints`);
      return fleet;
    } catch (err) {
      await run.close({ keepFiles: true });
      throw err;
    }
  }

  /** Starts one real kube-proxy per host (for the host's first Node) and waits for its rules. */
  async startKubeProxies(): Promise<void> {
    for (const [i, ns] of this.hosts.entries()) {
      const name = this.nodeNames[i] as string;
      const cfgPath = this.run.path('hosts', ns, 'kube-proxy.json');
      mkdirSync(dirname(cfgPath), { recursive: true });
      writeFileSync(
        cfgPath,
        JSON.stringify({
          apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
          kind: 'KubeProxyConfiguration',
          clientConnection: { kubeconfig: this.#kubeProxyKubeconfig },
          hostnameOverride: name,
          mode: 'iptables',
          clusterCIDR: '10.244.0.0/16',
          healthzBindAddress: '127.0.0.1:10256',
          metricsBindAddress: '127.0.0.1:10249',
          conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
          iptables: { syncPeriod: '30s', minSyncPeriod: '1s' },
        }),
      );
      const p = await LabProcess.start({
        name: `kube-proxy-${name}`,
        cmd: this.#kubeProxyPath,
        args: [`--config=${cfgPath}`, '--v=1'],
        env: this.run.env(),
        logFile: this.run.path('logs', `kube-proxy-${name}.log`),
        netns: ns,
      });
      this.kubeProxies.push(p);
      this.run.onClose(() => p.stop());
    }
    for (const ns of this.hosts) {
      await waitFor(
        `kube-proxy in ${ns} to program the kubernetes Service`,
        async () => {
          const r = await runOk('ip', ['netns', 'exec', ns, 'iptables', '-t', 'nat', '-S', 'KUBE-SERVICES'], {
            timeoutMs: 10_000,
          }).catch(() => undefined);
          return (
            (r?.stdout.split('\n').filter((l) => l.includes('KUBE-SVC-')).length ?? 0) >= this.#opts.services
          );
        },
        180_000,
        1_000,
      );
    }
  }

  /**
   * Starts `count` agents: agent j (1-based) for Node j, in host ((j-1) mod hosts), from `entry`
   * (default this repository's CLI) with `args` after the fleet's own flags.
   */
  async startAgents(count: number, opts: { entry?: string; args?: readonly string[] } = {}): Promise<void> {
    this.#agentKubeconfig ??= await installAgentIdentity(
      this.admin,
      this.cp,
      this.#labServer,
      this.#helmPath,
    );
    const cniDir = this.run.path('cni', 'net.d');
    mkdirSync(cniDir, { recursive: true });
    writeFileSync(
      join(cniDir, '10-fleet.conflist'),
      JSON.stringify({
        cniVersion: '1.0.0',
        name: 'fleet',
        plugins: [{ type: 'ptp', ipam: { type: 'host-local', ranges: [[{ subnet: '10.244.0.0/24' }]] } }],
      }),
    );
    const entry = opts.entry ?? join(REPO_DIR, 'src/cli/main.ts');
    for (let j = 1; j <= count; j++) {
      const ns = this.hosts[(j - 1) % this.hosts.length] as string;
      const name = this.nodeNames[j - 1] as string;
      const p = await LabProcess.start({
        name: `agent-${name}`,
        cmd: 'nsenter',
        args: [
          `--net=/var/run/netns/${ns}`,
          process.execPath,
          ...RUNTIME_FLAGS, // as the image runs it
          entry,
          'agent',
          `--node-name=${name}`,
          `--kubeconfig=${this.#agentKubeconfig}`,
          `--cni-conf-dir=${cniDir}`,
          '--ipamd-url=',
          '--kube-proxy=expected',
          '--cluster-dns-check=false',
          `--listen=127.0.0.1:${20_000 + j}`,
          `--status-listen=127.0.0.1:${30_000 + j}`,
          ...(opts.args ?? []),
        ],
        env: this.run.env(runtimeEnv()),
        logFile: this.run.path('logs', `agent-${name}.log`),
      });
      this.agents.push(p);
      this.run.onClose(() => p.stop());
    }
    await waitFor(
      `${count} agents to start (logs: ${this.run.path('logs')})`,
      () => {
        const dead = this.agents.find((a) => !a.running);
        if (dead) throw new Error(`${dead.spec.name} ${dead.exitStatus}: ${dead.logSummary(3)}`);
        return this.agents.every((a) => a.logTail(50).includes('"agent started"'));
      },
      Math.max(120_000, count * 5_000),
      1_000,
    );
  }

  /** Stops every agent. */
  async stopAgents(): Promise<void> {
    await Promise.all(this.agents.map((a) => a.stop()));
    this.agents.length = 0;
  }

  /**
   * Patches every Node's status once per `periodMs`, spread evenly, as kubelets do when they report
   * status (here: the conditions' heartbeat times). Replaces a running updater.
   */
  startStatusUpdates(periodMs: number): void {
    this.stopStatusUpdates();
    let next = 0;
    const names = this.nodeNames;
    this.#statusTimer = setInterval(() => {
      const name = names[next++ % names.length] as string;
      this.#statusWrites++;
      void this.admin.objects
        .patchNodeStatus(name, { conditions: nodeConditions(new Date().toISOString()) })
        .catch(() => {});
    }, periodMs / names.length);
  }

  /** Stops the status updater. */
  stopStatusUpdates(): void {
    if (this.#statusTimer) clearInterval(this.#statusTimer);
    this.#statusTimer = undefined;
  }

  /** Node status patches sent so far. */
  get statusWrites(): number {
    return this.#statusWrites;
  }

  /** The API server's own metrics, parsed. */
  async apiMetrics(): Promise<PromSample[]> {
    const res = await httpGet(`${this.cp.server}/metrics`, {
      tls: this.cp.adminTls(),
      timeoutMs: 20_000,
      maxBytes: 256 * 1024 * 1024,
    });
    if (!res.ok || res.status !== 200)
      throw new Error(`API server /metrics: ${res.ok ? `HTTP ${res.status}` : res.error}`);
    return parsePrometheusText(res.body).samples;
  }

  /**
   * Agent `j`'s (1-based) own /metrics, parsed: it listens on the loopback of its host namespace,
   * so a short node process inside that namespace fetches it.
   */
  async agentMetrics(j: number): Promise<PromSample[]> {
    const ns = this.hosts[(j - 1) % this.hosts.length] as string;
    const url = `http://127.0.0.1:${20_000 + j}/metrics`;
    const script = `fetch(${JSON.stringify(url)},{signal:AbortSignal.timeout(10000)}).then(r=>r.text()).then(t=>process.stdout.write(t))`;
    const r = await runOk('nsenter', [`--net=/var/run/netns/${ns}`, process.execPath, '-e', script], {
      timeoutMs: 15_000,
      maxOutputBytes: 16 * 1024 * 1024,
    });
    return parsePrometheusText(r.stdout).samples;
  }

  /**
   * Opens `count` watches of every Node the way a client would that keeps all of them — full
   * objects, or metadata only (PartialObjectMetadata, as an informer on metadata would) — to
   * measure what each such watcher costs the API server beside the agents. Each stream is read
   * and dropped; a stream the server ends is re-opened from its last resourceVersion. Returns a
   * function that closes them all.
   */
  openNodeWatches(count: number, view: 'full' | 'metadata'): () => void {
    const tls = this.cp.adminTls();
    const ca = readFileSync(tls.ca as string);
    const cert = readFileSync(tls.cert as string);
    const key = readFileSync(tls.key as string);
    const accept =
      view === 'metadata'
        ? 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1'
        : 'application/json';
    let closed = false;
    const open: { destroy(): void }[] = [];
    const url = new URL(this.cp.server);
    const watchOne = (resourceVersion: string): void => {
      if (closed) return;
      let rv = resourceVersion;
      let buf = '';
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: `/api/v1/nodes?watch=1&allowWatchBookmarks=true&timeoutSeconds=300&resourceVersion=${rv}`,
          headers: { Accept: accept },
          ca,
          cert,
          key,
        },
        (res) => {
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buf += chunk;
            for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
              const line = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              const m = line.match(/"resourceVersion":"(\d+)"/);
              if (m?.[1]) rv = m[1];
            }
          });
          res.on('end', () => setTimeout(() => watchOne(rv), 100));
          res.on('error', () => {});
        },
      );
      req.on('error', () => setTimeout(() => watchOne(rv), 1_000));
      req.end();
      open.push(req);
    };
    for (let i = 0; i < count; i++) watchOne('0');
    return () => {
      closed = true;
      for (const r of open) r.destroy();
    };
  }

  /** Removes everything; returns problems (empty when clean). */
  async down(): Promise<string[]> {
    this.stopStatusUpdates();
    return this.run.close();
  }

  async #createNodes(): Promise<void> {
    const names = [...this.nodeNames];
    const worker = async (): Promise<void> => {
      for (let name = names.shift(); name !== undefined; name = names.shift()) {
        const i = this.nodeNames.indexOf(name) + 1;
        await this.admin.objects.create(nodeObject(name, i));
        await this.admin.objects.patchNodeStatus(name, nodeStatus(i, new Date().toISOString()));
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
  }
}

/** A host namespace: loopback with the API address, a forwarder to the API, the service CIDR on lo. */
async function createHost(
  run: LabRun,
  h: number,
  apiPort: number,
  sock: string,
  script: string,
): Promise<string> {
  const ns = `${run.id}-h${h}`;
  const ip = (args: string[]) => runOk('ip', args, { timeoutMs: 15_000 });
  await ip(['netns', 'add', ns]);
  await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
  await ip(['-n', ns, 'addr', 'add', `${API_LAB_IP}/32`, 'dev', 'lo']);
  await ip(['-n', ns, 'route', 'add', '10.96.0.0/12', 'dev', 'lo']);
  const fwd = await LabProcess.start({
    name: `api-forwarder-${ns}`,
    cmd: 'nsenter',
    args: [
      `--net=/var/run/netns/${ns}`,
      process.execPath,
      script,
      `tcp:${API_LAB_IP}:${apiPort}`,
      `unix:${sock}`,
    ],
    env: run.env(),
    logFile: run.path('logs', `api-forwarder-${ns}.log`),
  });
  run.onClose(() => fwd.stop());
  await waitFor(`the API forwarder in ${ns}`, () => fwd.logTail(1).includes('forwarding'), 10_000, 50);
  return ns;
}

/** A Node as a cloud node registers: the usual labels, a provider ID, no taints. */
function nodeObject(name: string, i: number): Record<string, unknown> & { apiVersion: string; kind: string } {
  return {
    apiVersion: 'v1',
    kind: 'Node',
    metadata: {
      name,
      labels: {
        'beta.kubernetes.io/arch': 'amd64',
        'beta.kubernetes.io/instance-type': 'm6i.2xlarge',
        'beta.kubernetes.io/os': 'linux',
        'eks.amazonaws.com/capacityType': 'ON_DEMAND',
        'eks.amazonaws.com/nodegroup': `workers-${i % 4}`,
        'eks.amazonaws.com/nodegroup-image': 'ami-0abcdef1234567890',
        'failure-domain.beta.kubernetes.io/region': 'eu-west-1',
        'failure-domain.beta.kubernetes.io/zone': `eu-west-1${'abc'[i % 3]}`,
        'k8s.io/cloud-provider-aws': '0123456789abcdef0123456789abcdef',
        'kubernetes.io/arch': 'amd64',
        'kubernetes.io/hostname': name,
        'kubernetes.io/os': 'linux',
        'node.kubernetes.io/instance-type': 'm6i.2xlarge',
        'topology.kubernetes.io/region': 'eu-west-1',
        'topology.kubernetes.io/zone': `eu-west-1${'abc'[i % 3]}`,
      },
      annotations: {
        'alpha.kubernetes.io/provided-node-ip': nodeIp(i),
        'node.alpha.kubernetes.io/ttl': '0',
        'volumes.kubernetes.io/controller-managed-attach-detach': 'true',
      },
    },
    spec: { providerID: `aws:///eu-west-1a/i-0${(1_000_000 + i).toString(16)}abcdef` },
  };
}

function nodeIp(i: number): string {
  return `10.250.${(i >> 8) & 255}.${i & 255}`;
}

/** The kubelet's five conditions, all healthy, heartbeat `now`. */
function nodeConditions(now: string): Record<string, string>[] {
  const c = (type: string, status: string, reason: string, message: string) => ({
    type,
    status,
    reason,
    message,
    lastHeartbeatTime: now,
  });
  return [
    c('MemoryPressure', 'False', 'KubeletHasSufficientMemory', 'kubelet has sufficient memory available'),
    c('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
    c('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
    c('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status'),
  ];
}

/**
 * A kubelet-like status: conditions, addresses, capacity, node info and an image list, so a Node
 * weighs about what a real worker's does (~6 KB of JSON).
 */
function nodeStatus(i: number, now: string): Record<string, unknown> {
  const images = Array.from({ length: 16 }, (_, k) => ({
    names: [
      `602401143452.dkr.ecr.eu-west-1.amazonaws.com/app-${k}@sha256:${randomUUID().replaceAll('-', '')}${randomUUID().replaceAll('-', '')}`,
      `602401143452.dkr.ecr.eu-west-1.amazonaws.com/app-${k}:v1.${k}.0`,
    ],
    sizeBytes: 20_000_000 + k * 1_000_003,
  }));
  return {
    conditions: nodeConditions(now),
    addresses: [
      { type: 'InternalIP', address: nodeIp(i) },
      { type: 'InternalDNS', address: `ip-10-250-${(i >> 8) & 255}-${i & 255}.eu-west-1.compute.internal` },
      { type: 'Hostname', address: `ip-10-250-${(i >> 8) & 255}-${i & 255}.eu-west-1.compute.internal` },
    ],
    capacity: { cpu: '8', 'ephemeral-storage': '104845292Ki', memory: '32386544Ki', pods: '58' },
    allocatable: { cpu: '7910m', 'ephemeral-storage': '95551679124', memory: '31369712Ki', pods: '58' },
    daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
    nodeInfo: {
      architecture: 'amd64',
      bootID: randomUUID(),
      containerRuntimeVersion: 'containerd://1.7.27',
      kernelVersion: '6.1.134-152.225.amzn2023.x86_64',
      kubeProxyVersion: 'v1.36.5',
      kubeletVersion: 'v1.36.5-eks-1234567',
      machineID: randomUUID().replaceAll('-', ''),
      operatingSystem: 'linux',
      osImage: 'Amazon Linux 2023.7.20250512',
      systemUUID: randomUUID(),
    },
    images,
  };
}
