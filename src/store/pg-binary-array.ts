// One-dimensional PostgreSQL arrays in the binary wire format, for `unnest($1::text[], …)` inserts. The `pg` driver sends
// a Buffer parameter as binary, and the server then reads it with the array type's receive function (array_recv):
// lengths and raw bytes, where the text format needs every element quoted and escaped by this process and parsed back
// by the server: more rows per second for less CPU, this process's and the server's (figures in docs/performance.md,
// "binary arrays on PostgreSQL").
//
// The layout (PostgreSQL's array_send): int32 number of dimensions (1), int32 flags (1 when there is a NULL), int32 the
// element type's OID, then per dimension int32 length and int32 lower bound (1); then each element as int32 byte length
// (-1 for NULL) followed by its bytes in the element type's binary format. All integers big-endian.

const HEADER = 20;
const OID = { int4: 23, int8: 20, text: 25, bytea: 17 } as const;

function header(out: Buffer, oid: number, count: number, hasNull: boolean): void {
  out.writeInt32BE(1, 0);
  out.writeInt32BE(hasNull ? 1 : 0, 4);
  out.writeInt32BE(oid, 8);
  out.writeInt32BE(count, 12);
  out.writeInt32BE(1, 16);
}

/** A `text[]` value: each string as UTF-8 (the connection's client encoding), null as SQL NULL. */
export function pgTextArray(values: readonly (string | null)[]): Buffer {
  let size = HEADER;
  let hasNull = false;
  for (const v of values) {
    if (v === null) hasNull = true;
    else size += Buffer.byteLength(v, 'utf8');
    size += 4;
  }
  const out = Buffer.allocUnsafe(size);
  header(out, OID.text, values.length, hasNull);
  let at = HEADER;
  for (const v of values) {
    if (v === null) {
      out.writeInt32BE(-1, at);
      at += 4;
      continue;
    }
    const n = out.write(v, at + 4, 'utf8');
    out.writeInt32BE(n, at);
    at += 4 + n;
  }
  return out;
}

/** A `bytea[]` value (no NULLs: none of the columns written this way allows one). */
export function pgByteaArray(values: readonly Uint8Array[]): Buffer {
  let size = HEADER;
  for (const v of values) size += 4 + v.byteLength;
  const out = Buffer.allocUnsafe(size);
  header(out, OID.bytea, values.length, false);
  let at = HEADER;
  for (const v of values) {
    out.writeInt32BE(v.byteLength, at);
    out.set(v, at + 4);
    at += 4 + v.byteLength;
  }
  return out;
}

function integer(v: number, what: string): number {
  if (!Number.isSafeInteger(v)) throw new RangeError(`${what} array element ${v} is not a safe integer`);
  return v;
}

/** An array of integers of a fixed width: each element its length, then `write` puts its bytes at the offset given. */
function fixedWidthArray(oid: number, width: number, values: readonly number[], write: (out: Buffer, v: number, at: number) => void): Buffer {
  const out = Buffer.allocUnsafe(HEADER + values.length * (4 + width));
  header(out, oid, values.length, false);
  let at = HEADER;
  for (const v of values) {
    out.writeInt32BE(width, at);
    write(out, v, at + 4);
    at += 4 + width;
  }
  return out;
}

/** A `bigint[]` value from safe integers (a JS number holds no more). */
export function pgInt8Array(values: readonly number[]): Buffer {
  return fixedWidthArray(OID.int8, 8, values, (out, raw, at) => {
    const v = integer(raw, 'bigint');
    // Two's complement in two halves: the high word floors (so negative values carry into it), the low word is the rest.
    const high = Math.floor(v / 0x1_0000_0000);
    out.writeInt32BE(high, at);
    out.writeUInt32BE(v - high * 0x1_0000_0000, at + 4);
  });
}

/** An `int[]` (int4) value. */
export function pgInt4Array(values: readonly number[]): Buffer {
  return fixedWidthArray(OID.int4, 4, values, (out, raw, at) => {
    const v = integer(raw, 'int');
    if (v < -0x8000_0000 || v > 0x7fff_ffff) throw new RangeError(`int array element ${v} is out of range`);
    out.writeInt32BE(v, at);
  });
}
