/**
 * The Kubernetes object shapes the rest of netwarden uses. Re-exported as types only, so that
 * `kube/` stays the one place that imports `@kubernetes/client-node`.
 */
export type {
  CoreV1Event as LegacyEvent,
  V1EndpointSlice as EndpointSlice,
  V1Node as Node,
  V1NodeCondition as NodeCondition,
  V1ObjectMeta as ObjectMeta,
  V1Pod as Pod,
  V1PodCondition as PodCondition,
  V1PodDisruptionBudget as PodDisruptionBudget,
  V1Service as Service,
  V1Taint as Taint,
} from '@kubernetes/client-node';

/** What a watch delivers: the object after the change (or the last known state, for DELETED). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change of a watched resource. */
export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** Result of an idempotent write: whether the cluster changed. */
export type WriteResult = 'changed' | 'unchanged';

/**
 * Milliseconds of a Kubernetes timestamp. Objects read through the typed API carry `Date`s, objects
 * from a watch stream carry RFC 3339 strings; every reader of a time goes through this.
 */
export function timeMs(t: Date | string | undefined | null): number | undefined {
  if (t === undefined || t === null) return undefined;
  const ms = typeof t === 'string' ? Date.parse(t) : t.getTime();
  return Number.isNaN(ms) ? undefined : ms;
}

/** `namespace/name` (or `name` for cluster-scoped objects): the key of caches and watches. */
export function objectKey(obj: { metadata?: { namespace?: string; name?: string } }): string {
  const m = obj.metadata ?? {};
  return m.namespace ? `${m.namespace}/${m.name ?? ''}` : (m.name ?? '');
}
