// Small helpers shared by the benchmark suites.
import pg from 'pg';

/** Whether a PostgreSQL server answers at `url` (a suite skips its PostgreSQL half when it does not). */
export async function pgReachable(url: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    return true;
  } catch {
    return false;
  } finally {
    await c.end().catch(() => undefined);
  }
}
