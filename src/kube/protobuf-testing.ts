/**
 * For tests only: a protobuf encoder just big enough to build messages field by field (varints and
 * length-delimited values), so the reader (protobuf.ts, proto-node.ts) is tested on bytes made
 * from the .proto field numbers, beside the real API server's own (test/integration/watch.test.ts).
 */

/** A varint. */
export function varint(n: number): Buffer {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 128) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return Buffer.from(out);
}
/** A message of `fields`: numbers as varints, strings and bytes length-delimited. */
export function message(...fields: [number, number | string | Buffer][]): Buffer {
  return Buffer.concat(
    fields.map(([f, v]) =>
      typeof v === 'number'
        ? Buffer.concat([varint(f * 8), varint(v)])
        : Buffer.concat([varint(f * 8 + 2), varint(Buffer.byteLength(v)), Buffer.from(v)]),
    ),
  );
}
