/**
 * What the agent keeps of each watched object: the fields its checks, gate and repair read (the
 * shapes of core/objects.ts), nothing else. A Service arrives with managedFields, annotations,
 * selectors, status; an EndpointSlice with a targetRef per endpoint; a Node with its image list —
 * at 10,000 Services that is most of the agent's memory. Idempotent, and pure but for sharing:
 * values that repeat across thousands of objects (a namespace, a node name, a type, protocol, port
 * name or address type, a port list, an endpoint's conditions) are kept once and shared, read-only, and an
 * EndpointSlice's endpoints are packed ({@link KeptEndpointSlice}). At 10,000 Services × 5
 * endpoints, every string its own copy as the protobuf watch decodes them, the Services and
 * EndpointSlices take 4.2 + 6.4 MB of heap (bench/cache-memory.ts): 5.2 + 7.2 before the type,
 * protocol, port name and address type were shared, 5.2 + 13.4 before the endpoints were packed,
 * 13.7 + 21.9 as received.
 */
import type { Endpoint, EndpointSlice, Node, ObjectMeta, Pod, Service } from '../core/objects.ts';

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
  if (spec.type !== undefined) out.type = share(spec.type);
  if (spec.clusterIP !== undefined) out.clusterIP = spec.clusterIP;
  // Mostly `[clusterIP]` again; readers take clusterIP when clusterIPs is absent.
  const single = spec.clusterIPs?.length === 1 && spec.clusterIPs[0] === spec.clusterIP;
  if (spec.clusterIPs !== undefined && !single) out.clusterIPs = spec.clusterIPs;
  if (spec.internalTrafficPolicy !== undefined) out.internalTrafficPolicy = share(spec.internalTrafficPolicy);
  if (spec.ports !== undefined) out.ports = sharedPorts(spec.ports);
  return { metadata: meta(s.metadata), spec: out };
}

/** A port as Services and EndpointSlices carry it, in the fields kept. */
interface KeptPort {
  name?: string;
  port?: number;
  protocol?: string;
}

/**
 * One frozen copy of each port list seen (most Services and slices of a cluster list one of a few:
 * `http` 80/TCP and the like). Bounded as {@link share} is: past {@link SHARED_MAX} distinct lists
 * it starts over.
 */
const portLists = new Map<string, readonly KeptPort[]>();
function sharedPorts<P extends KeptPort>(ports: readonly P[]): P[] {
  const key = ports.map((p) => `${p.port ?? ''}/${p.protocol ?? ''}/${p.name ?? ''}`).join('|');
  let kept = portLists.get(key);
  if (!kept) {
    if (portLists.size >= SHARED_MAX) portLists.clear();
    kept = Object.freeze(
      ports.map((p) =>
        Object.freeze({
          ...(p.name !== undefined ? { name: share(p.name) } : {}),
          ...(p.port !== undefined ? { port: p.port } : {}),
          ...(p.protocol !== undefined ? { protocol: share(p.protocol) } : {}),
        }),
      ),
    );
    portLists.set(key, kept);
  }
  // Read-only in fact (frozen); the object types say mutable arrays.
  return kept as P[];
}

/** What an endpoint keeps beside its addresses, shared (frozen) by every endpoint with the same values. */
type EndpointRest = Readonly<Omit<Endpoint, 'addresses'>>;

/**
 * One copy of each (conditions, node name) an endpoint has; endpoints with hints get their own.
 * Bounded as {@link share} is: past {@link SHARED_MAX} it starts over.
 */
const rests = new Map<string, EndpointRest>();
function endpointRest(e: Endpoint): EndpointRest {
  const rest = (): EndpointRest =>
    Object.freeze({
      ...(e.conditions !== undefined ? { conditions: sharedConditions(e.conditions) } : {}),
      ...(e.nodeName !== undefined ? { nodeName: share(e.nodeName) } : {}),
      ...(e.hints !== undefined ? { hints: e.hints } : {}),
    });
  if (e.hints !== undefined) return rest();
  const c = e.conditions;
  const key = `${c ? `${c.ready}/${c.serving}/${c.terminating}` : '-'}|${e.nodeName === undefined ? '-' : `+${e.nodeName}`}`;
  let kept = rests.get(key);
  if (!kept) {
    if (rests.size >= SHARED_MAX) rests.clear();
    kept = rest();
    rests.set(key, kept);
  }
  return kept;
}

/** Between an endpoint's addresses, and between endpoints, in {@link KeptEndpointSlice}'s packed form. */
const ADDRESS_SEP = ' ';
const ENDPOINT_SEP = ',';

/** Whether every endpoint's addresses can be packed and read back as they were. */
function packable(endpoints: readonly Endpoint[]): boolean {
  return endpoints.every(
    (e) =>
      Array.isArray(e.addresses) &&
      e.addresses.length > 0 &&
      e.addresses.every(
        (a) => typeof a === 'string' && a !== '' && !a.includes(ADDRESS_SEP) && !a.includes(ENDPOINT_SEP),
      ),
  );
}

/**
 * An EndpointSlice as the agent keeps it: its endpoints packed into one string of their addresses
 * and one array of their shared {@link EndpointRest}s, decoded anew on each read of `endpoints`
 * (the expected state reads them once per cluster change and once per full read; the API check
 * reads the `kubernetes` Service's only). An endpoint object, its addresses array and its address
 * string took ~125 bytes of heap each: a slice of 5 endpoints takes 643 bytes packed, 1,335 before
 * (bench/cache-memory.ts).
 * Slices whose addresses cannot be packed (an empty list, a separator inside one: invalid API
 * objects) are kept as plain objects instead.
 */
class KeptEndpointSlice implements EndpointSlice {
  readonly metadata: ObjectMeta;
  readonly addressType: string;
  readonly ports?: NonNullable<EndpointSlice['ports']>;
  /** Every endpoint's addresses: {@link ADDRESS_SEP} between one's, {@link ENDPOINT_SEP} between endpoints. */
  readonly packedAddresses: string;
  /** Each endpoint's {@link EndpointRest}, in order. */
  readonly packedRests: readonly EndpointRest[];

  constructor(s: EndpointSlice, endpoints: readonly Endpoint[]) {
    this.metadata = meta(s.metadata);
    this.addressType = share(s.addressType);
    if (s.ports) this.ports = sharedPorts(s.ports);
    this.packedAddresses = endpoints.map((e) => e.addresses.join(ADDRESS_SEP)).join(ENDPOINT_SEP);
    this.packedRests = endpoints.map(endpointRest);
  }

  /** The endpoints, fresh objects on every read (changing them changes nothing kept). */
  get endpoints(): Endpoint[] {
    if (this.packedRests.length === 0) return [];
    const addresses = this.packedAddresses.split(ENDPOINT_SEP);
    return this.packedRests.map((rest, i) => ({
      addresses: (addresses[i] ?? '').split(ADDRESS_SEP),
      ...rest,
    }));
  }

  /** The slice as plain data (JSON.stringify reads no getters of a class). */
  toJSON(): EndpointSlice {
    return {
      metadata: this.metadata,
      addressType: this.addressType,
      ...(this.ports ? { ports: this.ports } : {}),
      endpoints: this.endpoints,
    };
  }
}

/**
 * An EndpointSlice without targetRefs and topology leftovers: addresses, conditions, node, hints;
 * its endpoints packed ({@link KeptEndpointSlice}). A slice already kept is returned as it is.
 */
export function slimEndpointSlice(s: EndpointSlice): EndpointSlice {
  if (s instanceof KeptEndpointSlice) return s;
  const endpoints = s.endpoints ?? [];
  if (packable(endpoints)) return new KeptEndpointSlice(s, endpoints);
  return {
    metadata: meta(s.metadata),
    addressType: share(s.addressType),
    ...(s.ports ? { ports: sharedPorts(s.ports) } : {}),
    ...(s.endpoints
      ? { endpoints: s.endpoints.map((e) => ({ addresses: e.addresses, ...endpointRest(e) })) }
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
