/**
 * One pod on the lab kubelet: its sandbox (network namespace + CNI ADD), its containers (processes
 * inside that namespace, restarted with the kubelet's back-off), readiness probes, status, and
 * teardown on deletion. `sync()` is called repeatedly by the kubelet; it does what is due and
 * never runs twice at once.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import type { Pod } from '../../core/objects.ts';
import { describeError } from '../../errors.ts';
import { killGroup, run } from '../../host/exec.ts';
import type { ObjectApi } from '../../kube/objects.ts';
import { type CniConfList, type CniResult, cniAdd, cniDel } from '../cni.ts';
import { crashLoopDelayMs, nextFailureStreak } from './backoff.ts';
import { conflistPath, type KubeletConfig } from './config.ts';
import { containerCommand } from './images.ts';
import { type ContainerRuntime, type PodRuntime, podStatus } from './pod-status.ts';

type Container = NonNullable<Pod['spec']>['containers'][number];
type Probe = NonNullable<Container['readinessProbe']>;

/** What a worker needs from its kubelet. */
export interface PodWorkerDeps {
  readonly cfg: KubeletConfig;
  readonly objects: ObjectApi;
  readonly log: (msg: string, fields?: Record<string, unknown>) => void;
}

interface ContainerProc {
  readonly spec: Container;
  readonly rt: ContainerRuntime;
  child?: ChildProcess | undefined;
  failureStreak: number;
  nextStartAt: number;
  /** Whether it ever started before (in this or an earlier sandbox): the next start is a restart. */
  startedBefore: boolean;
  probe: { nextAt: number; successes: number; failures: number; running: boolean };
}

/** The pod namespace name: run id, node, and the pod UID's first 8 characters. */
export function podNetns(runId: string, node: string, uid: string): string {
  return `${runId}-${node}-${uid.slice(0, 8)}`;
}

/** The pod's resolv.conf, as the kubelet writes it for dnsPolicy ClusterFirst. */
export function podResolvConf(namespace: string, dnsIp = '10.96.0.10'): string {
  return `search ${namespace}.svc.cluster.local svc.cluster.local cluster.local\nnameserver ${dnsIp}\noptions ndots:5\n`;
}

/** A pod's lifecycle on the lab kubelet. */
export class PodWorker {
  pod: Pod;
  readonly netns: string;
  readonly #deps: PodWorkerDeps;
  readonly #rt: PodRuntime;
  readonly #containers: ContainerProc[];
  #cni: CniResult | undefined;
  #busy = false;
  #lastWritten = '';
  #done = false;

  constructor(pod: Pod, deps: PodWorkerDeps) {
    this.pod = pod;
    this.#deps = deps;
    this.netns = podNetns(deps.cfg.runId, deps.cfg.nodeName, pod.metadata?.uid ?? 'nouid');
    this.#rt = { hostIP: deps.cfg.nodeIp, containers: [] };
    const previous = new Map((pod.status?.containerStatuses ?? []).map((s) => [s.name, s]));
    this.#containers = (pod.spec?.containers ?? []).map((spec) => {
      const prev = previous.get(spec.name);
      const rt: ContainerRuntime = {
        name: spec.name,
        image: spec.image ?? '',
        restartCount: prev?.restartCount ?? 0,
      };
      this.#rt.containers.push(rt);
      return {
        spec,
        rt,
        failureStreak: 0,
        nextStartAt: 0,
        startedBefore: Boolean(
          prev?.state?.running || prev?.state?.terminated || prev?.lastState?.terminated,
        ),
        probe: { nextAt: 0, successes: 0, failures: 0, running: false },
      };
    });
  }

  /** True once the pod was torn down and its deletion finished. */
  get done(): boolean {
    return this.#done;
  }

  /** The key `namespace/name`. */
  get key(): string {
    return `${this.pod.metadata?.namespace}/${this.pod.metadata?.name}`;
  }

  /** Does what is due now; safe to call often. */
  async sync(now: number): Promise<void> {
    if (this.#busy || this.#done) return;
    this.#busy = true;
    try {
      if (this.pod.metadata?.deletionTimestamp) {
        await this.#terminate();
        return;
      }
      if (this.#rt.sandboxReadyAt === undefined && !(await this.#createSandbox(now))) return;
      for (const c of this.#containers) {
        if (!c.child && c.rt.waiting?.reason !== 'InvalidImage' && now >= c.nextStartAt) this.#start(c, now);
        if (c.child && c.spec.readinessProbe && now >= c.probe.nextAt && !c.probe.running)
          void this.#probe(c, now);
      }
      await this.#writeStatus(now);
    } catch (err) {
      this.#deps.log('pod sync failed', { pod: this.key, error: describeError(err) });
    } finally {
      this.#busy = false;
    }
  }

  /** Kills every container at once (node power loss is done by the lab, not here). */
  killAll(): void {
    for (const c of this.#containers) killGroup(c.child?.pid, 'SIGKILL');
  }

  async #createSandbox(now: number): Promise<boolean> {
    const { cfg } = this.#deps;
    let conf: CniConfList;
    try {
      conf = JSON.parse(readFileSync(conflistPath(cfg), 'utf8')) as CniConfList;
    } catch {
      return false; // network not ready: no CNI config yet
    }
    if (!this.#rt.startTime) this.#rt.startTime = now;
    await run('ip', ['netns', 'add', this.netns], { timeoutMs: 10_000 });
    mkdirSync(`/etc/netns/${this.netns}`, { recursive: true });
    writeFileSync(
      `/etc/netns/${this.netns}/resolv.conf`,
      podResolvConf(this.pod.metadata?.namespace ?? 'default'),
    );
    const ctx = this.#cniContext();
    try {
      await cniAdd(
        { cniVersion: '1.0.0', name: 'lo', plugins: [{ type: 'loopback' }] },
        { ...ctx, ifName: 'lo' },
      );
      this.#cni = await cniAdd(conf, ctx);
    } catch (err) {
      this.#deps.log('sandbox network setup failed; will retry', {
        pod: this.key,
        error: describeError(err),
      });
      await this.#removeSandbox();
      return false;
    }
    this.#rt.podIP = this.#cni.ips?.[0]?.address.split('/')[0];
    this.#rt.sandboxReadyAt = Date.now();
    this.#deps.log('sandbox ready', { pod: this.key, netns: this.netns, podIP: this.#rt.podIP });
    return true;
  }

  #cniContext() {
    const { cfg } = this.#deps;
    return {
      containerId: this.pod.metadata?.uid ?? this.netns,
      netnsPath: `/var/run/netns/${this.netns}`,
      ifName: 'eth0',
      cniPath: cfg.cniBinDir,
      // IgnoreUnknown=1 as containerd passes it: plugins reject K8S_* args they do not know otherwise.
      args: {
        IgnoreUnknown: '1',
        K8S_POD_NAMESPACE: this.pod.metadata?.namespace ?? '',
        K8S_POD_NAME: this.pod.metadata?.name ?? '',
        K8S_POD_UID: this.pod.metadata?.uid ?? '',
      },
    };
  }

  #start(c: ContainerProc, now: number): void {
    const { cfg } = this.#deps;
    const command = containerCommand(c.spec, cfg.images);
    if ('error' in command) {
      c.rt.waiting = { reason: 'InvalidImage', message: command.error };
      return;
    }
    if (c.startedBefore) c.rt.restartCount++;
    c.startedBefore = true;
    const logFile = `${cfg.podLogDir}/${this.pod.metadata?.namespace}_${this.pod.metadata?.name}_${c.spec.name}.log`;
    mkdirSync(cfg.podLogDir, { recursive: true });
    const fd = openSync(logFile, 'a');
    const child = spawn('ip', ['netns', 'exec', this.netns, command.cmd, ...command.args], {
      detached: true,
      stdio: ['ignore', fd, fd],
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        ...command.env,
        NETWARDEN_LAB_RUN: cfg.runId,
        NETWARDEN_LAB_NODE: cfg.nodeName,
        NODE_NAME: cfg.nodeName,
        POD_NAME: this.pod.metadata?.name ?? '',
        POD_NAMESPACE: this.pod.metadata?.namespace ?? '',
        POD_IP: this.#rt.podIP ?? '',
      },
    });
    closeSync(fd);
    const startedAt = now;
    c.child = child;
    c.rt.running = { startedAt, ready: c.spec.readinessProbe === undefined };
    c.rt.waiting = undefined;
    c.probe = {
      nextAt: now + (c.spec.readinessProbe?.initialDelaySeconds ?? 0) * 1000,
      successes: 0,
      failures: 0,
      running: false,
    };
    child.on('error', () => {});
    child.on('exit', (code, signal) => {
      if (c.child !== child) return;
      const finishedAt = Date.now();
      c.child = undefined;
      c.rt.running = undefined;
      const exitCode = code ?? 128 + (signal === 'SIGKILL' ? 9 : 15);
      c.rt.lastTerminated = {
        exitCode,
        reason: exitCode === 0 ? 'Completed' : 'Error',
        startedAt,
        finishedAt,
      };
      c.failureStreak = nextFailureStreak(c.failureStreak, finishedAt - startedAt, cfg.timeScale);
      const delay = crashLoopDelayMs(c.failureStreak, cfg.timeScale);
      c.nextStartAt = finishedAt + delay;
      c.rt.waiting = {
        reason: 'CrashLoopBackOff',
        message: `back-off ${Math.round(delay / 1000)}s restarting failed container=${c.spec.name} pod=${this.pod.metadata?.name}_${this.pod.metadata?.namespace}(${this.pod.metadata?.uid})`,
      };
    });
  }

  async #probe(c: ContainerProc, now: number): Promise<void> {
    const probe = c.spec.readinessProbe as Probe;
    c.probe.running = true;
    c.probe.nextAt = now + (probe.periodSeconds ?? 10) * 1000;
    const ok = await this.#runProbe(probe);
    c.probe.running = false;
    if (!c.rt.running) return;
    if (ok) {
      c.probe.successes++;
      c.probe.failures = 0;
      if (c.probe.successes >= (probe.successThreshold ?? 1)) c.rt.running.ready = true;
    } else {
      c.probe.failures++;
      c.probe.successes = 0;
      if (c.probe.failures >= (probe.failureThreshold ?? 3)) c.rt.running.ready = false;
    }
  }

  /** tcpSocket probes connect from the node to the pod IP, as the kubelet does; exec runs inside the pod. */
  async #runProbe(probe: Probe): Promise<boolean> {
    const timeoutMs = (probe.timeoutSeconds ?? 1) * 1000;
    if (probe.tcpSocket) {
      const port = Number(probe.tcpSocket.port);
      const host = this.#rt.podIP;
      if (!host || !Number.isFinite(port)) return false;
      return new Promise((resolve) => {
        const sock = connect({ host, port, timeout: timeoutMs }, () => {
          sock.destroy();
          resolve(true);
        });
        sock.on('timeout', () => {
          sock.destroy();
          resolve(false);
        });
        sock.on('error', () => resolve(false));
      });
    }
    if (probe.exec?.command?.length) {
      const res = await run('ip', ['netns', 'exec', this.netns, ...probe.exec.command], { timeoutMs }).catch(
        () => null,
      );
      return res?.code === 0;
    }
    return true;
  }

  async #writeStatus(now: number): Promise<void> {
    const status = podStatus(this.#rt, this.pod.status, now);
    const text = JSON.stringify(status);
    if (text === this.#lastWritten) return;
    const ns = this.pod.metadata?.namespace ?? 'default';
    const updated = await this.#deps.objects.patchPodStatus(ns, this.pod.metadata?.name ?? '', status);
    if (updated.status) this.pod = { ...this.pod, status: updated.status };
    this.#lastWritten = text;
  }

  async #terminate(): Promise<void> {
    const graceMs = Math.min(
      (this.pod.spec?.terminationGracePeriodSeconds ?? 30) * 1000 * this.#deps.cfg.timeScale,
      5_000,
    );
    for (const c of this.#containers) killGroup(c.child?.pid, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (this.#containers.some((c) => c.child) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    this.killAll();
    await this.#removeSandbox();
    const m = this.pod.metadata;
    await this.#deps.objects.finishPodDeletion(m?.namespace ?? 'default', m?.name ?? '', m?.uid);
    this.#deps.log('pod deleted', { pod: this.key });
    this.#done = true;
  }

  /** CNI DEL and namespace removal; tolerant of parts already gone. */
  async #removeSandbox(): Promise<void> {
    try {
      const conf = JSON.parse(readFileSync(conflistPath(this.#deps.cfg), 'utf8')) as CniConfList;
      await cniDel(conf, this.#cniContext(), this.#cni);
    } catch (err) {
      this.#deps.log('CNI DEL failed', { pod: this.key, error: describeError(err) });
    }
    await run('ip', ['netns', 'delete', this.netns], { timeoutMs: 10_000 });
    rmSync(`/etc/netns/${this.netns}`, { recursive: true, force: true });
    this.#rt.sandboxReadyAt = undefined;
  }

  /** Forgets a pod that disappeared from the API without our teardown (force-deleted). */
  async forget(): Promise<void> {
    this.killAll();
    await this.#removeSandbox();
    this.#done = true;
  }
}
