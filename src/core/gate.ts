/**
 * The gate policy: given what the Node says (its boot, the boot netwarden last verified, whether
 * our taint is on), this round's verdict, and the cluster-wide count of gated nodes, decide the
 * node condition, the taint and the annotations. Pure: the agent applies the decision.
 *
 * - A new boot (status.nodeInfo.bootID differs from the `netwarden.dev/boot-id` annotation) closes
 *   the gate at once, before any check, and clears `datapath-ready-at`; the taint for a new boot
 *   is exempt from the breaker (a rebooting node is not a cluster-wide fault).
 * - A closed gate opens after `openAfterPasses` consecutive Ok verdicts; the first opening of a
 *   boot writes `datapath-ready-at`.
 * - In `continuous` mode an open gate closes after `closeAfterFailures` consecutive Failing
 *   verdicts, unless that would gate more than `maxGatedFraction` of the selected nodes for
 *   non-boot reasons: then the condition says False/BreakerOpen and no taint is added.
 *   In `bootstrap` mode only boots are gated; later failures are reported in the message only.
 * - An Unknown verdict changes nothing but the condition (Unknown) and never moves the counters.
 * - Every boot hold has a deadline: `maxBootHoldMs` after the boot was first seen the gate opens
 *   whatever the checks say (condition True, reason BootHoldExpired, no `datapath-ready-at`, so
 *   repair does not run on an unverified path), and it is not re-closed on this boot until the data
 *   path has been verified once. A boot hold lasting past `bootHoldGraceMs` counts against the
 *   breaker like any other hold (a full-cluster restart must not leave most nodes tainted).
 * - With `taint` off the taint is removed when present (one netwarden placed earlier).
 */
import type { Verdict } from './check.ts';

/** Condition type, taint and annotations: the stable names. */
export const CONDITION_TYPE = 'netwarden.dev/DataPathReady';
export const TAINT_KEY = 'netwarden.dev/datapath-unready';
export const TAINT_EFFECT = 'NoSchedule';
export const BOOT_ID_ANNOTATION = 'netwarden.dev/boot-id';
export const READY_AT_ANNOTATION = 'netwarden.dev/datapath-ready-at';
/** When netwarden first saw the current boot (RFC 3339): the start of the boot hold. */
export const BOOT_SEEN_AT_ANNOTATION = 'netwarden.dev/boot-seen-at';
/**
 * On a Node exactly while netwarden's taint is (written in the same request): the breaker's
 * agents watch only Nodes with this label, so no agent needs every Node object.
 */
export const GATED_LABEL = 'netwarden.dev/gated';
/** The reporting controller of the agent's Events (what `netwarden status` reads back). */
export const AGENT_CONTROLLER = 'netwarden.dev/agent';

/** Reasons the gate itself uses (checks bring their own). */
export const REASON_NEW_BOOT = 'NewBootNotVerified';
export const REASON_VERIFYING = 'VerifyingDataPath';
export const REASON_VERIFIED = 'DataPathVerified';
export const REASON_BREAKER = 'BreakerOpen';
export const REASON_BOOT_HOLD_EXPIRED = 'BootHoldExpired';

/** Tunables (see the agent's --help for defaults and reasons). */
export interface GatePolicy {
  readonly mode: 'continuous' | 'bootstrap';
  readonly openAfterPasses: number;
  readonly closeAfterFailures: number;
  readonly taint: boolean;
  readonly maxGatedFraction: number;
  /** A boot is held at most this long (ms since it was first seen). */
  readonly maxBootHoldMs: number;
  /** A boot hold counts against the breaker once it lasts longer than this (ms). */
  readonly bootHoldGraceMs: number;
}

/** What the gate needs to know about its Node. */
export interface GateNodeView {
  readonly bootId: string | undefined;
  /** The `boot-id` annotation: the boot netwarden has seen (and is verifying or has verified). */
  readonly annotatedBootId: string | undefined;
  /** The `datapath-ready-at` annotation (RFC 3339), if this boot was verified. */
  readonly readyAt: string | undefined;
  /** The `boot-seen-at` annotation (RFC 3339): when this boot's hold began. */
  readonly bootSeenAt: string | undefined;
  readonly tainted: boolean;
  readonly conditionStatus: 'True' | 'False' | 'Unknown' | undefined;
  readonly conditionReason: string | undefined;
}

/** The other selected nodes, for the breaker. */
export interface GateClusterView {
  /** This node's name (breaker ties are broken by name). */
  readonly self: string;
  /** Selected nodes, this one included. */
  readonly selectedNodes: number;
  /** Other selected nodes under netwarden's taint for a reason other than a new boot. */
  readonly otherGatedNonBoot: readonly string[];
  /** Other selected nodes under netwarden's taint for a boot not verified for longer than the grace. */
  readonly otherBootHeldPastGrace: readonly string[];
}

/** In-memory state of the gate; rebuilt from the Node by {@link initialGateMemory} after a restart. */
export interface GateMemory {
  readonly closed: boolean;
  readonly passes: number;
  readonly failures: number;
  /** Closed by the breaker: condition False, no taint. */
  readonly breakerHeld: boolean;
  /** Closed because of a new boot (exempt from the breaker) rather than a later failure. */
  readonly bootClosure: boolean;
}

/** What the agent should make true. `taint: 'keep'` leaves the taint as it is. */
export interface GateDecision {
  readonly memory: GateMemory;
  readonly condition: { status: 'True' | 'False' | 'Unknown'; reason: string; message: string };
  readonly taint: 'present' | 'absent' | 'keep';
  readonly annotations: Readonly<Record<string, string | null>>;
  readonly transition:
    | 'closed-new-boot'
    | 'closed'
    | 'opened'
    | 'breaker-held'
    | 'boot-hold-expired'
    | undefined;
}

/** The gate memory a freshly started agent derives from its Node (state lives on the Node, not in memory). */
export function initialGateMemory(node: GateNodeView, policy: GatePolicy): GateMemory {
  const verifiedThisBoot =
    node.bootId !== undefined && node.annotatedBootId === node.bootId && node.readyAt !== undefined;
  const breakerHeld = node.conditionReason === REASON_BREAKER && node.conditionStatus === 'False';
  const closed = !verifiedThisBoot || (policy.taint && node.tainted) || node.conditionStatus === 'False';
  return { closed, passes: 0, failures: 0, breakerHeld, bootClosure: !verifiedThisBoot };
}

/** How many nodes the breaker lets netwarden taint for non-boot reasons. */
export function breakerCapacity(selectedNodes: number, maxFraction: number): number {
  return Math.floor(selectedNodes * maxFraction + 1e-9);
}

/** True when this node may be tainted for a non-boot reason without exceeding the breaker's share. */
export function breakerAllows(cluster: GateClusterView, maxFraction: number): boolean {
  return counted(cluster).length + 1 <= breakerCapacity(cluster.selectedNodes, maxFraction);
}

/** The other nodes the breaker counts: non-boot holds, and boot holds past their grace. */
function counted(cluster: GateClusterView): string[] {
  return [...new Set([...cluster.otherGatedNonBoot, ...cluster.otherBootHeldPastGrace])];
}

/**
 * Two agents can decide at the same moment, both seeing room for one more taint. Afterwards the
 * breaker corrects itself: of the nodes gated for non-boot reasons, only the first `capacity`
 * by name keep their taint; the others release it. Every agent computes the same order.
 */
export function breakerKeeps(cluster: GateClusterView, maxFraction: number): boolean {
  const capacity = breakerCapacity(cluster.selectedNodes, maxFraction);
  const gated = [...counted(cluster), cluster.self].sort();
  return gated.indexOf(cluster.self) < capacity;
}

/** Decides one round. `nowMs` stamps the annotations and measures the boot hold. */
export function decideGate(
  policy: GatePolicy,
  node: GateNodeView,
  verdict: Verdict,
  memory: GateMemory,
  cluster: GateClusterView,
  nowMs: number,
): GateDecision {
  const d = decideRound(policy, node, verdict, memory, cluster, nowMs);
  const repair = bootSeenAtRepair(node, nowMs);
  return Object.keys(repair).length > 0 && !(BOOT_SEEN_AT_ANNOTATION in d.annotations)
    ? { ...d, annotations: { ...d.annotations, ...repair } }
    : d;
}

function decideRound(
  policy: GatePolicy,
  node: GateNodeView,
  verdict: Verdict,
  memory: GateMemory,
  cluster: GateClusterView,
  nowMs: number,
): GateDecision {
  // With tainting off, a taint netwarden placed earlier comes off (the agent only writes if present).
  const taintIfEnabled = policy.taint ? 'present' : 'absent';
  if (node.bootId !== undefined && node.annotatedBootId !== node.bootId) {
    return {
      memory: { closed: true, passes: 0, failures: 0, breakerHeld: false, bootClosure: true },
      condition: {
        status: 'False',
        reason: REASON_NEW_BOOT,
        message: `boot ${short(node.bootId)} has not been verified yet`,
      },
      taint: taintIfEnabled,
      annotations: {
        [BOOT_ID_ANNOTATION]: node.bootId,
        [READY_AT_ANNOTATION]: null,
        [BOOT_SEEN_AT_ANNOTATION]: rfc3339(nowMs),
      },
      transition: 'closed-new-boot',
    };
  }
  const bootHold = bootHoldDecision(policy, node, verdict, memory, cluster, nowMs);
  if (bootHold) return bootHold;
  if (verdict.status === 'Unknown') {
    return {
      memory,
      condition: { status: 'Unknown', reason: verdict.reason, message: verdict.message },
      taint: 'keep',
      annotations: {},
      transition: undefined,
    };
  }
  const ok = verdict.status === 'Ok';
  const passes = ok ? memory.passes + 1 : 0;
  const failures = ok ? 0 : memory.failures + 1;

  if (memory.closed) {
    if (ok && passes >= policy.openAfterPasses) {
      const firstThisBoot = node.readyAt === undefined;
      return {
        memory: { closed: false, passes, failures, breakerHeld: false, bootClosure: false },
        condition: { status: 'True', reason: REASON_VERIFIED, message: verdict.message },
        taint: policy.taint ? 'absent' : 'keep',
        annotations: firstThisBoot ? { [READY_AT_ANNOTATION]: rfc3339(nowMs) } : {},
        transition: 'opened',
      };
    }
    const reason = ok ? REASON_VERIFYING : verdict.reason;
    const message = ok
      ? `${passes}/${policy.openAfterPasses} passing rounds: ${verdict.message}`
      : verdict.message;
    if (memory.breakerHeld) {
      // Still failing after the breaker held us open: taint only once the breaker allows it.
      const allowed = breakerAllows(cluster, policy.maxGatedFraction);
      return {
        memory: { closed: true, passes, failures, breakerHeld: !allowed, bootClosure: false },
        condition: allowed
          ? { status: 'False', reason, message }
          : { status: 'False', reason: REASON_BREAKER, message: breakerMessage(cluster, policy, message) },
        taint: allowed ? taintIfEnabled : 'keep',
        annotations: {},
        transition: allowed ? 'closed' : undefined,
      };
    }
    if (!memory.bootClosure && policy.taint && !breakerKeeps(cluster, policy.maxGatedFraction)) {
      // Over capacity after a simultaneous decision elsewhere, and not among the nodes that keep it.
      return {
        memory: { closed: true, passes, failures, breakerHeld: true, bootClosure: false },
        condition: {
          status: 'False',
          reason: REASON_BREAKER,
          message: breakerMessage(cluster, policy, message),
        },
        taint: 'absent',
        annotations: {},
        transition: 'breaker-held',
      };
    }
    return {
      memory: { ...memory, passes, failures, breakerHeld: false },
      condition: { status: 'False', reason, message },
      taint: taintIfEnabled,
      annotations: {},
      transition: undefined,
    };
  }

  // Open gate. Only a boot verified once is re-closed: a hold that expired unverified stays open.
  const verifiedThisBoot = node.readyAt !== undefined;
  if (ok && !verifiedThisBoot && passes >= policy.openAfterPasses) {
    return {
      memory: { closed: false, passes, failures, breakerHeld: false, bootClosure: false },
      condition: { status: 'True', reason: REASON_VERIFIED, message: verdict.message },
      taint: policy.taint ? 'keep' : 'absent',
      annotations: { [READY_AT_ANNOTATION]: rfc3339(nowMs) },
      transition: 'opened',
    };
  }
  if (!ok && policy.mode === 'continuous' && failures >= policy.closeAfterFailures && verifiedThisBoot) {
    if (policy.taint && !breakerAllows(cluster, policy.maxGatedFraction)) {
      return {
        memory: { closed: true, passes, failures, breakerHeld: true, bootClosure: false },
        condition: {
          status: 'False',
          reason: REASON_BREAKER,
          message: breakerMessage(cluster, policy, verdict.message),
        },
        taint: 'keep',
        annotations: {},
        transition: 'breaker-held',
      };
    }
    return {
      memory: { closed: true, passes, failures, breakerHeld: false, bootClosure: false },
      condition: { status: 'False', reason: verdict.reason, message: verdict.message },
      taint: taintIfEnabled,
      annotations: {},
      transition: 'closed',
    };
  }
  if (!verifiedThisBoot)
    return {
      memory: { closed: false, passes, failures, breakerHeld: false, bootClosure: false },
      condition: {
        status: 'True',
        reason: REASON_BOOT_HOLD_EXPIRED,
        message: `not verified on this boot; the hold expired and is not renewed: ${verdict.message}`,
      },
      taint: policy.taint ? 'keep' : 'absent',
      annotations: {},
      transition: undefined,
    };
  const message = ok
    ? verdict.message
    : `verified on this boot; now failing (${failures} round(s)${policy.mode === 'bootstrap' ? ', bootstrap mode does not re-close' : ''}): ${verdict.message}`;
  return {
    memory: { closed: false, passes, failures, breakerHeld: false, bootClosure: false },
    condition: { status: 'True', reason: REASON_VERIFIED, message },
    taint: policy.taint ? 'keep' : 'absent',
    annotations: {},
    transition: undefined,
  };
}

/**
 * The boot hold's bounds, for a gate still closed for this boot: past `maxBootHoldMs` it opens;
 * past `bootHoldGraceMs` it counts against the breaker, which may release it. Undefined when neither
 * applies (the ordinary rules decide).
 */
function bootHoldDecision(
  policy: GatePolicy,
  node: GateNodeView,
  verdict: Verdict,
  memory: GateMemory,
  cluster: GateClusterView,
  nowMs: number,
): GateDecision | undefined {
  if (!memory.closed || !memory.bootClosure || node.readyAt !== undefined) return undefined;
  const since = node.bootSeenAt !== undefined ? Date.parse(node.bootSeenAt) : Number.NaN;
  // An agent from before boot-seen-at existed, or a hand-edited value: the hold starts now.
  if (Number.isNaN(since)) return undefined;
  const heldMs = nowMs - since;
  const why = verdict.status === 'Ok' ? 'checks passing' : `${verdict.reason}: ${verdict.message}`;
  if (heldMs >= policy.maxBootHoldMs) {
    return {
      memory: { closed: false, passes: 0, failures: 0, breakerHeld: false, bootClosure: false },
      condition: {
        status: 'True',
        reason: REASON_BOOT_HOLD_EXPIRED,
        message: `boot ${short(node.bootId ?? '')} held ${Math.round(heldMs / 1000)} s without being verified (limit ${Math.round(policy.maxBootHoldMs / 1000)} s); gate opened unverified; last: ${why}`,
      },
      taint: 'absent',
      annotations: {},
      transition: 'boot-hold-expired',
    };
  }
  if (heldMs >= policy.bootHoldGraceMs && policy.taint && !breakerKeeps(cluster, policy.maxGatedFraction)) {
    return {
      memory: { ...memory, breakerHeld: true },
      condition: {
        status: 'False',
        reason: REASON_BREAKER,
        message: breakerMessage(cluster, policy, `boot held ${Math.round(heldMs / 1000)} s; ${why}`),
      },
      taint: 'absent',
      annotations: {},
      transition: memory.breakerHeld ? undefined : 'breaker-held',
    };
  }
  return undefined;
}

/** The missing `boot-seen-at` of a boot already being held (written once, so the hold gets a deadline). */
function bootSeenAtRepair(node: GateNodeView, nowMs: number): Record<string, string> {
  return node.bootId !== undefined && node.annotatedBootId === node.bootId && node.bootSeenAt === undefined
    ? { [BOOT_SEEN_AT_ANNOTATION]: rfc3339(nowMs) }
    : {};
}

function breakerMessage(cluster: GateClusterView, policy: GatePolicy, why: string): string {
  return `not tainting: ${counted(cluster).length + 1} of ${cluster.selectedNodes} nodes would be gated, more than ${Math.round(policy.maxGatedFraction * 100)}%; ${why}`;
}

function short(id: string): string {
  return id.slice(0, 8);
}

function rfc3339(ms: number): string {
  return new Date(ms).toISOString();
}
