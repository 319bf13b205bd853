// The keystore: KEK versions (salts and check values, never the KEK itself) and wrapped per-subject data keys.
import type { Kysely } from 'kysely';
import type { DataKeysTable, KekVersionsTable, KeysDatabase } from './schema.ts';

export class KeystoreRepo {
  constructor(private readonly db: Kysely<KeysDatabase>) {}

  kekVersions(): Promise<KekVersionsTable[]> {
    return this.db.selectFrom('kek_versions').selectAll().orderBy('version').execute();
  }

  async maxKekVersion(): Promise<number> {
    const r = await this.db.selectFrom('kek_versions').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst();
    return Number(r?.v ?? 0);
  }

  async insertKekVersion(row: KekVersionsTable): Promise<void> {
    await this.db.insertInto('kek_versions').values(row).execute();
  }

  /** The newest data key of each subject. */
  async currentDataKeys(subjectIds: readonly string[]): Promise<DataKeysTable[]> {
    if (subjectIds.length === 0) return [];
    const rows: DataKeysTable[] = [];
    for (let i = 0; i < subjectIds.length; i += 500) {
      const chunk = subjectIds.slice(i, i + 500);
      rows.push(...(await this.db.selectFrom('data_keys').selectAll().where('subject_id', 'in', chunk).execute()));
    }
    const newest = new Map<string, DataKeysTable>();
    for (const r of rows) {
      const prev = newest.get(r.subject_id);
      if (!prev || prev.version < r.version) newest.set(r.subject_id, r);
    }
    return [...newest.values()];
  }

  dataKey(subjectId: string, version: number): Promise<DataKeysTable | undefined> {
    return this.db
      .selectFrom('data_keys')
      .selectAll()
      .where('subject_id', '=', subjectId)
      .where('version', '=', version)
      .executeTakeFirst();
  }

  /** One transaction for all rows: one commit (one fsync on SQLite), not one per chunk. */
  async insertDataKeys(rows: readonly DataKeysTable[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.transaction().execute(async (trx) => {
      for (let i = 0; i < rows.length; i += 200) {
        await trx.insertInto('data_keys').values(rows.slice(i, i + 200)).execute();
      }
    });
  }

  /** A page of keys not yet wrapped by `kekVersion`, for rotation. */
  staleDataKeys(kekVersion: number, limit: number): Promise<DataKeysTable[]> {
    return this.db
      .selectFrom('data_keys')
      .selectAll()
      .where('kek_version', '<>', kekVersion)
      .orderBy('subject_id')
      .orderBy('version')
      .limit(limit)
      .execute();
  }

  async rewrap(rows: readonly Pick<DataKeysTable, 'subject_id' | 'version' | 'kek_version' | 'wrapped'>[]): Promise<void> {
    await this.db.transaction().execute(async (trx) => {
      for (const r of rows) {
        await trx
          .updateTable('data_keys')
          .set({ kek_version: r.kek_version, wrapped: r.wrapped })
          .where('subject_id', '=', r.subject_id)
          .where('version', '=', r.version)
          .execute();
      }
    });
  }

  async countByKekVersion(): Promise<Map<number, number>> {
    const rows = await this.db
      .selectFrom('data_keys')
      .select(['kek_version', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('kek_version')
      .execute();
    return new Map(rows.map((r) => [Number(r.kek_version), Number(r.n)]));
  }

  async deleteSubjectKeys(subjectId: string): Promise<number> {
    const res = await this.db.deleteFrom('data_keys').where('subject_id', '=', subjectId).executeTakeFirst();
    return Number(res.numDeletedRows);
  }
}
