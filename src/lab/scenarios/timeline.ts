/**
 * Turning what the scenario sees (pod states over time) into timeline entries. Pure: feed it
 * pods and times, read entries and per-pod facts.
 */

import { CONDITION_TYPE, READY_AT_ANNOTATION, TAINT_KEY } from '../../core/gate.ts';
import type { EndpointSlice, Node, Pod } from '../../core/objects.ts';
import { timeMs } from '../../core/objects.ts';
import { POD_NETWORK_READY } from '../../core/pod-readiness.ts';

/** One line of a scenario timeline; `tMs` is relative to the reboot. */
export interface TimelineEntry {
  readonly tMs: number;
  readonly event: string;
  readonly node?: string;
  readonly pod?: string;
  readonly detail?: string;
}

/** What the tracker remembers about a pod. */
export interface PodFacts {
  readonly key: string;
  readonly uid: string;
  node: string;
  ready: boolean;
  restartCount: number;
  sandboxAt: number | undefined;
  crashLooping: boolean;
  /** A container crashed (CrashLoopBackOff) in the sandbox made after the reboot. */
  brokeAfterBoot: boolean;
  deleted: boolean;
  createdAfterReboot: boolean;
  /** Evicted through the Eviction API (the DisruptionTarget condition says so), e.g. by netwarden. */
  evictedAt: number | undefined;
  /** The scenario's role label (`netwarden.dev/scenario-role`), if any. */
  role: string | undefined;
  /** The app label. */
  app: string | undefined;
  /** The controlling owner as `Kind/name` (ReplicaSet/…, DaemonSet/…), if any. */
  owner: string | undefined;
  hostNetwork: boolean;
  /** When it last became Ready (ms, absolute). */
  readyAt: number | undefined;
  /** The kubelet's ContainersReady condition last turned True (its lastTransitionTime, ms). */
  containersReadyAt: number | undefined;
  /** netwarden.dev/PodNetworkReady last turned True (its lastTransitionTime, ms). */
  podNetworkReadyAt: number | undefined;
  /** Reasons of every False PodNetworkReady seen after the reboot, in order, without repeats. */
  podNetworkFalseReasons: string[];
  /** First time after the reboot an EndpointSlice listed it not ready, and last time it turned ready. */
  endpointNotReadyAt: number | undefined;
  endpointReadyAt: number | undefined;
  /** Its endpoint's readiness as last seen. */
  endpointReady: boolean | undefined;
}

const isReady = (p: Pod): boolean =>
  p.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
const sandboxTime = (p: Pod): number | undefined =>
  timeMs(
    p.status?.conditions?.find((c) => c.type === 'PodReadyToStartContainers' && c.status === 'True')
      ?.lastTransitionTime,
  );
const conditionTrueAt = (p: Pod, type: string): number | undefined =>
  timeMs(p.status?.conditions?.find((c) => c.type === type && c.status === 'True')?.lastTransitionTime);
const restarts = (p: Pod): number =>
  (p.status?.containerStatuses ?? []).reduce((n, c) => n + (c.restartCount ?? 0), 0);
const crashLooping = (p: Pod): boolean =>
  (p.status?.containerStatuses ?? []).some((c) => c.state?.waiting?.reason === 'CrashLoopBackOff');

/** Follows pods and writes timeline entries for what changed. */
export class PodTracker {
  readonly facts = new Map<string, PodFacts>();
  readonly entries: TimelineEntry[] = [];
  #rebootAt: number | undefined;

  /** Marks t=0 of the timeline. Facts observed before it are the "before" state. */
  rebootAt(ms: number): void {
    this.#rebootAt = ms;
  }

  /** Time relative to the reboot. */
  rel(ms: number): number {
    return this.#rebootAt === undefined ? 0 : Math.round(ms - this.#rebootAt);
  }

  /** Adds an entry (for events that are not pod changes). */
  add(ms: number, e: Omit<TimelineEntry, 'tMs'>): void {
    this.entries.push({ tMs: this.rel(ms), ...e });
  }

  /** Records a pod's new state observed at `ms`. */
  observe(pod: Pod, ms: number): void {
    const uid = pod.metadata?.uid ?? '';
    const key = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const node = pod.spec?.nodeName ?? '';
    const started = this.#rebootAt !== undefined;
    let f = this.facts.get(uid);
    if (!f) {
      f = {
        key,
        uid,
        node,
        ready: false,
        restartCount: restarts(pod),
        sandboxAt: undefined,
        crashLooping: false,
        brokeAfterBoot: false,
        deleted: false,
        createdAfterReboot: started,
        evictedAt: undefined,
        role: pod.metadata?.labels?.['netwarden.dev/scenario-role'],
        app: pod.metadata?.labels?.app,
        owner: ownerOf(pod),
        hostNetwork: pod.spec?.hostNetwork === true,
        readyAt: undefined,
        containersReadyAt: undefined,
        podNetworkReadyAt: undefined,
        podNetworkFalseReasons: [],
        endpointNotReadyAt: undefined,
        endpointReadyAt: undefined,
        endpointReady: undefined,
      };
      this.facts.set(uid, f);
      if (started) this.add(ms, { event: 'pod-created', pod: key, ...(node ? { node } : {}) });
    }
    if (node && f.node !== node) {
      f.node = node;
      if (started) this.add(ms, { event: 'pod-scheduled', pod: key, node });
    }
    const sandbox = sandboxTime(pod);
    if (sandbox !== undefined && sandbox !== f.sandboxAt) {
      if (started)
        this.add(ms, {
          event: 'sandbox-created',
          pod: key,
          node,
          detail: `podIP ${pod.status?.podIP ?? '?'}`,
        });
      f.sandboxAt = sandbox;
    }
    const r = restarts(pod);
    if (r > f.restartCount) {
      if (started) {
        this.add(ms, { event: 'container-restarted', pod: key, node, detail: `restartCount ${r}` });
      }
      f.restartCount = r;
    }
    const looping = crashLooping(pod);
    if (looping && !f.crashLooping && started) {
      this.add(ms, { event: 'crash-loop-back-off', pod: key, node, detail: firstWaitingMessage(pod) });
      if (this.#afterBoot(f)) f.brokeAfterBoot = true;
    }
    f.crashLooping = looping;
    const evicted = pod.status?.conditions?.some(
      (c) => c.type === 'DisruptionTarget' && c.status === 'True' && c.reason === 'EvictionByEvictionAPI',
    );
    if (evicted && f.evictedAt === undefined) {
      f.evictedAt = ms;
      if (started)
        this.add(ms, {
          event: 'pod-evicted',
          pod: key,
          node,
          detail: 'Eviction API (DisruptionTarget: EvictionByEvictionAPI)',
        });
    }
    f.containersReadyAt = conditionTrueAt(pod, 'ContainersReady') ?? f.containersReadyAt;
    const network = pod.status?.conditions?.find((c) => c.type === POD_NETWORK_READY);
    if (network?.status === 'True') {
      const at = timeMs(network.lastTransitionTime);
      if (at !== undefined && at !== f.podNetworkReadyAt) {
        f.podNetworkReadyAt = at;
        if (started)
          this.add(ms, { event: 'pod-network-ready', pod: key, node, detail: network.reason ?? '' });
      }
    } else if (network?.status === 'False' && started) {
      const reason = network.reason ?? '';
      if (f.podNetworkFalseReasons.at(-1) !== reason) {
        f.podNetworkFalseReasons.push(reason);
        this.add(ms, {
          event: 'pod-network-not-ready',
          pod: key,
          node,
          detail: `${reason}: ${network.message ?? ''}`.slice(0, 200),
        });
      }
    }
    const ready = isReady(pod);
    if (ready !== f.ready) {
      if (started) this.add(ms, { event: ready ? 'pod-ready' : 'pod-not-ready', pod: key, node });
      f.ready = ready;
      if (ready) f.readyAt = ms;
    }
  }

  /**
   * Records what an EndpointSlice says of its pods (by targetRef uid) at `ms`: the moments a
   * pod's endpoint was first seen not ready after the reboot and last turned ready.
   */
  endpoints(slice: EndpointSlice, ms: number): void {
    const started = this.#rebootAt !== undefined;
    for (const e of slice.endpoints ?? []) {
      const f = e.targetRef?.uid ? this.facts.get(e.targetRef.uid) : undefined;
      if (!f) continue;
      const ready = e.conditions?.ready === true;
      if (ready === f.endpointReady) continue;
      f.endpointReady = ready;
      if (!started) continue;
      if (ready) f.endpointReadyAt = ms;
      else f.endpointNotReadyAt ??= ms;
      this.add(ms, {
        event: ready ? 'endpoint-ready' : 'endpoint-not-ready',
        pod: f.key,
        node: f.node,
        detail: `EndpointSlice ${slice.metadata?.name ?? '?'} ${e.addresses.join(',')}`,
      });
    }
  }

  /** Records a pod's deletion. */
  deleted(pod: Pod, ms: number): void {
    const f = this.facts.get(pod.metadata?.uid ?? '');
    if (!f || f.deleted) return;
    f.deleted = true;
    this.add(ms, { event: 'pod-deleted', pod: f.key, node: f.node });
  }

  /** Live pods (not deleted). */
  live(): PodFacts[] {
    return [...this.facts.values()].filter((f) => !f.deleted);
  }

  #afterBoot(f: PodFacts): boolean {
    return this.#rebootAt !== undefined && f.sandboxAt !== undefined && f.sandboxAt >= this.#rebootAt - 1000;
  }
}

function ownerOf(pod: Pod): string | undefined {
  const o = pod.metadata?.ownerReferences?.find((r) => r.controller) ?? pod.metadata?.ownerReferences?.[0];
  return o ? `${o.kind}/${o.name}` : undefined;
}

function firstWaitingMessage(pod: Pod): string {
  const w = (pod.status?.containerStatuses ?? []).find((c) => c.state?.waiting)?.state?.waiting;
  return w?.message ?? w?.reason ?? '';
}

/** Follows one Node's gate (netwarden's taint and condition) and notes when it closed and opened after the reboot. */
export class GateTracker {
  readonly #node: string;
  readonly #pods: PodTracker;
  #armed = false;
  closedAt: number | undefined;
  openedAt: number | undefined;
  readyAtAnnotation: string | undefined;

  /** `pods` provides the timeline (and t = 0). */
  constructor(node: string, pods: PodTracker) {
    this.#node = node;
    this.#pods = pods;
  }

  /** Starts watching for the reboot's closing. */
  arm(): void {
    this.#armed = true;
  }

  /** Records the Node's state observed at `ms`. */
  observe(node: Node, ms: number): void {
    if (!this.#armed || node.metadata?.name !== this.#node) return;
    const tainted = (node.spec?.taints ?? []).some((t) => t.key === TAINT_KEY);
    const condition = node.status?.conditions?.find((c) => c.type === CONDITION_TYPE);
    const closed = tainted || condition?.status === 'False';
    if (this.closedAt === undefined && closed) {
      this.closedAt = ms;
      this.#pods.add(ms, {
        event: 'gate-closed',
        node: this.#node,
        detail: `${condition?.reason ?? ''}${tainted ? ', taint on' : ''}`,
      });
    } else if (
      this.closedAt !== undefined &&
      this.openedAt === undefined &&
      !tainted &&
      condition?.status === 'True'
    ) {
      this.openedAt = ms;
      this.readyAtAnnotation = node.metadata?.annotations?.[READY_AT_ANNOTATION];
      this.#pods.add(ms, {
        event: 'gate-opened',
        node: this.#node,
        detail: `datapath-ready-at ${this.readyAtAnnotation ?? '?'}`,
      });
    }
  }
}
