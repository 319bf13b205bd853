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
const verifySql = (text: (c: string) => string, nullable: (c: string) => string, at: string, data: string, range: string) =>
  `select idx || ' ' || coalesce('{"action":' || ${text('action')} || ',"actor":' || ${text('actor')} || ',"at":' || ${at} || ',"data":' || ${data} ||
  ',"index":' || idx || ',"outcome":' || ${text('outcome')} || ',"purpose":' || ${nullable('purpose')} ||
  ',"subjectId":' || ${nullable('subject_id')} || '}', '') from audit_entries where ${range}`;
const VERIFY_SQL_SQLITE = verifySql(TEXT_SQLITE, NULLABLE_SQLITE, `case when typeof(at) = 'integer' and at >= 0 then at end`, `case when typeof(data) = 'text' then data end`, 'idx >= ? and idx < ? order by idx');
// No upper bound on PostgreSQL, a LIMIT instead (rows past the page's end are dropped here): until the table has been
// analyzed, the planner guesses a two-sided range at 0.5% of the rows and answers it with a bitmap scan and a sort,
// which costs the server far more CPU than walking the primary key (figures in docs/performance.md, "Audit log").
const VERIFY_SQL_PG = verifySql(TEXT_PG, NULLABLE_PG, 'at', 'data', 'idx >= $1 order by idx limit $2');

/** The index a row of the verification read starts with. */
const indexOf = (row: string): number => Number(row.slice(0, row.indexOf(' ')));

/** Entries [from, to) for verification, straight from the driver (also used by the verifier's worker thread). */
export async function readVerifyRows(raw: RawData, from: number, to: number): Promise<VerifyRow[]> {
  if (raw.dialect === 'sqlite') return raw.db.prepare(VERIFY_SQL_SQLITE).pluck(true).all(from, to) as string[];
  const { rows } = await raw.pool.query<[string]>({ text: VERIFY_SQL_PG, values: [from, Math.max(0, to - from)], rowMode: 'array' });
  const out = rows.map((r) => r[0] ?? '');
  // Ascending, so only the last rows can lie past the end (where entries below it are missing).
  while (out.length > 0 && !(indexOf(out[out.length - 1]!) < to)) out.pop();
  return out;
}
