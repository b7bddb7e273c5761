/**
 * Restarts tied to a boot: how many pods of a node are crash-looping on its current boot. Pure:
 * the agent passes the pods it watches and when it first saw this boot.
 */
import { type Pod, timeMs } from './objects.ts';

/**
 * Pods with a container now waiting in CrashLoopBackOff whose last termination finished at or
 * after `sinceMs` (the agent's first sighting of this boot). Crashes from before that moment do
 * not count, so a long-broken pod from an earlier boot is not blamed on this one; an agent that
 * restarts mid-boot counts a crash-looping pod again at its next crash (the kubelet's back-off
 * caps the wait at 5 minutes).
 */
export function crashLoopingSince(pods: readonly Pod[], sinceMs: number): number {
  let n = 0;
  for (const pod of pods) {
    const statuses = [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])];
    const looping = statuses.some(
      (c) =>
        c.state?.waiting?.reason === 'CrashLoopBackOff' &&
        (timeMs(c.lastState?.terminated?.finishedAt) ?? Number.NEGATIVE_INFINITY) >= sinceMs,
    );
    if (looping) n++;
  }
  return n;
}
