// Optional instrumentation of the bench server (`--sql-timing`): time spent per SQL statement shape.
// It wraps the drivers' prototypes, so it must be installed before Fiducia opens its databases.
import SQLite from 'better-sqlite3';
import pg from 'pg';

export interface SqlTiming {
  sql: string;
  count: number;
  ms: number;
}

const timings = new Map<string, { count: number; ms: number }>();

/** One key per statement shape: parameter lists and repeated VALUES tuples collapse, so chunk sizes do not split it. */
function shape(sql: string): string {
  return sql
    .replace(/\$\d+/g, '?')
    .replace(/\?(\s*,\s*\?)+/g, '?…')
    .replace(/(\(\?…\))(\s*,\s*\(\?…\))+/g, '$1…')
    .replace(/\s+/g, ' ')
    .slice(0, 110);
}

function record(sql: string, started: bigint): void {
  const key = shape(sql);
  const t = timings.get(key) ?? { count: 0, ms: 0 };
  t.count++;
  t.ms += Number(process.hrtime.bigint() - started) / 1e6;
  timings.set(key, t);
}

type Runner = (...args: unknown[]) => unknown;

export function installSqlTiming(): void {
  // SQLite is synchronous: prepare + run/all is the time the event loop is blocked by the statement.
  const proto = SQLite.prototype as unknown as { prepare: (sql: string) => SQLite.Statement };
  const prepare = proto.prepare;
  proto.prepare = function (this: SQLite.Database, sql: string) {
    const started = process.hrtime.bigint();
    const stmt = prepare.call(this, sql);
    record(`(prepare) ${sql}`, started);
    const s = stmt as unknown as Record<'all' | 'run' | 'get', Runner>;
    for (const m of ['all', 'run', 'get'] as const) {
      const original = s[m].bind(stmt);
      s[m] = (...args: unknown[]) => {
        const t0 = process.hrtime.bigint();
        try {
          return original(...args);
        } finally {
          record(sql, t0);
        }
      };
    }
    return stmt;
  };
  // PostgreSQL: wall time from sending the query to its result (round trip plus server time).
  const client = pg.Client.prototype as unknown as { query: Runner };
  const query = client.query;
  client.query = function (this: pg.Client, ...args: unknown[]) {
    const res = query.apply(this, args);
    const text = typeof args[0] === 'string' ? args[0] : null;
    if (text && res instanceof Promise) {
      const t0 = process.hrtime.bigint();
      return res.finally(() => record(text, t0));
    }
    return res;
  };
}

export function sqlTimings(): SqlTiming[] {
  return [...timings].map(([sql, t]) => ({ sql, ...t })).sort((a, b) => b.ms - a.ms);
}
