/**
 * The pod readiness gate `netwarden.dev/PodNetworkReady`: pods that list it in
 * `spec.readinessGates` are not Ready — and get no traffic from their Services — until netwarden
 * says their own network works. Pure decisions; the agent probes and writes.
 *
 * - The condition is True once the pod's own-namespace probe (DNS through the cluster DNS Service,
 *   TCP to the `kubernetes` Service and the pod's `netwarden.dev/probe-targets`) passed on this
 *   boot; False with the failing step while it fails.
 * - A True from before this boot (the kubelet recreated the pod's sandbox: its network is new and
 *   unverified) is turned False at once, then probed again.
 * - A probe that could not run (namespace not found yet, probe crashed) changes nothing but a
 *   missing condition, which becomes False `PodNetworkNotVerified`: the pod waits, it is not judged.
 */

import { type Pod, type PodCondition, timeMs } from './objects.ts';
import type { ProbeOutcome } from './probe.ts';

/** The pod condition type of the readiness gate. */
export const POD_NETWORK_READY = 'netwarden.dev/PodNetworkReady';

/** A condition to write (lastTransitionTime is set by the caller when the status flips). */
export interface DesiredPodCondition {
  readonly type: typeof POD_NETWORK_READY;
  readonly status: 'True' | 'False';
  readonly reason: string;
  readonly message: string;
}

/** True when the pod asks for the gate. */
export function hasNetworkReadinessGate(pod: Pod): boolean {
  return (pod.spec?.readinessGates ?? []).some((g) => g.conditionType === POD_NETWORK_READY);
}

/** The pod's current gate condition, if any. */
export function networkReadyCondition(pod: Pod): PodCondition | undefined {
  return pod.status?.conditions?.find((c) => c.type === POD_NETWORK_READY);
}

/** What to do for one gated pod this round. */
export type ReadinessWork =
  | { readonly kind: 'reset'; readonly condition: DesiredPodCondition }
  | { readonly kind: 'probe' }
  | { readonly kind: 'none' };

/**
 * Decides for one pod, given when this boot's hold began (`bootStartMs`: the Node's
 * `boot-seen-at`). Pods without the gate, without an address yet, on the host network, finished or
 * terminating need nothing.
 */
export function readinessWork(pod: Pod, bootStartMs: number | undefined): ReadinessWork {
  if (!hasNetworkReadinessGate(pod) || pod.spec?.hostNetwork || pod.metadata?.deletionTimestamp)
    return { kind: 'none' };
  const phase = pod.status?.phase;
  if (phase === 'Succeeded' || phase === 'Failed' || !pod.status?.podIP) return { kind: 'none' };
  const c = networkReadyCondition(pod);
  if (c?.status === 'True') {
    const since = timeMs(c.lastTransitionTime);
    // Verified before this boot: the sandbox (and its network) is new, so is the question.
    if (bootStartMs !== undefined && since !== undefined && since < bootStartMs)
      return {
        kind: 'reset',
        condition: {
          type: POD_NETWORK_READY,
          status: 'False',
          reason: 'NewBootNotVerified',
          message: 'the node rebooted: this pod network has not been verified on this boot',
        },
      };
    return { kind: 'none' };
  }
  return { kind: 'probe' };
}

/** The condition a probe outcome gives, or undefined when nothing should change. */
export function conditionFromProbe(
  outcome: ProbeOutcome,
  current: PodCondition | undefined,
): DesiredPodCondition | undefined {
  const want: DesiredPodCondition | undefined =
    outcome.status === 'ok'
      ? { type: POD_NETWORK_READY, status: 'True', reason: 'PodNetworkVerified', message: outcome.detail }
      : outcome.status === 'failing'
        ? {
            type: POD_NETWORK_READY,
            status: 'False',
            reason: 'PodNetworkProbeFailing',
            message: outcome.detail,
          }
        : current === undefined
          ? {
              type: POD_NETWORK_READY,
              status: 'False',
              reason: 'PodNetworkNotVerified',
              message: `not probed yet: ${outcome.detail}`,
            }
          : undefined;
  if (!want) return undefined;
  const same =
    current?.status === want.status && current.reason === want.reason && current.message === want.message;
  return same ? undefined : { ...want, message: want.message.slice(0, 1024) };
}
