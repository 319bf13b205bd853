// The keystore's audit signing key: read it, or store the first one (concurrent first starts agree on one).
import type { Kysely } from 'kysely';
import type { AuditSigningKeysTable, KeysDatabase } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export class AuditKeyRepo {
  private readonly db: Kysely<KeysDatabase>;

  constructor(handle: Handle<KeysDatabase>) {
    this.db = kyselyOf(handle);
  }

  async current(): Promise<AuditSigningKeysTable | undefined> {
    const row = await this.db.selectFrom('audit_signing_keys').selectAll().where('slot', '=', 1).executeTakeFirst();
    return row && { ...row, created_at: Number(row.created_at) };
  }

  /** Inserts the key unless another process did first; returns the key that is now in place. */
  async insertFirst(row: Omit<AuditSigningKeysTable, 'slot'>): Promise<AuditSigningKeysTable> {
    await this.db
      .insertInto('audit_signing_keys')
      .values({ slot: 1, ...row })
      .onConflict((oc) => oc.column('slot').doNothing())
      .execute();
    const now = await this.current();
    if (!now) throw new Error('the audit signing key could not be stored');
    return now;
  }
}
