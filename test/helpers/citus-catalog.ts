// PostgreSQL's catalog as far as Citus cares (tables, unique indexes, foreign keys), and what Citus would refuse of it.
import type pg from 'pg';
import type { TablePlacement } from '../../src/store/sharding.ts';

export type Placements = Readonly<Record<string, TablePlacement>>;

// ---- the catalog, as far as Citus cares ----------------------------------------------------------

interface Column {
  type: string;
  notNull: boolean;
  /** The type has a default hash operator class (Citus hashes the distribution column with it). */
  hashable: boolean;
}

interface UniqueIndex {
  table: string;
  name: string;
  primary: boolean;
  /** Key columns in order; null for an expression. */
  columns: (string | null)[];
}

interface ForeignKey {
  table: string;
  name: string;
  columns: string[];
  refSchema: string;
  refTable: string;
  refColumns: string[];
}

interface Catalog {
  schema: string;
  tables: Map<string, Map<string, Column>>;
  /** Unique indexes (primary keys and unique constraints included) and exclusion constraints. */
  uniques: UniqueIndex[];
  foreignKeys: ForeignKey[];
}

export async function readCatalog(client: pg.Client, schema: string): Promise<Catalog> {
  const tables = new Map<string, Map<string, Column>>();
  const cols = await client.query<{ table: string; column: string | null; type: string | null; not_null: boolean | null; hashable: boolean | null }>(
    `select c.relname as table, a.attname as column, format_type(a.atttypid, a.atttypmod) as type, a.attnotnull as not_null,
       exists (select 1 from pg_opclass oc join pg_am am on am.oid = oc.opcmethod
               where am.amname = 'hash' and oc.opcdefault and oc.opcintype = a.atttypid) as hashable
     from pg_class c
     join pg_namespace n on n.oid = c.relnamespace
     left join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
     where n.nspname = $1 and c.relkind in ('r', 'p')`,
    [schema],
  );
  for (const r of cols.rows) {
    let t = tables.get(r.table);
    if (!t) tables.set(r.table, (t = new Map()));
    if (r.column) t.set(r.column, { type: r.type ?? '', notNull: r.not_null === true, hashable: r.hashable === true });
  }
  const uniques = await client.query<UniqueIndex>(
    `select c.relname as table, i.relname as name, x.indisprimary as primary,
       array(select a.attname::text
             from unnest(x.indkey::int2[]) with ordinality as k(attnum, n)
             left join pg_attribute a on a.attrelid = x.indrelid and a.attnum = k.attnum and k.attnum > 0
             where k.n <= x.indnkeyatts order by k.n) as columns
     from pg_index x
     join pg_class c on c.oid = x.indrelid
     join pg_class i on i.oid = x.indexrelid
     join pg_namespace n on n.oid = c.relnamespace
     where n.nspname = $1 and (x.indisunique or x.indisexclusion)
     order by c.relname, i.relname`,
    [schema],
  );
  const fks = await client.query<ForeignKey>(
    `select c.relname as table, con.conname as name, rn.nspname as "refSchema", rc.relname as "refTable",
       array(select a.attname::text from unnest(con.conkey) with ordinality as k(attnum, n)
             join pg_attribute a on a.attrelid = con.conrelid and a.attnum = k.attnum order by k.n) as columns,
       array(select a.attname::text from unnest(con.confkey) with ordinality as k(attnum, n)
             join pg_attribute a on a.attrelid = con.confrelid and a.attnum = k.attnum order by k.n) as "refColumns"
     from pg_constraint con
     join pg_class c on c.oid = con.conrelid
     join pg_namespace n on n.oid = c.relnamespace
     join pg_class rc on rc.oid = con.confrelid
     join pg_namespace rn on rn.oid = rc.relnamespace
     where n.nspname = $1 and con.contype = 'f'
     order by c.relname, con.conname`,
    [schema],
  );
  return { schema, tables, uniques: uniques.rows, foreignKeys: fks.rows };
}

// ---- what Citus would refuse ----------------------------------------------------------------------

const distributed = (t: TablePlacement | undefined): boolean => t?.placement === 'subject' || t?.placement === 'lookup';

/** Tables distributed with the same group share shards: subject tables all together, lookup tables by `colocateWith`. */
function group(name: string, t: TablePlacement): string {
  return t.placement === 'subject' ? 'subject' : (t.colocateWith ?? name);
}

/**
 * Every way the catalog would stop `citusStatements(placements)` or break a rule of the placement, as sentences; and
 * the unique indexes Citus would refuse that `refusedByCitus` lists (kept on purpose).
 */
export function citusProblems(catalog: Catalog, placements: Placements, listName: string): { problems: string[]; refused: string[] } {
  const problems: string[] = [];
  const refused: string[] = [];
  const at = (table: string) => `${catalog.schema}.${table}`;
  for (const table of [...catalog.tables.keys()].sort()) {
    if (!placements[table]) {
      problems.push(`${at(table)} is not placed: classify it in ${listName} in src/store/sharding.ts (subject, lookup, reference or coordinator) and say why`);
    }
  }
  let subjectType: { table: string; type: string } | undefined;
  for (const [table, t] of Object.entries(placements)) {
    const columns = catalog.tables.get(table);
    if (!columns) {
      problems.push(`${table} is placed in ${listName} (src/store/sharding.ts) but ${catalog.schema} has no such table`);
      continue;
    }
    if (!distributed(t)) {
      if (t.column || t.refusedByCitus || t.colocateWith) problems.push(`${table}: a ${t.placement} table has no distribution column, co-location or refused index`);
      continue;
    }
    const col = t.column ?? '';
    const c = columns.get(col);
    if (!c) {
      problems.push(`${table}: distribution column "${col}" is not a column of the table`);
      continue;
    }
    if (!c.notNull) problems.push(`${table}.${col} may be null: Citus refuses a row without a distribution value`);
    if (!c.hashable) problems.push(`${table}.${col} is ${c.type}, which has no default hash operator class to distribute by`);
    if (t.placement === 'subject') {
      if (col !== 'subject_id' && !(table === 'subjects' && col === 'id')) problems.push(`${table}: a subject table is distributed by subject_id (subjects by id), not ${col}`);
      if (!subjectType) subjectType = { table, type: c.type };
      else if (subjectType.type !== c.type) problems.push(`${table}.${col} is ${c.type} but ${subjectType.table}'s is ${subjectType.type}: co-located tables need one type`);
    }
    if (t.colocateWith) {
      const other = placements[t.colocateWith];
      const otherType = other?.column ? catalog.tables.get(t.colocateWith)?.get(other.column)?.type : undefined;
      if (other?.placement !== 'lookup' || other.colocateWith) problems.push(`${table}: colocateWith ${t.colocateWith} must name a lookup table that starts its own group`);
      else if (otherType !== c.type) problems.push(`${table}.${col} is ${c.type} but ${t.colocateWith}.${other.column} is ${otherType}: co-located tables need one type`);
    }
    const indexes = catalog.uniques.filter((u) => u.table === table);
    if (!indexes.some((u) => u.primary)) problems.push(`${table}: a distributed table here has a primary key, holding ${col}; this one has none`);
    for (const u of indexes) {
      if (u.columns.includes(col)) continue;
      const what = `${u.primary ? 'primary key' : 'unique index'} ${u.name} (${u.columns.map((x) => x ?? '<expression>').join(', ')})`;
      if (t.refusedByCitus?.[u.name]) refused.push(u.name);
      else problems.push(`${table}: ${what} lacks the distribution column ${col}: Citus refuses it`);
    }
    for (const name of Object.keys(t.refusedByCitus ?? {})) {
      if (!refused.includes(name)) problems.push(`${table}: ${name} is listed in refusedByCitus but is no unique index lacking ${col}: take it off the list`);
    }
  }
  for (const fk of catalog.foreignKeys) {
    const from = placements[fk.table];
    const to = fk.refSchema === catalog.schema ? placements[fk.refTable] : undefined;
    const what = `${fk.table}.${fk.name} (${fk.columns.join(', ')}) → ${fk.refTable} (${fk.refColumns.join(', ')})`;
    if (!from) continue;
    if (fk.refSchema !== catalog.schema) problems.push(`${what}: references another schema (${fk.refSchema})`);
    else if (!to) continue;
    else if (distributed(from) && distributed(to)) {
      const paired = fk.columns.some((c, i) => c === from.column && fk.refColumns[i] === to.column);
      if (group(fk.table, from) !== group(fk.refTable, to)) problems.push(`${what}: between distributed tables that are not co-located`);
      else if (!paired) problems.push(`${what}: a foreign key between distributed tables must pair ${from.column} with ${to.column}`);
    } else if (to.placement === 'reference') continue;
    else if (from.placement === 'reference') problems.push(`${what}: a reference table cannot reference a ${to.placement} table`);
    else if (from.placement !== to.placement) problems.push(`${what}: a ${from.placement} table cannot reference a ${to.placement} table`);
  }
  return { problems, refused };
}
