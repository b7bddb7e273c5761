import { describe, expect, it } from 'vitest';
import {
  FrameReader,
  forEachField,
  mapEntryOf,
  ProtobufError,
  stringOf,
  type WireValue,
} from './protobuf.ts';
import { message, varint } from './protobuf-testing.ts';

function fields(buf: Buffer): [number, WireValue][] {
  const out: [number, WireValue][] = [];
  forEachField(buf, (f, v) => out.push([f, v]));
  return out;
}

describe('forEachField', () => {
  it('reads varints (also past 2^31) and length-delimited fields in wire order', () => {
    const got = fields(message([1, 'node-1'], [7, 300], [8, 1_733_300_000_000], [1, '']));
    expect(got.map(([f]) => f)).toEqual([1, 7, 8, 1]);
    expect(stringOf(got[0]?.[1] as WireValue, 'x')).toBe('node-1');
    expect(got[1]?.[1]).toEqual({ varint: 300 });
    expect(got[2]?.[1]).toEqual({ varint: 1_733_300_000_000 });
    expect(stringOf(got[3]?.[1] as WireValue, 'x')).toBe('');
  });

  it('skips fixed-width fields', () => {
    const fixed64 = Buffer.concat([varint(2 * 8 + 1), Buffer.alloc(8, 0xff)]);
    const fixed32 = Buffer.concat([varint(3 * 8 + 5), Buffer.alloc(4, 0xff)]);
    const got = fields(Buffer.concat([message([1, 'a']), fixed64, fixed32, message([4, 5])]));
    expect(got.map(([f]) => f)).toEqual([1, 4]);
  });

  it('reads a map entry', () => {
    const entry = message([1, 'k'], [2, 'v']);
    const [[, v]] = fields(message([11, entry])) as [[number, WireValue]];
    expect(mapEntryOf(v, 'labels')).toEqual(['k', 'v']);
  });

  it.each([
    ['a length past the end', Buffer.concat([varint(1 * 8 + 2), varint(10), Buffer.from('abc')])],
    ['a varint cut short', Buffer.from([0x08, 0x80])],
    ['a varint over 10 bytes', Buffer.concat([Buffer.from([0x08]), Buffer.alloc(11, 0x80)])],
    ['field number 0', Buffer.from([0x02, 0x00])],
    ['a group (wire type 3)', Buffer.from([0x0b])],
    ['a fixed64 cut short', Buffer.from([0x09, 1, 2])],
  ])('refuses %s with a ProtobufError', (_what, buf) => {
    expect(() => fields(buf)).toThrow(ProtobufError);
  });

  it('refuses a string where a varint is expected, naming the field', () => {
    const [[, v]] = fields(message([1, 5])) as [[number, WireValue]];
    expect(() => stringOf(v, 'metadata.name')).toThrow(/metadata\.name: expected bytes/);
  });
});

describe('FrameReader', () => {
  const frame = (body: string) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(Buffer.byteLength(body));
    return Buffer.concat([len, Buffer.from(body)]);
  };

  it('returns whole frames however the stream is cut', () => {
    const stream = Buffer.concat([frame('one'), frame(''), frame('three')]);
    for (let cut = 0; cut <= stream.length; cut++) {
      const r = new FrameReader(1024);
      const got = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
      expect(got.map((b) => b.toString())).toEqual(['one', '', 'three']);
      expect(r.pendingBytes()).toBe(0);
    }
  });

  it('keeps a partial frame pending', () => {
    const r = new FrameReader(1024);
    expect(r.push(frame('hello').subarray(0, 6))).toEqual([]);
    expect(r.pendingBytes()).toBe(6);
  });

  it('refuses a frame over the limit before buffering it', () => {
    const r = new FrameReader(4);
    expect(() => r.push(frame('12345').subarray(0, 4))).toThrow(/5 bytes is over the limit of 4/);
  });
});
