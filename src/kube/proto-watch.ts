/**
 * Kubernetes watch streams in protobuf: each frame a `metav1.WatchEvent` whose object is embedded
 * as a `runtime.Unknown` envelope ("k8s\0" magic, then type and raw bytes). `ERROR` events carry a
 * `metav1.Status`, read into its JSON form (kind, code, reason, message) so the reflector sees a
 * 410 either way. The objects themselves: proto-node.ts, proto-services.ts. Field numbers are those
 * of k8s.io/apimachinery's `generated.proto` (stable: protobuf field numbers are never reused). Pure.
 */
import { bytesOf, forEachField, numberOf, ProtobufError, stringOf } from './protobuf.ts';
import type { RawWatchEvent } from './watch.ts';

/** The magic every protobuf-encoded Kubernetes object starts with. */
const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/**
 * A reader of one watch frame (a `metav1.WatchEvent`) of `kind`, as the JSON watch would have
 * delivered it: the object through `decodeObject`; a Status (ERROR events) as its JSON form.
 */
export function watchEventDecoder(
  kind: string,
  decodeObject: (body: Buffer) => unknown,
): (frame: Buffer) => RawWatchEvent {
  return (frame) => decodeWatchEvent(frame, kind, decodeObject);
}

function decodeWatchEvent(
  frame: Buffer,
  want: string,
  decodeObject: (body: Buffer) => unknown,
): RawWatchEvent {
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
  if (kind !== want)
    throw new ProtobufError(`${type} watch event: an object of kind ${kind || '(none)'}, expected ${want}`);
  return { type, object: decodeObject(body) };
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
