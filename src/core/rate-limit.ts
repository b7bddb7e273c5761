/**
 * How fast netwarden may recycle pods on one node, and when it must stop: the limiter state is
 * plain data (JSON-serialisable) and every change is a pure function returning a new state, so
 * the agent can keep it in memory, persist it (e.g. in a node annotation or a file under
 * /var/lib) or rebuild it after a restart.
 *
 * Limits, per node:
 * - at most `maxConcurrent` recycles in flight (evicted, pod object not gone yet);
 * - at most `maxPerMinute` recycles in any sliding 60 s window (exact, not a token bucket:
 *   a sliding window makes "R per minute" literally true for every window, which is what an
 *   operator reads the setting as);
 * - at most `maxPerBoot` recycles per boot of the node;
 * - a StatefulSet's pods one at a time (no other pod of the same set in flight);
 * - after a 429 (PDB or API throttling) or an API error, exponential back-off for that pod;
 * - the loop breaker: per owner (controller uid) and boot, a pod is a "try" of generation g,
 *   where originals are generation 1 and a pod created after netwarden recycled a generation-g
 *   sibling is generation g+1 (its replacement, or a pod created since). Generations above
 *   `maxTriesPerOwner` (default 2: the original and one replacement) are refused and the owner is
 *   marked as not healed by recycling for the rest of the boot (reason `RecyclingDidNotHeal`).
 *   Counting generations instead of evictions lets a 5-replica ReplicaSet whose 5 pods all started
 *   too early be repaired, while a replacement that comes up broken again stops the loop.
 *
 * Everything resets when the node's boot id changes (`limiterForBoot`).
 */

/** The node-condition reason the agent reports when recycling did not heal an owner's pods. */
export const RECYCLING_DID_NOT_HEAL = 'RecyclingDidNotHeal';

/** The limiter's settings. Durations in milliseconds. */
export interface RecycleLimits {
  /** Recycles in flight at once (evicted, pod object not yet gone). */
  readonly maxConcurrent: number;
  /** Recycles in any sliding 60 s window. */
  readonly maxPerMinute: number;
  /** Recycles per boot of the node. */
  readonly maxPerBoot: number;
  /** Generations per owner and boot; the next one trips the loop breaker. */
  readonly maxTriesPerOwner: number;
  /** An eviction whose pod is still there after this long no longer counts as in flight (stuck finalizer). */
  readonly inFlightTimeoutMs: number;
  /** First back-off after a 429 or error; doubles per consecutive refusal. */
  readonly backoffBaseMs: number;
  /** Back-off ceiling. */
  readonly backoffMaxMs: number;
  /**
   * Tolerance between the agent's clock (recycle times) and the API server's (creation times):
   * a pod created up to this long before a recycle of its owner still counts as created after it.
   * Erring this way can only make the loop breaker trip earlier, never later.
   */
  readonly clockSkewMs: number;
}

/**
 * Defaults: one broken pod every few seconds is fast enough after a reboot (a node rarely has
 * more than a few dozen pods) and slow enough that a wrong decision hurts one or two pods, not
 * the node. 10 min in flight covers a long terminationGracePeriodSeconds; back-off 10 s → 5 min
 * matches the kubelet's own container back-off.
 */
export const DEFAULT_RECYCLE_LIMITS: RecycleLimits = {
  maxConcurrent: 2,
  maxPerMinute: 10,
  maxPerBoot: 50,
  maxTriesPerOwner: 2,
  inFlightTimeoutMs: 10 * 60_000,
  backoffBaseMs: 10_000,
  backoffMaxMs: 5 * 60_000,
  clockSkewMs: 10_000,
};

/** Length of the per-minute window. */
export const RATE_WINDOW_MS = 60_000;

/** One eviction that was accepted and whose pod still exists. */
export interface InFlightRecycle {
  readonly podUid: string;
  /** `namespace/name`. */
  readonly podKey: string;
  readonly ownerKey: string;
  readonly ownerKind: string;
  readonly atMs: number;
}

/** One recycle of an owner's pod on this boot. */
export interface OwnerRecycle {
  readonly podKey: string;
  readonly atMs: number;
  readonly generation: number;
}

/** What happened to one owner's pods on this boot. */
export interface OwnerHistory {
  readonly recycles: readonly OwnerRecycle[];
  /** Set when the loop breaker tripped: no more recycles of this owner on this boot. */
  readonly gaveUpAtMs?: number;
}

/** Back-off of one pod after refusals (429) or errors. */
export interface BackoffEntry {
  readonly failures: number;
  readonly nextAtMs: number;
  /** What the last refusal was, e.g. `pdb`, `throttled`, `error`. */
  readonly lastReason: string;
}

/** The whole limiter state of one node. Plain data: safe to JSON.stringify and parse back. */
export interface LimiterState {
  readonly bootId: string;
  readonly inFlight: readonly InFlightRecycle[];
  /** Times of recycles within the last RATE_WINDOW_MS (older ones are pruned). */
  readonly recentMs: readonly number[];
  /** Recycles on this boot. */
  readonly bootTotal: number;
  /** By owner key (see `ownerKey` in recycle-policy). */
  readonly owners: Readonly<Record<string, OwnerHistory>>;
  /** By pod uid. */
  readonly backoff: Readonly<Record<string, BackoffEntry>>;
  /** By pod uid: the reason already reported (Event written) on this boot, so reports are not repeated. */
  readonly reported: Readonly<Record<string, string>>;
}

/** What the limiter needs to know about a pod it is asked to recycle. */
export interface RecycleRequest {
  readonly podUid: string;
  readonly podKey: string;
  /** creationTimestamp in ms; undefined is treated as "created after every recycle" (conservative). */
  readonly podCreatedMs: number | undefined;
  readonly ownerKey: string;
  readonly ownerKind: string;
}

/** Why the limiter refused, as a stable kebab-case token (also a metric label value). */
export type LimiterDenial =
  | 'backoff'
  /** This very pod was evicted and is still terminating: nothing to do. */
  | 'in-flight'
  | 'loop-breaker'
  | 'statefulset-in-progress'
  | 'concurrency'
  | 'per-minute'
  | 'per-boot';

/** The answer to "may this pod be recycled now?". */
export type Admission =
  | { readonly ok: true; readonly generation: number }
  | {
      readonly ok: false;
      readonly denial: LimiterDenial;
      /** One line for logs and /status. */
      readonly detail: string;
      /** Earliest time asking again can succeed, when the limiter can say. */
      readonly retryAtMs?: number;
    };

/** A fresh state for a boot. */
export function initialLimiterState(bootId: string): LimiterState {
  return { bootId, inFlight: [], recentMs: [], bootTotal: 0, owners: {}, backoff: {}, reported: {} };
}

/** The state to use on boot `bootId`: `state` itself when it belongs to that boot, else a fresh one. */
export function limiterForBoot(state: LimiterState | undefined, bootId: string): LimiterState {
  return state !== undefined && state.bootId === bootId ? state : initialLimiterState(bootId);
}

/**
 * Ends in-flight recycles whose pod is gone (its uid no longer among the node's pods) or that are
 * older than `inFlightTimeoutMs`, prunes the rate window, and forgets back-off and reports of pods
 * that are gone (so the state stays as small as the node's pod list). Call at the start of every
 * round with the uids of every pod bound to the node.
 */
export function settleInFlight(
  state: LimiterState,
  livePodUids: ReadonlySet<string>,
  now: number,
  limits: RecycleLimits = DEFAULT_RECYCLE_LIMITS,
): LimiterState {
  const live = <T>(rec: Readonly<Record<string, T>>): Record<string, T> =>
    Object.fromEntries(Object.entries(rec).filter(([uid]) => livePodUids.has(uid)));
  return {
    ...state,
    inFlight: liveInFlight(state, now, limits).filter((f) => livePodUids.has(f.podUid)),
    recentMs: state.recentMs.filter((t) => t > now - RATE_WINDOW_MS),
    backoff: live(state.backoff),
    reported: live(state.reported),
  };
}

function liveInFlight(state: LimiterState, now: number, limits: RecycleLimits): InFlightRecycle[] {
  return state.inFlight.filter((f) => now - f.atMs < limits.inFlightTimeoutMs);
}

/**
 * The generation of a pod of `ownerKey`: 1 for pods that existed before any recycle of the owner
 * on this boot, else 1 + the highest generation recycled before the pod was created.
 */
export function podGeneration(
  state: LimiterState,
  ownerKey: string,
  podCreatedMs: number | undefined,
  limits: RecycleLimits = DEFAULT_RECYCLE_LIMITS,
): number {
  let gen = 1;
  for (const r of state.owners[ownerKey]?.recycles ?? []) {
    const createdAfter = podCreatedMs === undefined || podCreatedMs >= r.atMs - limits.clockSkewMs;
    if (createdAfter) gen = Math.max(gen, r.generation + 1);
  }
  return gen;
}

/**
 * Whether `req` may be recycled now. A query only: the state changes through `recordRecycle`,
 * `recordRefusal` and `recordGaveUp`. Checks run from the most permanent refusal to the most
 * transient, so the answer names the reason that matters (loop breaker before rate limits).
 */
export function admitRecycle(
  state: LimiterState,
  req: RecycleRequest,
  now: number,
  limits: RecycleLimits = DEFAULT_RECYCLE_LIMITS,
): Admission {
  const owner = state.owners[req.ownerKey];
  if (owner?.gaveUpAtMs !== undefined) {
    return {
      ok: false,
      denial: 'loop-breaker',
      detail: `${req.ownerKey} was recycled ${owner.recycles.length} time(s) on this boot and its pods are still broken`,
    };
  }
  const generation = podGeneration(state, req.ownerKey, req.podCreatedMs, limits);
  if (generation > limits.maxTriesPerOwner) {
    return {
      ok: false,
      denial: 'loop-breaker',
      detail: `${req.podKey} is try ${generation} for ${req.ownerKey} on this boot (limit ${limits.maxTriesPerOwner}): its replacement is broken too`,
    };
  }
  const backoff = state.backoff[req.podUid];
  if (backoff !== undefined && now < backoff.nextAtMs) {
    return {
      ok: false,
      denial: 'backoff',
      detail: `${req.podKey} backing off after ${backoff.failures} refusal(s) (last: ${backoff.lastReason})`,
      retryAtMs: backoff.nextAtMs,
    };
  }
  const inFlight = liveInFlight(state, now, limits);
  if (inFlight.some((f) => f.podUid === req.podUid)) {
    // Evicted already and still terminating: asking again would double-count.
    return { ok: false, denial: 'in-flight', detail: `${req.podKey} is already being recycled` };
  }
  if (req.ownerKind === 'StatefulSet') {
    const sibling = inFlight.find((f) => f.ownerKey === req.ownerKey);
    if (sibling) {
      return {
        ok: false,
        denial: 'statefulset-in-progress',
        detail: `${sibling.podKey} of the same StatefulSet is still being recycled`,
      };
    }
  }
  if (inFlight.length >= limits.maxConcurrent) {
    return {
      ok: false,
      denial: 'concurrency',
      detail: `${inFlight.length} recycle(s) in flight (limit ${limits.maxConcurrent})`,
    };
  }
  const recent = state.recentMs.filter((t) => t > now - RATE_WINDOW_MS);
  if (recent.length >= limits.maxPerMinute) {
    const oldest = Math.min(...recent);
    return {
      ok: false,
      denial: 'per-minute',
      detail: `${recent.length} recycle(s) in the last minute (limit ${limits.maxPerMinute})`,
      retryAtMs: oldest + RATE_WINDOW_MS,
    };
  }
  if (state.bootTotal >= limits.maxPerBoot) {
    return {
      ok: false,
      denial: 'per-boot',
      detail: `${state.bootTotal} recycle(s) on this boot (limit ${limits.maxPerBoot})`,
    };
  }
  return { ok: true, generation };
}

/** Records an accepted eviction of `req` (generation from `admitRecycle`); clears its back-off. */
export function recordRecycle(
  state: LimiterState,
  req: RecycleRequest,
  generation: number,
  now: number,
): LimiterState {
  const owner = state.owners[req.ownerKey] ?? { recycles: [] };
  const { [req.podUid]: _cleared, ...backoff } = state.backoff;
  return {
    ...state,
    inFlight: [
      ...state.inFlight,
      { podUid: req.podUid, podKey: req.podKey, ownerKey: req.ownerKey, ownerKind: req.ownerKind, atMs: now },
    ],
    recentMs: [...state.recentMs.filter((t) => t > now - RATE_WINDOW_MS), now],
    bootTotal: state.bootTotal + 1,
    owners: {
      ...state.owners,
      [req.ownerKey]: {
        ...owner,
        recycles: [...owner.recycles, { podKey: req.podKey, atMs: now, generation }],
      },
    },
    backoff,
  };
}

/** Forgets a pod's back-off (its pod is gone, e.g. `already-gone` from the eviction). */
export function clearBackoff(state: LimiterState, podUid: string): LimiterState {
  if (state.backoff[podUid] === undefined) return state;
  const { [podUid]: _cleared, ...backoff } = state.backoff;
  return { ...state, backoff };
}

/** The back-off after `failures` consecutive refusals: base·2^(failures-1), capped. */
export function backoffDelayMs(failures: number, limits: RecycleLimits = DEFAULT_RECYCLE_LIMITS): number {
  const exp = Math.min(Math.max(failures - 1, 0), 30);
  return Math.min(limits.backoffBaseMs * 2 ** exp, limits.backoffMaxMs);
}

/** Records a refused or failed eviction of a pod (429 or API error): it backs off exponentially. */
export function recordRefusal(
  state: LimiterState,
  podUid: string,
  why: string,
  now: number,
  limits: RecycleLimits = DEFAULT_RECYCLE_LIMITS,
): LimiterState {
  const failures = (state.backoff[podUid]?.failures ?? 0) + 1;
  return {
    ...state,
    backoff: {
      ...state.backoff,
      [podUid]: { failures, nextAtMs: now + backoffDelayMs(failures, limits), lastReason: why },
    },
  };
}

/** Marks an owner as not healed by recycling: no more recycles of it on this boot. Idempotent. */
export function recordGaveUp(state: LimiterState, ownerKey: string, now: number): LimiterState {
  const owner = state.owners[ownerKey] ?? { recycles: [] };
  if (owner.gaveUpAtMs !== undefined) return state;
  return { ...state, owners: { ...state.owners, [ownerKey]: { ...owner, gaveUpAtMs: now } } };
}

/** Owners the loop breaker stopped on this boot (for the node condition and /status), sorted. */
export function ownersNotHealed(state: LimiterState): string[] {
  return Object.entries(state.owners)
    .filter(([, o]) => o.gaveUpAtMs !== undefined)
    .map(([k]) => k)
    .sort();
}

/** Whether `reason` was already reported for this pod on this boot. */
export function wasReported(state: LimiterState, podUid: string, reason: string): boolean {
  return state.reported[podUid] === reason;
}

/** Remembers that `reason` was reported for this pod, so the Event is written once per boot. */
export function recordReported(state: LimiterState, podUid: string, reason: string): LimiterState {
  if (state.reported[podUid] === reason) return state;
  return { ...state, reported: { ...state.reported, [podUid]: reason } };
}
