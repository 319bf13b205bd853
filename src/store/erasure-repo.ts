// Erasure (Art. 17) at the storage level: every row of a subject's data deleted, a pseudonymous marker and the suppression list kept.
import { sql, type Kysely } from 'kysely';
import { BUSY_TIMEOUT_MS, dialectOf } from './database.ts';
import type { DataDatabase, SuppressionsTable } from './schema.ts';
import { ConsentRepo } from './consent-repo.ts';
import { EventRepo } from './event-repo.ts';
import { VisitorKeyRepo } from './visitor-key-repo.ts';
import { ObjectionRepo } from './objection-repo.ts';
import { ProfileRepo } from './profile-repo.ts';
import { RightsRepo } from './rights-repo.ts';
import { chunks } from './internal/batches.ts';
import { kyselyOf, type Handle } from './internal/scope.ts';

export interface ErasedCounts {
  events: number;
  traits: number;
  identities: number;
  objections: number;
  packages: number;
  consentProofs: number;
  mergedAway: number;
}

export class ErasureRepo {
  private readonly db: Kysely<DataDatabase>;

  constructor(handle: Handle<DataDatabase>) {
    this.db = kyselyOf(handle);
  }

  /** The identities of a subject, by blind index (for the suppression list). */
  identityIndexes(subjectId: string): Promise<{ kind: string; blind_index: Buffer }[]> {
    return this.db.selectFrom('identities').select(['kind', 'blind_index']).where('subject_id', '=', subjectId).execute();
  }

  /** The distinct purpose lists the subject's events and traits were collected under (JSON texts). */
  async purposeLists(subjectId: string): Promise<string[]> {
    const e = await this.db.selectFrom('events').select('purposes').distinct().where('subject_id', '=', subjectId).execute();
    const t = await this.db.selectFrom('traits').select('purposes').distinct().where('subject_id', '=', subjectId).execute();
    return [...new Set([...e, ...t].map((r) => r.purposes))];
  }

  /** Subjects merged into this one earlier: their rows moved here, their redirect rows remain. */
  async mergedInto(subjectId: string): Promise<string[]> {
    return (await this.db.selectFrom('subjects').select('id').where('merged_into', '=', subjectId).execute()).map((r) => r.id);
  }

  /** `mergedInto` for several subjects: each one with subjects merged into it, and those subjects. */
  async mergedIntoEach(subjectIds: readonly string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>();
    for (const part of chunks(subjectIds)) {
      for (const r of await this.db.selectFrom('subjects').select(['id', 'merged_into']).where('merged_into', 'in', part).execute()) {
        if (r.merged_into !== null) out.set(r.merged_into, [...(out.get(r.merged_into) ?? []), r.id]);
      }
    }
    return out;
  }

  /** Those of these subjects with a stored package (an access request in flight). */
  async subjectsWithPackages(subjectIds: readonly string[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (const part of chunks(subjectIds)) {
      const rows = await this.db.selectFrom('rights_packages').select('subject_id').distinct().where('subject_id', 'in', part).execute();
      for (const r of rows) if (r.subject_id !== null) out.add(r.subject_id);
    }
    return out;
  }

  /** Request ids of the subject's stored packages (their keys are destroyed with them). */
  async packageRequests(subjectId: string): Promise<string[]> {
    return (await this.db.selectFrom('rights_packages').select('request_id').where('subject_id', '=', subjectId).execute()).map((r) => r.request_id);
  }

  /**
   * Deletes the subject's personal rows. The consent ledger stays as pseudonymous proof of lawful processing, minus the
   * proof fields that could help re-link it to a browser (hashed user agent, truncated IP); see docs/rights.md.
   */
  deleteSubjectRows(subjectId: string, alsoMarked: readonly string[], at: number): Promise<ErasedCounts> {
    return this.deleteSubjectsRows([subjectId], alsoMarked, at);
  }

  /** `deleteSubjectRows` for several subjects at once, one statement per table (per 500 subjects); the counts summed. */
  async deleteSubjectsRows(subjectIds: readonly string[], alsoMarked: readonly string[], at: number): Promise<ErasedCounts> {
    // Each table through the repository that owns it.
    const profiles = new ProfileRepo(this.db);
    const events = await new EventRepo(this.db).deleteOfSubjects(subjectIds);
    const traits = await profiles.deleteTraitsOfSubjects(subjectIds);
    const identities = await profiles.deleteIdentitiesOfSubjects(subjectIds);
    const objections = await new ObjectionRepo(this.db).deleteOfSubjects(subjectIds);
    const packages = await new RightsRepo(this.db).deletePackagesOfSubjects(subjectIds);
    const consentProofs = await new ConsentRepo(this.db).stripProofsOfSubjects(subjectIds);
    // A visitor key and the credentials it signs end with the subject.
    await new VisitorKeyRepo(this.db).deleteOfSubjects(subjectIds);
    await profiles.markErased([...subjectIds, ...alsoMarked], at);
    return { events, traits, identities, objections, packages, consentProofs, mergedAway: alsoMarked.length };
  }

  /** Rights requests about these subjects (their mail copies go with the subject's erasure). */
  async requestsAbout(subjectIds: readonly string[]): Promise<string[]> {
    if (subjectIds.length === 0) return [];
    return (await this.db.selectFrom('rights_requests').select('id').where('subject_id', 'in', subjectIds).execute()).map((r) => r.id);
  }

  /**
   * SQLite, after an erasure: the WAL's older frames still hold the pages as they were before the rows were deleted.
   * A TRUNCATE checkpoint writes the current pages (deleted cells zeroed by `secure_delete`) into the file and empties
   * the WAL. Best effort: false if another connection's read kept it from finishing (the frames then stay until SQLite
   * reuses them; they are ciphertexts whose key is destroyed). PostgreSQL: nothing to do here (autovacuum).
   * Pass the root instance, not a transaction.
   */
  async truncateWal(): Promise<boolean> {
    if (dialectOf(this.db) !== 'sqlite') return true;
    return this.db.connection().execute(async (conn) => {
      // SQLite waits for locks synchronously, stalling the event loop: a short wait, then give up.
      await sql`PRAGMA busy_timeout = 100`.execute(conn);
      try {
        const r = await sql<{ busy: number }>`PRAGMA wal_checkpoint(TRUNCATE)`.execute(conn);
        return r.rows[0]?.busy === 0;
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_BUSY') return false;
        throw err;
      } finally {
        await sql`PRAGMA busy_timeout = ${sql.lit(BUSY_TIMEOUT_MS)}`.execute(conn);
      }
    });
  }

  async suppress(rows: readonly SuppressionsTable[]): Promise<void> {
    if (rows.length === 0) return;
    await this.db.insertInto('suppressions').values([...rows]).onConflict((oc) => oc.columns(['kind', 'blind_index']).doNothing()).execute();
  }

  /** `kind:base64(blind index)` of those among `indexes` that are suppressed. */
  async suppressedAmong(indexes: readonly Buffer[]): Promise<Set<string>> {
    const out = new Set<string>();
    for (let i = 0; i < indexes.length; i += 400) {
      const rows = await this.db.selectFrom('suppressions').select(['kind', 'blind_index']).where('blind_index', 'in', indexes.slice(i, i + 400)).execute();
      for (const r of rows) out.add(`${r.kind}:${Buffer.from(r.blind_index).toString('base64')}`);
    }
    return out;
  }
}
