/**
 * The protobuf wire format, as far as reading Kubernetes watch streams needs it: the fields of one
 * message (varints and length-delimited bytes; fixed-width fields skipped, groups refused) and the
 * stream's frames (a 4-byte big-endian length before each). Pure; every read is bounds-checked and
 * a malformed input throws {@link ProtobufError} naming what was wrong, never reads past the end.
 *
 * Why at all: kube-proxy and the kubelet talk protobuf to the API server, and a Node sent as
 * protobuf is a fraction of its JSON (docs/agent.md, "Sizing"): the agent's Node watches speak it
 * too (proto-node.ts), so each kubelet status update costs the API server fewer bytes per agent.
 */
import { NetwardenError } from '../errors.ts';

/** A protobuf message or stream that cannot be read. */
export class ProtobufError extends NetwardenError {
  constructor(message: string) {
    super('kube-api', message);
  }
}

/** One field's value: a varint (as a non-negative number) or length-delimited bytes. */
export type WireValue = { readonly varint: number } | { readonly bytes: Buffer };

const MAX_VARINT_BYTES = 10;

/**
 * A varint at `pos`: its value and the position after it. Values are read as unsigned; above 2^53
 * they lose precision (the fields read here — codes, lengths, seconds since 1970 — never are).
 */
function readVarint(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < MAX_VARINT_BYTES; i++) {
    const byte = buf[pos + i];
    if (byte === undefined) throw new ProtobufError(`a varint at byte ${pos} runs past the end`);
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos + i + 1];
    scale *= 128;
  }
  throw new ProtobufError(`a varint at byte ${pos} is longer than ${MAX_VARINT_BYTES} bytes`);
}

/** Calls `visit` for each field of the message in `buf`, in wire order (repeated fields repeat). */
export function forEachField(buf: Buffer, visit: (field: number, value: WireValue) => void): void {
  let pos = 0;
  while (pos < buf.length) {
    const [tag, afterTag] = readVarint(buf, pos);
    const field = Math.floor(tag / 8);
    const wireType = tag % 8;
    if (field === 0) throw new ProtobufError(`field number 0 at byte ${pos}`);
    pos = afterTag;
    if (wireType === 0) {
      const [value, next] = readVarint(buf, pos);
      visit(field, { varint: value });
      pos = next;
    } else if (wireType === 2) {
      const [length, start] = readVarint(buf, pos);
      if (start + length > buf.length)
        throw new ProtobufError(`field ${field}: ${length} bytes at byte ${start} run past the end`);
      visit(field, { bytes: buf.subarray(start, start + length) });
      pos = start + length;
    } else if (wireType === 1 || wireType === 5) {
      pos += wireType === 1 ? 8 : 4; // fixed64 / fixed32: no field read here has them
      if (pos > buf.length) throw new ProtobufError(`field ${field}: a fixed-width value runs past the end`);
    } else {
      throw new ProtobufError(`field ${field}: wire type ${wireType} is not supported`);
    }
  }
}

/** The bytes of a length-delimited field. */
export function bytesOf(v: WireValue, what: string): Buffer {
  if (!('bytes' in v)) throw new ProtobufError(`${what}: expected bytes, got a varint`);
  return v.bytes;
}

/** A string field (UTF-8), as a new flat string. */
export function stringOf(v: WireValue, what: string): string {
  return bytesOf(v, what).toString('utf8');
}

/** A varint field. */
export function numberOf(v: WireValue, what: string): number {
  if (!('varint' in v)) throw new ProtobufError(`${what}: expected a varint, got bytes`);
  return v.varint;
}

/** One entry of a `map<string, string>` field (a message of key = 1, value = 2). */
export function mapEntryOf(v: WireValue, what: string): [string, string] {
  let key = '';
  let value = '';
  forEachField(bytesOf(v, what), (f, x) => {
    if (f === 1) key = stringOf(x, `${what} key`);
    else if (f === 2) value = stringOf(x, `${what} value`);
  });
  return [key, value];
}

/**
 * Splits a stream into its frames: each is a 4-byte big-endian length, then that many bytes.
 * A frame longer than `maxFrameBytes` is refused before it is buffered.
 */
export class FrameReader {
  readonly #maxFrameBytes: number;
  #pending: Buffer = Buffer.alloc(0);

  constructor(maxFrameBytes: number) {
    this.#maxFrameBytes = maxFrameBytes;
  }

  /** Adds `chunk`; returns the frames it completed, in order. */
  push(chunk: Buffer): Buffer[] {
    this.#pending = this.#pending.length === 0 ? chunk : Buffer.concat([this.#pending, chunk]);
    const frames: Buffer[] = [];
    let pos = 0;
    while (this.#pending.length - pos >= 4) {
      const length = this.#pending.readUInt32BE(pos);
      if (length > this.#maxFrameBytes)
        throw new ProtobufError(`a frame of ${length} bytes is over the limit of ${this.#maxFrameBytes}`);
      if (this.#pending.length - pos - 4 < length) break;
      // A copy: a frame must not keep the whole chunk it arrived in alive.
      frames.push(Buffer.from(this.#pending.subarray(pos + 4, pos + 4 + length)));
      pos += 4 + length;
    }
    this.#pending = pos === 0 ? this.#pending : Buffer.from(this.#pending.subarray(pos));
    return frames;
  }

  /** Bytes received that do not yet make a whole frame. */
  pendingBytes(): number {
    return this.#pending.length;
  }
}
