// Sources (write keys) and API tokens, both stored as hashes.
import type { CompiledQuery, Kysely } from 'kysely';
import { tokenKey, type Reader } from './reader.ts';
import type { DataDatabase, SourceKind, SourcesTable, TokensTable } from './schema.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export class AccessRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(
    handle: Handle<DataDatabase>,
    /** Where token lookups read committed state (outside a transaction); default: `handle`. */
    private readonly reader?: Reader,
  ) {
    this.db = kyselyOf(handle);
  }

  sourceByKeyHash(hash: string): Promise<SourcesTable | undefined> {
    return this.db.selectFrom('sources').selectAll().where('write_key_hash', '=', hash).where('revoked_at', 'is', null).executeTakeFirst();
  }

  /** False when a source with this write key already exists. */
  async insertSource(row: SourcesTable): Promise<boolean> {
    const r = await this.db.insertInto('sources').values(row).onConflict((oc) => oc.column('write_key_hash').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Sources (of one kind, when given), revoked ones included unless `activeOnly`. */
  async countSources(kind?: SourceKind, activeOnly = false): Promise<number> {
    let q = this.db.selectFrom('sources').select((eb) => eb.fn.countAll<number>().as('n'));
    if (kind) q = q.where('kind', '=', kind);
    if (activeOnly) q = q.where('revoked_at', 'is', null);
    const r = await q.executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  sourceById(id: string): Promise<SourcesTable | undefined> {
    return this.db.selectFrom('sources').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Every source, newest first. */
  /** Names of the given sources (those that exist). */
  sourceNames(ids: readonly string[]): Promise<Pick<SourcesTable, 'id' | 'name'>[]> {
    return this.db.selectFrom('sources').select(['id', 'name']).where('id', 'in', ids).execute();
  }

  listSources(): Promise<SourcesTable[]> {
    return this.db.selectFrom('sources').selectAll().orderBy('id', 'desc').execute();
  }

  /** The browser source Fiducia's own pages carry: the oldest one still active. */
  oldestBrowserSource(): Promise<SourcesTable | undefined> {
    return this.db.selectFrom('sources').selectAll().where('kind', '=', 'browser').where('revoked_at', 'is', null).orderBy('id', 'asc').limit(1).executeTakeFirst();
  }

  /** Replaces an active source's key (and, for a browser source, its verification secret); false when not active. */
  async rotateSource(id: string, patch: Pick<SourcesTable, 'write_key_hash' | 'public_key'> & Partial<Pick<SourcesTable, 'verification_secret_enc'>>): Promise<boolean> {
    const r = await this.db.updateTable('sources').set(patch).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Marks a source revoked; false when it does not exist or was already revoked. */
  async revokeSource(id: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('sources').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  #tokenQuery: CompiledQuery<TokensTable> | undefined;

  /** Every API request asks this: compiled once (building a Kysely query costs more than running this one). */
  async tokenByHash(hash: string): Promise<TokensTable | undefined> {
    this.#tokenQuery ??= this.db.selectFrom('tokens').selectAll().where('token_hash', '=', '\u0000hash').where('revoked_at', 'is', null).compile();
    const q = this.#tokenQuery;
    const bound: CompiledQuery<TokensTable> = { ...q, parameters: q.parameters.map((p) => (p === '\u0000hash' ? hash : p)) };
    const sqlite = this.reader?.sqlite;
    if (sqlite) {
      // Kept between requests until the token's row changes (revocation: src/store/reader.ts, KeptRows).
      return sqlite.read((prepare) => {
        const key = tokenKey(hash);
        let row = sqlite.kept.get(key, 'row') as TokensTable | undefined;
        if (!row) {
          row = prepare(bound.sql).raw(false).get(bound.parameters as unknown[]) as TokensTable | undefined;
          if (!row) return undefined;
          row = Object.freeze({ ...row });
          sqlite.kept.set(key, 'row', row);
        }
        return row;
      });
    }
    return this.reader ? (await this.reader.rows(bound))[0] : (await this.db.executeQuery(bound)).rows[0];
  }

  /** False when a token with this hash already exists. */
  async insertToken(row: TokensTable): Promise<boolean> {
    const r = await this.db.insertInto('tokens').values(row).onConflict((oc) => oc.column('token_hash').doNothing()).executeTakeFirst();
    return Number(r.numInsertedOrUpdatedRows ?? 0) > 0;
  }

  /** Every token, newest first (hashes are not returned). */
  listTokens(): Promise<Omit<TokensTable, 'token_hash'>[]> {
    return this.db.selectFrom('tokens').select(['id', 'name', 'role', 'purposes', 'created_at', 'revoked_at', 'suspended_at', 'suspended_reason']).orderBy('id', 'desc').execute();
  }

  tokenById(id: string): Promise<TokensTable | undefined> {
    return this.db.selectFrom('tokens').selectAll().where('id', '=', id).executeTakeFirst();
  }

  /** Marks a token revoked; false when it does not exist or was already revoked. */
  async revokeToken(id: string, at: number): Promise<boolean> {
    const r = await this.db.updateTable('tokens').set({ revoked_at: at }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Marks an active token suspended; false when it is not active or already suspended. */
  async suspendToken(id: string, at: number, reason: string): Promise<boolean> {
    const r = await this.db
      .updateTable('tokens')
      .set({ suspended_at: at, suspended_reason: reason })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .where('suspended_at', 'is', null)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Lifts a suspension; false when the token was not suspended. */
  async reinstateToken(id: string): Promise<boolean> {
    const r = await this.db.updateTable('tokens').set({ suspended_at: null, suspended_reason: null }).where('id', '=', id).where('suspended_at', 'is not', null).executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  /** Active tokens of a role; suspended ones count only with `withSuspended` (a suspended admin cannot manage tokens). */
  async countTokens(role: string, withSuspended = false): Promise<number> {
    let q = this.db
      .selectFrom('tokens')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('role', '=', role)
      .where('revoked_at', 'is', null);
    if (!withSuspended) q = q.where('suspended_at', 'is', null);
    const r = await q.executeTakeFirst();
    return Number(r?.n ?? 0);
  }
}
