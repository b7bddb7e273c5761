/**
 * The lab kubelet: registers its Node (addresses, capacity, nodeInfo.bootID), keeps its Lease and
 * Ready condition fresh so the real node-lifecycle controller treats it as alive, writes the CNI
 * config once the controller-manager has given the node a pod CIDR, and runs every pod bound to
 * it through a PodWorker. Like the real kubelet after a reboot, it recreates every bound pod's
 * sandbox at once on start; taints do not stop that.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Pod } from '../../core/objects.ts';
import { describeError } from '../../errors.ts';
import type { KubeApis } from '../../kube/connect.ts';
import type { Reflector } from '../../kube/watch.ts';
import { type CniConfList, ptpHostLocal } from '../cni.ts';
import { ENI_TABLE } from '../network.ts';
import { cniReadyFile, conflistPath, type KubeletConfig, vpcCniStateDir } from './config.ts';
import { PodWorker } from './pod-worker.ts';

const LEASE_RENEW_MS = 10_000;
/**
 * Like the kubelet with its Lease (nodeStatusReportFrequency): liveness is the Lease; the Node's
 * status is re-posted only now and then (and on changes, e.g. the network becoming ready).
 */
const NODE_STATUS_MS = 60_000;
const TICK_MS = 200;

/** The conflist the lab's CNI uses on a node with `podCidr` (ptp + host-local, then the VPC rules). */
export function labConflist(cfg: KubeletConfig, podCidr: string): CniConfList {
  return {
    cniVersion: '1.0.0',
    name: 'lab-vpc',
    plugins: [
      ptpHostLocal(podCidr, `${cfg.bootDir}/ipam`),
      {
        type: 'lab-vpc-rules',
        eniTable: ENI_TABLE,
        readyFile: cniReadyFile(cfg),
        faults: cfg.faults,
        logFile: `${cfg.bootDir}/../cni.log`,
        stateDir: vpcCniStateDir(cfg),
      },
    ],
  };
}

/** One running lab kubelet. */
export class LabKubelet {
  readonly #cfg: KubeletConfig;
  readonly #apis: KubeApis;
  readonly #log: (msg: string, fields?: Record<string, unknown>) => void;
  readonly #workers = new Map<string, PodWorker>();
  readonly #timers: NodeJS.Timeout[] = [];
  #pods: Reflector<Pod> | undefined;
  #networkReady = false;
  #stopped = false;

  constructor(
    cfg: KubeletConfig,
    apis: KubeApis,
    log: (msg: string, fields?: Record<string, unknown>) => void,
  ) {
    this.#cfg = cfg;
    this.#apis = apis;
    this.#log = log;
  }

  /** Registers the node, starts heartbeats, and begins running pods. */
  async start(): Promise<void> {
    await this.#register();
    await this.#renewLease();
    this.#every(LEASE_RENEW_MS, () => this.#renewLease());
    this.#every(NODE_STATUS_MS, () => this.#postStatus());
    this.#every(500, () => this.#ensureNetworkConfig());
    this.#pods = await this.#apis.pods.watchOnNode(this.#cfg.nodeName, {
      onEvent: (ev) => {
        const uid = ev.object.metadata?.uid ?? '';
        const worker = this.#workers.get(uid);
        if (ev.type === 'DELETED') {
          if (worker && !worker.done) void worker.forget();
          this.#workers.delete(uid);
          return;
        }
        if (worker) worker.pod = ev.object;
        else
          this.#workers.set(
            uid,
            new PodWorker(ev.object, { cfg: this.#cfg, objects: this.#apis.objects, log: this.#log }),
          );
      },
      onError: (m) => this.#log('pod watch error', { error: m }),
    });
    this.#every(TICK_MS, async () => {
      const now = Date.now();
      await Promise.all([...this.#workers.values()].map((w) => w.sync(now)));
    });
  }

  /** Stops loops and kills every container (graceful lab shutdown). */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#pods?.stop();
    for (const w of this.#workers.values()) w.killAll();
  }

  #every(ms: number, fn: () => Promise<void> | void): void {
    let running = false;
    const t = setInterval(async () => {
      if (running || this.#stopped) return;
      running = true;
      try {
        await fn();
      } catch (err) {
        this.#log('periodic task failed', { error: describeError(err) });
      } finally {
        running = false;
      }
    }, ms);
    this.#timers.push(t);
  }

  async #register(): Promise<void> {
    const { nodeName } = this.#cfg;
    if (!(await this.#apis.nodes.get(nodeName))) {
      await this.#apis.objects.create({
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name: nodeName,
          labels: {
            'kubernetes.io/hostname': nodeName,
            'kubernetes.io/os': 'linux',
            'kubernetes.io/arch': 'amd64',
            'netwarden.dev/lab': this.#cfg.runId,
          },
        },
      });
      this.#log('node registered');
    }
    await this.#postStatus();
  }

  async #ensureNetworkConfig(): Promise<void> {
    const path = conflistPath(this.#cfg);
    if (!existsSync(path)) {
      const node = await this.#apis.nodes.get(this.#cfg.nodeName);
      const cidr = node?.spec?.podCIDR;
      if (!cidr) return;
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, `${JSON.stringify(labConflist(this.#cfg, cidr), null, 2)}\n`);
      this.#log('CNI config written', { podCIDR: cidr });
    }
    if (!this.#networkReady) {
      this.#networkReady = true;
      await this.#postStatus();
    }
  }

  async #renewLease(): Promise<void> {
    const now = new Date().toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
    await this.#apis.objects.apply({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: this.#cfg.nodeName, namespace: 'kube-node-lease' },
      spec: {
        holderIdentity: this.#cfg.nodeName,
        leaseDurationSeconds: 40,
        renewTime: now as unknown as Date,
      },
    });
  }

  async #postStatus(): Promise<void> {
    const now = `${new Date().toISOString().slice(0, 19)}Z`;
    const ready = this.#networkReady || existsSync(conflistPath(this.#cfg));
    const condition = (type: string, status: string, reason: string, message: string) => ({
      type,
      status,
      reason,
      message,
      lastHeartbeatTime: now,
    });
    const capacity = { cpu: '4', memory: '8Gi', pods: '110', 'ephemeral-storage': '20Gi' };
    await this.#apis.objects.patchNodeStatus(this.#cfg.nodeName, {
      addresses: [
        { type: 'InternalIP', address: this.#cfg.nodeIp },
        { type: 'Hostname', address: this.#cfg.nodeName },
      ],
      capacity,
      allocatable: capacity,
      daemonEndpoints: { kubeletEndpoint: { Port: 10250 } },
      nodeInfo: {
        bootID: this.#cfg.bootId,
        machineID: this.#cfg.nodeName,
        systemUUID: this.#cfg.nodeName,
        kernelVersion: 'lab',
        osImage: 'netwarden lab node',
        containerRuntimeVersion: 'lab://1',
        kubeletVersion: this.#cfg.kubeletVersion,
        kubeProxyVersion: '',
        operatingSystem: 'linux',
        architecture: 'amd64',
      },
      conditions: [
        condition(
          'MemoryPressure',
          'False',
          'KubeletHasSufficientMemory',
          'kubelet has sufficient memory available',
        ),
        condition('DiskPressure', 'False', 'KubeletHasNoDiskPressure', 'kubelet has no disk pressure'),
        condition('PIDPressure', 'False', 'KubeletHasSufficientPID', 'kubelet has sufficient PID available'),
        ready
          ? condition('Ready', 'True', 'KubeletReady', 'kubelet is posting ready status')
          : condition(
              'Ready',
              'False',
              'KubeletNotReady',
              'container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized',
            ),
      ],
    });
  }
}
