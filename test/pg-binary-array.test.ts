// The binary array parameters (src/store/pg-binary-array.ts) read back by a real PostgreSQL exactly as written. A wire
// format of PostgreSQL's only: SQLite has no arrays, its inserts bind one row at a time.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import pg from 'pg';
import { pgByteaArray, pgInt4Array, pgInt8Array, pgTextArray } from '../src/store/pg-binary-array.ts';
import { dialects, PG_URL } from './helpers/harness.ts';

const skip = (await dialects()).find((d) => d.dialect === 'postgres')?.skip ?? 'PostgreSQL not among FIDUCIA_TEST_DIALECTS';

await describe('binary array parameters [postgres]', { skip }, () => {
  let client: pg.Client;
  before(async () => {
    client = new pg.Client({ connectionString: PG_URL });
    await client.connect();
  });
  after(async () => {
    await client.end();
  });

  /** The elements as the server sees them, in order (text elements as text, NULL as null). */
  const elements = async (param: Buffer, type: string): Promise<(string | null)[]> => {
    const { rows } = await client.query<{ v: string | null }>(`select v::text as v from unnest($1::${type}) with ordinality as t(v, n) order by n`, [param]);
    return rows.map((r) => r.v);
  };

  it('text[]: the characters the text format must quote or escape, NULL and "NULL", empty strings, any Unicode', async () => {
    const values = ['plain', '', 'NULL', null, 'a"b', 'back\\slash', '{braces}', 'com,ma', ' spaced ', 'new\nline', 'tab\t', 'è à ü', '👩‍💻 𝔘', 'ÿ\u0001'];
    assert.deepEqual(await elements(pgTextArray(values), 'text[]'), values);
    const { rows } = await client.query<{ n: number; nulls: number }>('select cardinality($1::text[]) as n, (select count(*)::int from unnest($1::text[]) v where v is null) as nulls', [pgTextArray(values)]);
    assert.deepEqual(rows[0], { n: values.length, nulls: 1 });
  });

  it('text[]: arbitrary well-formed strings come back unchanged', async () => {
    const element = fc.option(fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\0')), { freq: 8 });
    await fc.assert(
      fc.asyncProperty(fc.array(element, { maxLength: 30 }), async (values) => {
        assert.deepEqual(await elements(pgTextArray(values), 'text[]'), values);
      }),
      { numRuns: 60 },
    );
  });

  it('text[]: a NUL character is refused by the server, not cut short', async () => {
    await assert.rejects(client.query('select $1::text[]', [pgTextArray(['a\0b'])]), /0x00/);
  });

  it('an empty array unnests to no rows', async () => {
    for (const [param, type] of [[pgTextArray([]), 'text[]'], [pgInt8Array([]), 'bigint[]'], [pgInt4Array([]), 'int[]'], [pgByteaArray([]), 'bytea[]']] as const) {
      assert.deepEqual(await elements(param, type), []);
    }
  });

  it('bigint[]: every safe integer, both signs and across the 32-bit halves', async () => {
    const values = [0, 1, -1, 2 ** 31 - 1, 2 ** 31, -(2 ** 31), 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, -(2 ** 32), -(2 ** 32) - 1, 1_795_968_666_713, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
    assert.deepEqual(await elements(pgInt8Array(values), 'bigint[]'), values.map(String));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.maxSafeInteger(), { maxLength: 50 }), async (xs) => {
        assert.deepEqual(await elements(pgInt8Array(xs), 'bigint[]'), xs.map(String));
      }),
      { numRuns: 40 },
    );
    assert.throws(() => pgInt8Array([2 ** 53]), RangeError);
    assert.throws(() => pgInt8Array([1.5]), RangeError);
  });

  it('int[]: the int4 range, and nothing beyond it', async () => {
    const values = [0, 8, -1, 2 ** 31 - 1, -(2 ** 31)];
    assert.deepEqual(await elements(pgInt4Array(values), 'int[]'), values.map(String));
    assert.throws(() => pgInt4Array([2 ** 31]), RangeError);
    assert.throws(() => pgInt4Array([0.5]), RangeError);
  });

  it('bytea[]: the bytes of every element, whatever its length, from Buffers and from views into larger arrays', async () => {
    const big = randomBytes(64);
    const values: Uint8Array[] = [Buffer.alloc(0), randomBytes(1), randomBytes(32), randomBytes(1000), new Uint8Array(big.buffer, big.byteOffset + 7, 32)];
    const { rows } = await client.query<{ v: Buffer }>('select v from unnest($1::bytea[]) with ordinality as t(v, n) order by n', [pgByteaArray(values)]);
    assert.deepEqual(
      rows.map((r) => r.v.toString('hex')),
      values.map((v) => Buffer.from(v).toString('hex')),
    );
  });

  it('an array of another element type than the statement declares is refused', async () => {
    await assert.rejects(client.query('select $1::bigint[]', [pgTextArray(['1'])]), /element type/);
  });
});
