// Sources (write keys) and API tokens, both stored as hashes.
import type { Kysely } from 'kysely';
import type { DataDatabase, SourcesTable, TokensTable } from './schema.ts';

export class AccessRepo {
  constructor(private readonly db: Kysely<DataDatabase>) {}

  sourceByKeyHash(hash: string): Promise<SourcesTable | undefined> {
    return this.db.selectFrom('sources').selectAll().where('write_key_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
  }

  async insertSource(row: SourcesTable): Promise<void> {
    await this.db.insertInto('sources').values(row).onConflict((oc) => oc.column('write_key_hash').doNothing()).execute();
  }

  async countSources(): Promise<number> {
    const r = await this.db.selectFrom('sources').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  tokenByHash(hash: string): Promise<TokensTable | undefined> {
    return this.db.selectFrom('tokens').selectAll().where('token_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
  }

  async insertToken(row: TokensTable): Promise<void> {
    await this.db.insertInto('tokens').values(row).onConflict((oc) => oc.column('token_hash').doNothing()).execute();
  }

  async countTokens(role: string): Promise<number> {
    const r = await this.db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
