/**
 * Walking Kubernetes objects out of parsed JSON documents, the way `kubectl get … -o json` and the
 * API print them: a List (`items`), an array, a plain `{services, endpointSlices, pods, daemonSets,
 * configMaps}` object, or single objects. The one walker every reader of cluster-state files uses
 * (the Service/EndpointSlice/Pod state and the component reader). Bounded in depth and count:
 * it reads untrusted files. Pure; no I/O.
 */
import { isObj, type JsonObject } from './json.ts';

/** The keys of a plain object of lists, and the kind their items have when they carry none. */
export const LIST_KEYS: Readonly<Record<string, string>> = {
  services: 'Service',
  endpointSlices: 'EndpointSlice',
  pods: 'Pod',
  daemonSets: 'DaemonSet',
  configMaps: 'ConfigMap',
};

/** Limits of one walk. */
export interface WalkLimits {
  /** Nesting of lists inside lists (a List of Lists is depth 2). */
  readonly maxDepth?: number;
  /** Objects handed to the visitor; the walk stops after this many. */
  readonly maxObjects?: number;
}

/**
 * Calls `visit(kind, object)` for every Kubernetes object in `docs`, in document order. An object's
 * kind is its own `kind`, else the kind its list key implies (`{pods: [...]}` items are Pods: objects
 * listed through a typed client carry no `kind`). Objects of no known kind are not visited. Returns
 * how many objects were visited.
 */
export function walkKubeObjects(
  docs: readonly unknown[],
  visit: (kind: string, obj: JsonObject) => void,
  limits: WalkLimits = {},
): number {
  const maxDepth = limits.maxDepth ?? 4;
  const maxObjects = limits.maxObjects ?? 200_000;
  let seen = 0;
  const walk = (item: unknown, depth: number, implied: string | undefined): void => {
    if (depth > maxDepth || seen >= maxObjects) return;
    const children = childrenOf(item, implied);
    if (children) {
      for (const [child, kind] of children) walk(child, depth + 1, kind);
      return;
    }
    const kind = isObj(item) && typeof item.kind === 'string' ? item.kind : implied;
    if (isObj(item) && kind !== undefined) {
      seen++;
      visit(kind, item);
    }
  };
  for (const d of docs) walk(d, 0, undefined);
  return seen;
}

/**
 * What a container of objects holds, each with the kind its place implies: an array's items (the
 * array's own implied kind), a List's `items`, or the lists of a plain object without `kind`.
 * Undefined for an object that is itself a Kubernetes object (or for anything else).
 */
function childrenOf(item: unknown, implied: string | undefined): [unknown, string | undefined][] | undefined {
  if (Array.isArray(item)) return item.map((c) => [c, implied]);
  if (!isObj(item)) return undefined;
  if (Array.isArray(item.items)) return item.items.map((c) => [c, undefined]);
  if (typeof item.kind === 'string' || implied !== undefined) return undefined;
  return Object.entries(LIST_KEYS)
    .filter(([key]) => Array.isArray(item[key]))
    .map(([key, kind]) => [item[key], kind]);
}
