/**
 * The pod status the lab kubelet reports, as a pure function of what it knows about the pod's
 * sandbox and containers. Mirrors the kubelet: conditions PodReadyToStartContainers (sandbox and
 * network ready), Initialized, ContainersReady, Ready; containerStatuses with restartCount,
 * waiting CrashLoopBackOff and the last termination.
 */

import type { Pod } from '../../core/objects.ts';
import { timeMs } from '../../core/objects.ts';

/** What the kubelet knows about one container. */
export interface ContainerRuntime {
  readonly name: string;
  readonly image: string;
  restartCount: number;
  running?: { startedAt: number; ready: boolean } | undefined;
  waiting?: { reason: string; message?: string } | undefined;
  lastTerminated?: { exitCode: number; reason: string; startedAt: number; finishedAt: number } | undefined;
}

/** What the kubelet knows about one pod. */
export interface PodRuntime {
  readonly hostIP: string;
  podIP?: string | undefined;
  startTime?: number | undefined;
  /** When this boot's sandbox got its network (CNI ADD done): PodReadyToStartContainers. */
  sandboxReadyAt?: number | undefined;
  readonly containers: ContainerRuntime[];
}

const iso = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;

type Condition = {
  type: string;
  status: 'True' | 'False';
  lastTransitionTime: string;
  reason?: string;
  message?: string;
};

/**
 * The status to write. `previous` is the status last seen on the API object: a condition whose
 * status does not change keeps its lastTransitionTime; PodReadyToStartContainers takes the
 * sandbox time itself when True.
 */
export function podStatus(
  rt: PodRuntime,
  previous: Pod['status'] | undefined,
  nowMs: number,
): Record<string, unknown> {
  const sandboxReady = rt.sandboxReadyAt !== undefined;
  const containersReady = sandboxReady && rt.containers.every((c) => c.running?.ready === true);
  const notReady = rt.containers.filter((c) => c.running?.ready !== true).map((c) => c.name);
  const unready = {
    reason: 'ContainersNotReady',
    message: `containers with unready status: [${notReady.join(' ')}]`,
  };

  const keep = (type: string, status: 'True' | 'False', fallbackMs: number): string => {
    const prev = previous?.conditions?.find((c) => c.type === type);
    const prevMs = timeMs(prev?.lastTransitionTime);
    return prev?.status === status && prevMs !== undefined ? iso(prevMs) : iso(fallbackMs);
  };
  const conditions: Condition[] = [
    {
      type: 'PodReadyToStartContainers',
      status: sandboxReady ? 'True' : 'False',
      lastTransitionTime: sandboxReady
        ? iso(rt.sandboxReadyAt ?? nowMs)
        : keep('PodReadyToStartContainers', 'False', nowMs),
    },
    {
      type: 'Initialized',
      status: sandboxReady ? 'True' : 'False',
      lastTransitionTime: keep('Initialized', sandboxReady ? 'True' : 'False', nowMs),
    },
    {
      type: 'ContainersReady',
      status: containersReady ? 'True' : 'False',
      lastTransitionTime: keep('ContainersReady', containersReady ? 'True' : 'False', nowMs),
      ...(containersReady ? {} : unready),
    },
    {
      type: 'Ready',
      status: containersReady ? 'True' : 'False',
      lastTransitionTime: keep('Ready', containersReady ? 'True' : 'False', nowMs),
      ...(containersReady ? {} : unready),
    },
  ];
  const everStarted = rt.containers.some(
    (c) => c.running !== undefined || c.restartCount > 0 || c.lastTerminated,
  );
  return {
    phase: sandboxReady && everStarted ? 'Running' : 'Pending',
    hostIP: rt.hostIP,
    // Written as strategic-merge patches: `$patch: replace` makes a new sandbox's IP replace the
    // old one instead of being merged beside it (which the API server rejects).
    hostIPs: [{ ip: rt.hostIP }, { $patch: 'replace' }],
    ...(rt.podIP ? { podIP: rt.podIP, podIPs: [{ ip: rt.podIP }, { $patch: 'replace' }] } : {}),
    ...(rt.startTime ? { startTime: iso(rt.startTime) } : {}),
    conditions,
    containerStatuses: rt.containers.map(containerStatus),
  };
}

function containerStatus(c: ContainerRuntime): Record<string, unknown> {
  let state: Record<string, unknown>;
  if (c.running) state = { running: { startedAt: iso(c.running.startedAt) } };
  else if (c.waiting)
    state = {
      waiting: { reason: c.waiting.reason, ...(c.waiting.message ? { message: c.waiting.message } : {}) },
    };
  else state = { waiting: { reason: 'ContainerCreating' } };
  const last = c.lastTerminated
    ? {
        terminated: {
          exitCode: c.lastTerminated.exitCode,
          reason: c.lastTerminated.reason,
          startedAt: iso(c.lastTerminated.startedAt),
          finishedAt: iso(c.lastTerminated.finishedAt),
        },
      }
    : {};
  return {
    name: c.name,
    image: c.image,
    imageID: `lab://${c.image}`,
    ready: c.running?.ready === true,
    started: c.running !== undefined,
    restartCount: c.restartCount,
    state,
    lastState: last,
  };
}
