/**
 * Kubernetes watch events in protobuf, for Nodes: the frame's `metav1.WatchEvent`, the object's
 * `runtime.Unknown` envelope ("k8s\0" magic, then type and raw bytes), and the Node itself — read
 * into the same shape the JSON watch gives (core/objects.ts `Node`), for exactly the fields that
 * shape declares; every other field is skipped. `ERROR` events carry a `metav1.Status`, read into
 * its JSON form (kind, code, reason, message) so the reflector sees a 410 either way.
 *
 * Field numbers are those of k8s.io/api core/v1 and k8s.io/apimachinery meta/v1 `generated.proto`
 * (stable: protobuf field numbers are never reused). Pure.
 */
import type { Node, NodeCondition, ObjectMeta, OwnerReference, Taint } from '../core/objects.ts';
import {
  bytesOf,
  forEachField,
  mapEntryOf,
  numberOf,
  ProtobufError,
  stringOf,
  type WireValue,
} from './protobuf.ts';
import type { RawWatchEvent } from './watch.ts';

/** The magic every protobuf-encoded Kubernetes object starts with. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** One watch frame (a `metav1.WatchEvent`) as the JSON watch would have delivered it. */
export function decodeNodeWatchEvent(frame: Buffer): RawWatchEvent {
  let type = '';
  let raw: Buffer | undefined;
  forEachField(unwrapMagic(frame), (f, v) => {
    if (f === 1) type = stringOf(v, 'WatchEvent.type');
    else if (f === 2)
      forEachField(bytesOf(v, 'WatchEvent.object'), (g, w) => {
        if (g === 1) raw = bytesOf(w, 'WatchEvent.object.raw');
      });
  });
  if (type === '') throw new ProtobufError('a watch event without a type');
  if (!raw) throw new ProtobufError(`a ${type} watch event without an object`);
  const { kind, body } = unknownEnvelope(raw);
  if (kind === 'Status') return { type, object: status(body) };
  if (kind !== 'Node')
    throw new ProtobufError(`a ${type} watch event of a ${kind || 'kind-less'} object, not a Node`);
  return { type, object: node(body) };
}

/** Strips the magic when present (the stream's events go without it, embedded objects with it). */
function unwrapMagic(buf: Buffer): Buffer {
  return buf.subarray(0, 4).equals(MAGIC) ? buf.subarray(4) : buf;
}

/** `runtime.Unknown`: typeMeta = 1 (apiVersion = 1, kind = 2), raw = 2. */
function unknownEnvelope(buf: Buffer): { kind: string; body: Buffer } {
  if (!buf.subarray(0, 4).equals(MAGIC)) throw new ProtobufError('an object without the "k8s\\0" magic');
  let kind = '';
  let body: Buffer = Buffer.alloc(0);
  forEachField(buf.subarray(4), (f, v) => {
    if (f === 1)
      forEachField(bytesOf(v, 'Unknown.typeMeta'), (g, w) => {
        if (g === 2) kind = stringOf(w, 'TypeMeta.kind');
      });
    else if (f === 2) body = bytesOf(v, 'Unknown.raw');
  });
  return { kind, body };
}

/** `metav1.Status`: status = 2, message = 3, reason = 4, code = 6. */
function status(buf: Buffer): Record<string, unknown> {
  const out: Record<string, unknown> = { kind: 'Status', apiVersion: 'v1' };
  forEachField(buf, (f, v) => {
    if (f === 2) out.status = stringOf(v, 'Status.status');
    else if (f === 3) out.message = stringOf(v, 'Status.message');
    else if (f === 4) out.reason = stringOf(v, 'Status.reason');
    else if (f === 6) out.code = numberOf(v, 'Status.code');
  });
  return out;
}

/**
 * `metav1.Time` (seconds = 1; nanos dropped, as its JSON form does) as RFC 3339. A zero time goes
 * as an empty message (JSON: null): undefined, as is a time before 1970 or past year 9999.
 */
function time(v: WireValue, what: string): string | undefined {
  let seconds: number | undefined;
  forEachField(bytesOf(v, what), (f, w) => {
    if (f === 1) seconds = numberOf(w, `${what}.seconds`);
  });
  if (seconds === undefined || seconds <= 0 || seconds > 253_402_300_799) return undefined;
  return new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
}

/**
 * Sets `obj[key]` unless `value` is undefined or empty: protobuf writes empty strings and zero
 * times that JSON leaves out (`omitempty`), and the two forms must read the same.
 */
function opt<T extends object, K extends keyof T>(obj: T, key: K, value: T[K] | undefined): void {
  if (value !== undefined && (value as unknown) !== '') obj[key] = value;
}

/** `metav1.ObjectMeta`, the fields core/objects.ts declares (managedFields and the rest skipped). */
function objectMeta(buf: Buffer): ObjectMeta {
  const m: ObjectMeta = {};
  const labels: Record<string, string> = {};
  const annotations: Record<string, string> = {};
  const owners: OwnerReference[] = [];
  forEachField(buf, (f, v) => {
    if (f === 1) opt(m, 'name', stringOf(v, 'metadata.name'));
    else if (f === 2) opt(m, 'generateName', stringOf(v, 'metadata.generateName'));
    else if (f === 3) opt(m, 'namespace', stringOf(v, 'metadata.namespace'));
    else if (f === 5) opt(m, 'uid', stringOf(v, 'metadata.uid'));
    else if (f === 6) opt(m, 'resourceVersion', stringOf(v, 'metadata.resourceVersion'));
    else if (f === 8) opt(m, 'creationTimestamp', time(v, 'metadata.creationTimestamp'));
    else if (f === 9) opt(m, 'deletionTimestamp', time(v, 'metadata.deletionTimestamp'));
    else if (f === 11) {
      const [k, x] = mapEntryOf(v, 'metadata.labels');
      labels[k] = x;
    } else if (f === 12) {
      const [k, x] = mapEntryOf(v, 'metadata.annotations');
      annotations[k] = x;
    } else if (f === 13) owners.push(ownerReference(bytesOf(v, 'metadata.ownerReferences')));
  });
  if (Object.keys(labels).length > 0) m.labels = labels;
  if (Object.keys(annotations).length > 0) m.annotations = annotations;
  if (owners.length > 0) m.ownerReferences = owners;
  return m;
}

/** `metav1.OwnerReference`: kind = 1, name = 3, uid = 4, apiVersion = 5, controller = 6. */
function ownerReference(buf: Buffer): OwnerReference {
  const o = { apiVersion: '', kind: '', name: '', uid: '' } as {
    apiVersion: string;
    kind: string;
    name: string;
    uid: string;
    controller?: boolean;
  };
  forEachField(buf, (f, v) => {
    if (f === 1) o.kind = stringOf(v, 'ownerReference.kind');
    else if (f === 3) o.name = stringOf(v, 'ownerReference.name');
    else if (f === 4) o.uid = stringOf(v, 'ownerReference.uid');
    else if (f === 5) o.apiVersion = stringOf(v, 'ownerReference.apiVersion');
    else if (f === 6) o.controller = numberOf(v, 'ownerReference.controller') !== 0; // a pointer: set means sent
  });
  return o;
}

/** `core/v1.Node`: metadata = 1, spec = 2, status = 3. */
function node(buf: Buffer): Node {
  const n: Node = { apiVersion: 'v1', kind: 'Node' };
  forEachField(buf, (f, v) => {
    if (f === 1) n.metadata = objectMeta(bytesOf(v, 'Node.metadata'));
    else if (f === 2) n.spec = nodeSpec(bytesOf(v, 'Node.spec'));
    else if (f === 3) n.status = nodeStatus(bytesOf(v, 'Node.status'));
  });
  return n;
}

/** `NodeSpec`: podCIDR = 1, unschedulable = 4, taints = 5, podCIDRs = 7. */
function nodeSpec(buf: Buffer): NonNullable<Node['spec']> {
  const s: NonNullable<Node['spec']> = {};
  const taints: Taint[] = [];
  const podCIDRs: string[] = [];
  forEachField(buf, (f, v) => {
    if (f === 1) opt(s, 'podCIDR', stringOf(v, 'spec.podCIDR'));
    else if (f === 4 && numberOf(v, 'spec.unschedulable') !== 0) s.unschedulable = true;
    else if (f === 5) taints.push(taint(bytesOf(v, 'spec.taints')));
    else if (f === 7) podCIDRs.push(stringOf(v, 'spec.podCIDRs'));
  });
  if (taints.length > 0) s.taints = taints;
  if (podCIDRs.length > 0) s.podCIDRs = podCIDRs;
  return s;
}

/** `Taint`: key = 1, value = 2, effect = 3, timeAdded = 4. */
function taint(buf: Buffer): Taint {
  const t: Taint = { key: '', effect: '' };
  forEachField(buf, (f, v) => {
    if (f === 1) t.key = stringOf(v, 'taint.key');
    else if (f === 2) opt(t, 'value', stringOf(v, 'taint.value'));
    else if (f === 3) t.effect = stringOf(v, 'taint.effect');
    else if (f === 4) opt(t, 'timeAdded', time(v, 'taint.timeAdded'));
  });
  return t;
}

/** `NodeStatus`: conditions = 4, addresses = 5, nodeInfo = 7 (capacity, images, volumes… skipped). */
function nodeStatus(buf: Buffer): NonNullable<Node['status']> {
  const s: NonNullable<Node['status']> = {};
  const conditions: NodeCondition[] = [];
  const addresses: { type: string; address: string }[] = [];
  forEachField(buf, (f, v) => {
    if (f === 4) conditions.push(nodeCondition(bytesOf(v, 'status.conditions')));
    else if (f === 5) {
      const a = { type: '', address: '' };
      forEachField(bytesOf(v, 'status.addresses'), (g, w) => {
        if (g === 1) a.type = stringOf(w, 'address.type');
        else if (g === 2) a.address = stringOf(w, 'address.address');
      });
      addresses.push(a);
    } else if (f === 7) s.nodeInfo = nodeInfo(bytesOf(v, 'status.nodeInfo'));
  });
  if (conditions.length > 0) s.conditions = conditions;
  if (addresses.length > 0) s.addresses = addresses;
  return s;
}

/** `NodeCondition`: type = 1, status = 2, lastHeartbeatTime = 3, lastTransitionTime = 4, reason = 5, message = 6. */
function nodeCondition(buf: Buffer): NodeCondition {
  const c: NodeCondition = { type: '', status: '' };
  forEachField(buf, (f, v) => {
    if (f === 1) c.type = stringOf(v, 'condition.type');
    else if (f === 2) c.status = stringOf(v, 'condition.status');
    else if (f === 3) opt(c, 'lastHeartbeatTime', time(v, 'condition.lastHeartbeatTime'));
    else if (f === 4) opt(c, 'lastTransitionTime', time(v, 'condition.lastTransitionTime'));
    else if (f === 5) opt(c, 'reason', stringOf(v, 'condition.reason'));
    else if (f === 6) opt(c, 'message', stringOf(v, 'condition.message'));
  });
  return c;
}

/** `NodeSystemInfo`: bootID = 3, kernelVersion = 4, osImage = 5, containerRuntimeVersion = 6, kubeletVersion = 7, kubeProxyVersion = 8. */
function nodeInfo(buf: Buffer): NonNullable<NonNullable<Node['status']>['nodeInfo']> {
  const i = {
    bootID: '',
    kernelVersion: '',
    osImage: '',
    containerRuntimeVersion: '',
    kubeletVersion: '',
  } as {
    bootID: string;
    kernelVersion: string;
    osImage: string;
    containerRuntimeVersion: string;
    kubeletVersion: string;
    kubeProxyVersion?: string;
  };
  forEachField(buf, (f, v) => {
    if (f === 3) i.bootID = stringOf(v, 'nodeInfo.bootID');
    else if (f === 4) i.kernelVersion = stringOf(v, 'nodeInfo.kernelVersion');
    else if (f === 5) i.osImage = stringOf(v, 'nodeInfo.osImage');
    else if (f === 6) i.containerRuntimeVersion = stringOf(v, 'nodeInfo.containerRuntimeVersion');
    else if (f === 7) i.kubeletVersion = stringOf(v, 'nodeInfo.kubeletVersion');
    else if (f === 8) i.kubeProxyVersion = stringOf(v, 'nodeInfo.kubeProxyVersion'); // JSON sends it even empty
  });
  return i;
}
