/**
 * What the agent keeps of each watched object: the fields its checks, gate and repair read (the
 * shapes of core/objects.ts), nothing else. A Service arrives with managedFields, annotations,
 * selectors, status; an EndpointSlice with a targetRef per endpoint; a Node with its image list —
 * at 10,000 Services that is most of the agent's memory. Pure and idempotent.
 */
import type { EndpointSlice, Node, ObjectMeta, Pod, Service } from '../core/objects.ts';

/** Labels read off Services and EndpointSlices (kube-proxy's and the service-name link). */
const KEPT_LABELS = [
  'kubernetes.io/service-name',
  'service.kubernetes.io/service-proxy-name',
  'service.kubernetes.io/headless',
] as const;

function meta(m: ObjectMeta | undefined): ObjectMeta {
  const out: ObjectMeta = {};
  if (m?.name !== undefined) out.name = m.name;
  if (m?.namespace !== undefined) out.namespace = m.namespace;
  if (m?.resourceVersion !== undefined) out.resourceVersion = m.resourceVersion;
  if (m?.uid !== undefined) out.uid = m.uid;
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
  if (spec.clusterIPs !== undefined) out.clusterIPs = spec.clusterIPs;
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
            ...(e.conditions !== undefined ? { conditions: e.conditions } : {}),
            ...(e.nodeName !== undefined ? { nodeName: e.nodeName } : {}),
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
