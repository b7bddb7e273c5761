/**
 * Pure computation of the writes netwarden makes to a Node. Each function looks at the Node as
 * last read and returns the minimal patch, or `null` when the Node is already in the wanted state
 * (so callers skip the write: idempotent by construction).
 */
import type { Node, NodeCondition, Taint } from './types.ts';

/** One RFC 6902 JSON patch operation. */
export type JsonPatchOp =
  | { op: 'test'; path: string; value: unknown }
  | { op: 'add' | 'replace'; path: string; value: unknown }
  | { op: 'remove'; path: string };

/** A taint is identified by key and effect, as the API server and kubectl do. */
export function sameTaint(a: Pick<Taint, 'key' | 'effect'>, b: Pick<Taint, 'key' | 'effect'>): boolean {
  return a.key === b.key && a.effect === b.effect;
}

/**
 * The JSON patch that makes `taint` present (`want: 'present'`) or absent on `node`, or null when
 * nothing needs to change. Race safety: the patch first `test`s the taint list exactly as read
 * (or, when the node has none, its resourceVersion), so a concurrent writer makes the API server
 * reject it and the caller re-reads and retries; nobody's taint is ever lost or duplicated.
 *
 * With `label`, that label follows the taint in the same patch (one request, one atomic change):
 * `label=true` while the taint is present, no such label once it is absent — also when only the
 * label is out of step (a taint placed by a version without the label, a label left behind).
 * `want: 'keep'` leaves the taint as it is and only brings the label in step with it.
 */
export function taintPatch(
  node: Node,
  taint: Taint,
  want: 'present' | 'absent' | 'keep',
  label?: string,
): JsonPatchOp[] | null {
  const current = node.spec?.taints ?? [];
  const has = current.some((t) => sameTaint(t, taint));
  const ops: JsonPatchOp[] = [];
  if (want !== 'keep' && (want === 'present') !== has) {
    const next =
      want === 'present'
        ? [
            ...current,
            { key: taint.key, effect: taint.effect, ...(taint.value ? { value: taint.value } : {}) },
          ]
        : current.filter((t) => !sameTaint(t, taint));
    if (node.spec?.taints === undefined) {
      ops.push(
        { op: 'test', path: '/metadata/resourceVersion', value: node.metadata?.resourceVersion ?? '' },
        { op: 'add', path: '/spec/taints', value: next },
      );
    } else {
      ops.push(
        { op: 'test', path: '/spec/taints', value: current.map(taintJson) },
        { op: 'replace', path: '/spec/taints', value: next.map(taintJson) },
      );
    }
  }
  if (label !== undefined) ops.push(...labelOps(node, label, want === 'keep' ? has : want === 'present'));
  return ops.length === 0 ? null : ops;
}

/** The value of the label that follows netwarden's taint. */
export const FOLLOWING_LABEL_VALUE = 'true';

/** Ops that make `label` present (value {@link FOLLOWING_LABEL_VALUE}) or absent; none when it already is. */
function labelOps(node: Node, label: string, present: boolean): JsonPatchOp[] {
  const labels = node.metadata?.labels;
  const value = labels?.[label];
  const path = `/metadata/labels/${pointerEscape(label)}`;
  if (present) {
    if (value === FOLLOWING_LABEL_VALUE) return [];
    if (labels === undefined)
      return [{ op: 'add', path: '/metadata/labels', value: { [label]: FOLLOWING_LABEL_VALUE } }];
    return [{ op: 'add', path, value: FOLLOWING_LABEL_VALUE }];
  }
  if (value === undefined) return [];
  // `test` first: a removal of a label that someone else already removed fails cleanly (retried).
  return [
    { op: 'test', path, value },
    { op: 'remove', path },
  ];
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
function pointerEscape(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A taint as the API server serializes it (timeAdded as RFC 3339 seconds), so `test` compares equal. */
function taintJson(t: Taint): Record<string, unknown> {
  const out: Record<string, unknown> = { key: t.key, effect: t.effect };
  if (t.value !== undefined && t.value !== '') out.value = t.value;
  if (t.timeAdded !== undefined) out.timeAdded = rfc3339Seconds(t.timeAdded);
  return out;
}

/** Formats a Date (or passes through a string) as the API server's metav1.Time: RFC 3339, whole seconds, UTC. */
export function rfc3339Seconds(t: Date | string): string {
  const d = typeof t === 'string' ? new Date(t) : t;
  return `${d.toISOString().slice(0, 19)}Z`;
}

/** The condition netwarden wants on a Node; times are filled in by {@link conditionPatch}. */
export interface DesiredCondition {
  readonly type: string;
  readonly status: 'True' | 'False' | 'Unknown';
  readonly reason: string;
  readonly message: string;
}

/**
 * The strategic-merge status patch that sets one condition, or null when the condition already
 * has this status, reason and message: an unchanged condition is never re-written (no heartbeat;
 * `lastHeartbeatTime` is the time of the last change of reason or message).
 * `lastTransitionTime` is kept when the status does not change (Kubernetes semantics: it marks the
 * last flip of status, not the last write) and set to `nowMs` when it does. Strategic merge keys
 * conditions by `type`, so other writers' conditions are never touched.
 */
export function conditionPatch(
  node: Node,
  want: DesiredCondition,
  nowMs: number,
): { status: { conditions: Record<string, unknown>[] } } | null {
  const existing = node.status?.conditions?.find((c) => c.type === want.type);
  const now = rfc3339Seconds(new Date(nowMs));
  if (existing && sameCondition(existing, want)) return null;
  const keepTransition =
    existing !== undefined && existing.status === want.status && existing.lastTransitionTime;
  const lastTransitionTime = keepTransition ? rfc3339Seconds(existing.lastTransitionTime as Date) : now;
  return {
    status: {
      conditions: [
        {
          type: want.type,
          status: want.status,
          reason: want.reason,
          message: want.message,
          lastHeartbeatTime: now,
          lastTransitionTime,
        },
      ],
    },
  };
}

/**
 * The strategic-merge status patch that deletes the condition of type `type`, or null when the
 * Node has none. `$patch: delete` keyed by type touches no other condition.
 */
export function removeConditionPatch(
  node: Node,
  type: string,
): { status: { conditions: Record<string, unknown>[] } } | null {
  if (!node.status?.conditions?.some((c) => c.type === type)) return null;
  return { status: { conditions: [{ type, $patch: 'delete' }] } };
}

function sameCondition(c: NodeCondition, want: DesiredCondition): boolean {
  return c.status === want.status && (c.reason ?? '') === want.reason && (c.message ?? '') === want.message;
}

/**
 * The merge patch that sets (string) or removes (null) the given annotations, or null when the
 * Node already matches. A merge patch of `metadata.annotations` touches only the keys named, so
 * it is safe against concurrent writers of other keys.
 */
export function annotationsPatch(
  node: Node,
  want: Readonly<Record<string, string | null>>,
): { metadata: { annotations: Record<string, string | null> } } | null {
  const current = node.metadata?.annotations ?? {};
  const delta: Record<string, string | null> = {};
  for (const [key, value] of Object.entries(want)) {
    if (value === null ? key in current : current[key] !== value) delta[key] = value;
  }
  return Object.keys(delta).length === 0 ? null : { metadata: { annotations: delta } };
}
