/**
 * What the agent keeps of each watched object: the fields its checks, gate and repair read (the
 * shapes of core/objects.ts), nothing else. A Service arrives with managedFields, annotations,
 * selectors, status; an EndpointSlice with a targetRef per endpoint; a Node with its image list —
 * at 10,000 Services that is most of the agent's memory. Idempotent, and pure but for sharing:
 * values that repeat across thousands of objects (a namespace, a node name, an endpoint's
 * conditions) are kept once and shared, read-only (at 10,000 Services × 5 endpoints the
 * Services and EndpointSlices took 31 % less heap: 24.2 → 16.6 MB, bench/cache-memory.ts).
 */
import type { EndpointSlice, Node, ObjectMeta, Pod, Service } from '../core/objects.ts';

/** Labels read off Services and EndpointSlices (kube-proxy's and the service-name link). */
const KEPT_LABELS = [
  'kubernetes.io/service-name',
  'service.kubernetes.io/service-proxy-name',
  'service.kubernetes.io/headless',
] as const;

/**
 * One copy of each repeated string (namespaces, node names). The table is bounded: past
 * {@link SHARED_MAX} distinct values it starts over (sharing only saves memory; nothing depends on it).
 */
const SHARED_MAX = 20_000;
const shared = new Map<string, string>();
function share(s: string): string {
  const kept = shared.get(s);
  if (kept !== undefined) return kept;
  if (shared.size >= SHARED_MAX) shared.clear();
  shared.set(s, s);
  return s;
}

type Conditions = NonNullable<NonNullable<EndpointSlice['endpoints']>[number]['conditions']>;
/** The endpoint conditions seen, by value (at most 27 combinations), frozen: shared by every endpoint. */
const conditionSets = new Map<string, Conditions>();
function sharedConditions(c: Conditions): Conditions {
  const key = `${c.ready}/${c.serving}/${c.terminating}`;
  let kept = conditionSets.get(key);
  if (!kept) {
    kept = Object.freeze({
      ...(c.ready !== undefined ? { ready: c.ready } : {}),
      ...(c.serving !== undefined ? { serving: c.serving } : {}),
      ...(c.terminating !== undefined ? { terminating: c.terminating } : {}),
    });
    conditionSets.set(key, kept);
  }
  return kept;
}

/** Services' and EndpointSlices' metadata: no uid (nothing reads it; Pods and Nodes keep theirs). */
function meta(m: ObjectMeta | undefined): ObjectMeta {
  const out: ObjectMeta = {};
  if (m?.name !== undefined) out.name = m.name;
  if (m?.namespace !== undefined) out.namespace = share(m.namespace);
  if (m?.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  const labels: Record<string, string> = {};
  for (const k of KEPT_LABELS) {
    const v = m?.labels?.[k];
    if (v !== undefined) labels[k] = v;
  }
  if (Object.keys(labels).length > 0) out.labels = labels;
  return out;
}

/** A Service as the expected-state model and the well-known lookups read it. */
export function slimService(s: Service): Service {
  const spec = s.spec;
  if (!spec) return { metadata: meta(s.metadata) };
  const out: NonNullable<Service['spec']> = {};
  if (spec.type !== undefined) out.type = spec.type;
  if (spec.clusterIP !== undefined) out.clusterIP = spec.clusterIP;
  // Mostly `[clusterIP]` again; readers take clusterIP when clusterIPs is absent.
  const single = spec.clusterIPs?.length === 1 && spec.clusterIPs[0] === spec.clusterIP;
  if (spec.clusterIPs !== undefined && !single) out.clusterIPs = spec.clusterIPs;
  if (spec.internalTrafficPolicy !== undefined) out.internalTrafficPolicy = spec.internalTrafficPolicy;
  if (spec.ports !== undefined)
    out.ports = spec.ports.map((p) => ({
      port: p.port,
      ...(p.name !== undefined ? { name: p.name } : {}),
      ...(p.protocol !== undefined ? { protocol: p.protocol } : {}),
    }));
  return { metadata: meta(s.metadata), spec: out };
}

/** An EndpointSlice without targetRefs and topology leftovers: addresses, conditions, node, hints. */
export function slimEndpointSlice(s: EndpointSlice): EndpointSlice {
  return {
    metadata: meta(s.metadata),
    addressType: s.addressType,
    ...(s.ports
      ? {
          ports: s.ports.map((p) => ({
            ...(p.name !== undefined ? { name: p.name } : {}),
            ...(p.port !== undefined ? { port: p.port } : {}),
            ...(p.protocol !== undefined ? { protocol: p.protocol } : {}),
          })),
        }
      : {}),
    ...(s.endpoints
      ? {
          endpoints: s.endpoints.map((e) => ({
            addresses: e.addresses,
            ...(e.conditions !== undefined ? { conditions: sharedConditions(e.conditions) } : {}),
            ...(e.nodeName !== undefined ? { nodeName: share(e.nodeName) } : {}),
            ...(e.hints !== undefined ? { hints: e.hints } : {}),
          })),
        }
      : {}),
  };
}

/** A Node without managedFields and the status lists nothing reads (images, volumes). */
export function slimNode(n: Node): Node {
  const status = n.status as (Node['status'] & Record<string, unknown>) | undefined;
  const { images: _i, volumesInUse: _u, volumesAttached: _a, ...rest } = status ?? {};
  return {
    ...n,
    metadata: withoutManagedFields(n.metadata),
    ...(status ? { status: rest as NonNullable<Node['status']> } : {}),
  };
}

/** A Pod without managedFields (this node's pods: few, and repair reads much of them). */
export function slimPod(p: Pod): Pod {
  return { ...p, metadata: withoutManagedFields(p.metadata) };
}

function withoutManagedFields(m: ObjectMeta | undefined): ObjectMeta {
  const { managedFields: _m, ...rest } = (m ?? {}) as ObjectMeta & { managedFields?: unknown };
  return rest;
}
