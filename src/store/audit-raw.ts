// The audit log's verification read through the driver: one database-spliced text per entry. Light on purpose (no
// Kysely): the verifier's worker thread loads it.
import type { RawData } from './raw.ts';

/**
 * One entry as verification reads it: `"<idx> <canonical text>"`, the text spliced by the database from the columns
 * (src/domain/audit-entry.ts gives the layout). The quoting is JSON.stringify's for every storable code point (tested):
 * SQLite's json_quote, PostgreSQL's to_json. One string per row costs the reader far less than eight columns, and on
 * PostgreSQL the splicing runs in the server's processes, beside the hashing here. The text is empty when a column holds
 * something no append writes (below). Without a driver (AuditRepo over Kysely alone): the columns.
 */
export type VerifyRow = [number, number, string, string, string | null, string | null, string, string] | string;

// SQLite keeps any type in any column: only text is quoted and only a non-negative integer time is spliced; anything
// else (a BLOB, a REAL, text in `at`, a NULL where the schema forbids one) makes the row's text empty, which the verifier
// reports as modified. PostgreSQL's column types already rule those out.
const TEXT_SQLITE = (c: string) => `case when typeof(${c}) = 'text' then json_quote(${c}) end`;
const NULLABLE_SQLITE = (c: string) => `case when ${c} is null then 'null' when typeof(${c}) = 'text' then json_quote(${c}) end`;
const TEXT_PG = (c: string) => `to_json(${c})::text`;
const NULLABLE_PG = (c: string) => `coalesce(to_json(${c})::text, 'null')`;
const verifySql = (text: (c: string) => string, nullable: (c: string) => string, at: string, data: string, from: string, to: string) =>
  `select idx || ' ' || coalesce('{"action":' || ${text('action')} || ',"actor":' || ${text('actor')} || ',"at":' || ${at} || ',"data":' || ${data} ||
  ',"index":' || idx || ',"outcome":' || ${text('outcome')} || ',"purpose":' || ${nullable('purpose')} ||
  ',"subjectId":' || ${nullable('subject_id')} || '}', '') from audit_entries where idx >= ${from} and idx < ${to} order by idx`;
const VERIFY_SQL_SQLITE = verifySql(TEXT_SQLITE, NULLABLE_SQLITE, `case when typeof(at) = 'integer' and at >= 0 then at end`, `case when typeof(data) = 'text' then data end`, '?', '?');
const VERIFY_SQL_PG = verifySql(TEXT_PG, NULLABLE_PG, 'at', 'data', '$1', '$2');

/** Entries [from, to) for verification, straight from the driver (also used by the verifier's worker thread). */
export async function readVerifyRows(raw: RawData, from: number, to: number): Promise<VerifyRow[]> {
  if (raw.dialect === 'sqlite') return raw.db.prepare(VERIFY_SQL_SQLITE).pluck(true).all(from, to) as string[];
  const { rows } = await raw.pool.query<[string]>({ text: VERIFY_SQL_PG, values: [from, to], rowMode: 'array' });
  return rows.map((r) => r[0] ?? '');
}
