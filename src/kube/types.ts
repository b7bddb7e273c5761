/**
 * The object shapes of src/kube/'s interfaces: netwarden's own (core/objects.ts), which the client
 * library's objects fit structurally, plus the few kube/-only client types.
 */

export type {
  CoreV1Event as LegacyEvent,
  V1PodDisruptionBudget as PodDisruptionBudget,
} from '@kubernetes/client-node';
export type {
  Endpoint,
  EndpointSlice,
  Node,
  NodeCondition,
  ObjectMeta,
  Pod,
  PodCondition,
  Service,
  Taint,
} from '../core/objects.ts';
export { objectKey, timeMs } from '../core/objects.ts';

/** What a watch delivers: the object after the change (or the last known state, for DELETED). */
export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

/** One change of a watched resource. */
export interface WatchEvent<T> {
  readonly type: WatchEventType;
  readonly object: T;
}

/** Result of an idempotent write: whether the cluster changed. */
export type WriteResult = 'changed' | 'unchanged';
