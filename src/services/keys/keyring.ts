// The keyring: unwraps the KEK versions from the master key, issues and caches per-subject data keys, rotates the KEK.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BlindIndexer } from '../../crypto/blind-index.ts';
import {
  deriveBlindIndexKey,
  deriveKek,
  kekCheckValue,
  kekMatches,
  newKeyMaterial,
  parseMasterKey,
  unwrapDataKey,
  wrapDataKey,
} from '../../crypto/envelope.ts';
import { privateDir, privateFile } from '../../store/file-modes.ts';
import type { KeystoreRepo, PurgeMark } from '../../store/keystore-repo.ts';
import { dropOldest } from '../../domain/drop-oldest.ts';
import { InvariantError } from '../../domain/errors.ts';

export interface DataKey {
  version: number;
  key: Buffer;
}

/** The master key from `FIDUCIA_MASTER_KEY`, or from `<dataDir>/master.key` (created 0600 on first start). */
export function loadMasterKey(dataDir: string, envValue: string | undefined): { key: Buffer; created: boolean } {
  if (envValue) return { key: parseMasterKey(envValue), created: false };
  const file = join(dataDir, 'master.key');
  if (existsSync(file)) {
    privateDir(dataDir);
    privateFile(file);
    return { key: parseMasterKey(readFileSync(file, 'utf8')), created: false };
  }
  const key = randomBytes(32);
  privateDir(dataDir);
  writeFileSync(file, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  // The mode given to writeFileSync is cut by the umask; this one is not.
  privateFile(file);
  return { key, created: true };
}

export class MasterKeyMismatchError extends Error {
  constructor(version: number) {
    super(`the master key does not match KEK version ${version} of the keystore (wrong FIDUCIA_MASTER_KEY or master.key?)`);
    this.name = 'MasterKeyMismatchError';
  }
}

const CACHE_MAX = 50_000;
/**
 * A key is taken for an orphan only once it is this old: longer than any group commit runs, with room for the clocks
 * of several instances (created_at is the creating process's clock) to disagree.
 */
export const ORPHAN_MIN_AGE_MS = 15 * 60_000;
const ORPHAN_SWEEP = 'orphan_keys';
const ORPHAN_PAGE = 500;
const ORPHAN_PAGES_PER_RUN = 200;
/** Subject ids are UUIDv4 (src/domain/ids.ts); request keys (`rights:<id>`) and any other key id never match. */
const SUBJECT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const CACHE_TTL_MS = 5 * 60_000;

export class KeyRing {
  readonly blindIndex: BlindIndexer;
  readonly #master: Buffer;
  readonly #repo: KeystoreRepo;
  #keks = new Map<number, Buffer>();
  #current = 0;
  /** Unwrapped data keys, briefly: `${subjectId}:${version}` and `${subjectId}:current`. */
  #cache = new Map<string, { key: DataKey; at: number }>();

  private constructor(master: Buffer, repo: KeystoreRepo) {
    this.#master = master;
    this.#repo = repo;
    this.blindIndex = new BlindIndexer(deriveBlindIndexKey(master));
  }

  static async open(master: Buffer, repo: KeystoreRepo): Promise<KeyRing> {
    const ring = new KeyRing(master, repo);
    await ring.#loadKeks();
    if (ring.#current === 0) await ring.#newKekVersion();
    return ring;
  }

  get kekVersion(): number {
    return this.#current;
  }

  async #loadKeks(): Promise<void> {
    for (const row of await this.#repo.kekVersions()) {
      const kek = deriveKek(this.#master, Buffer.from(row.salt));
      if (!kekMatches(kek, row.check_value)) throw new MasterKeyMismatchError(row.version);
      this.#keks.set(row.version, kek);
      this.#current = Math.max(this.#current, row.version);
    }
  }

  async #newKekVersion(): Promise<number> {
    const version = this.#current + 1;
    const salt = randomBytes(32);
    const kek = deriveKek(this.#master, salt);
    await this.#repo.insertKekVersion({ version, salt, check_value: kekCheckValue(kek), created_at: Date.now() });
    this.#keks.set(version, kek);
    this.#current = version;
    return version;
  }

  async #kek(version: number): Promise<Buffer> {
    let kek = this.#keks.get(version);
    if (!kek) {
      await this.#loadKeks(); // another instance rotated
      kek = this.#keks.get(version);
    }
    if (!kek) throw new InvariantError(`KEK version ${version} is not in the keystore`);
    return kek;
  }

  #cached(id: string): DataKey | undefined {
    const hit = this.#cache.get(id);
    if (!hit) return undefined;
    if (Date.now() - hit.at > CACHE_TTL_MS) {
      this.#cache.delete(id);
      return undefined;
    }
    return hit.key;
  }

  #remember(subjectId: string, key: DataKey, current: boolean): void {
    if (this.#cache.size >= CACHE_MAX) {
      dropOldest(this.#cache, CACHE_MAX / 10);
    }
    const entry = { key, at: Date.now() };
    this.#cache.set(`${subjectId}:${key.version}`, entry);
    if (current) this.#cache.set(`${subjectId}:current`, entry);
  }

  /** Current data keys of existing subjects; subjects without a key (erased) are absent from the result. */
  async currentKeys(subjectIds: Iterable<string>): Promise<Map<string, DataKey>> {
    const out = new Map<string, DataKey>();
    const missing: string[] = [];
    for (const id of subjectIds) {
      const hit = this.#cached(`${id}:current`);
      if (hit) out.set(id, hit);
      else missing.push(id);
    }
    for (const row of await this.#repo.currentDataKeys(missing)) {
      const key = unwrapDataKey(await this.#kek(row.kek_version), row.kek_version, row.subject_id, row.version, row.wrapped);
      const dk = { version: row.version, key };
      this.#remember(row.subject_id, dk, true);
      out.set(row.subject_id, dk);
    }
    return out;
  }

  async keyVersion(subjectId: string, version: number): Promise<Buffer | undefined> {
    const hit = this.#cached(`${subjectId}:${version}`);
    if (hit) return hit.key;
    const row = await this.#repo.dataKey(subjectId, version);
    if (!row) return undefined;
    const key = unwrapDataKey(await this.#kek(row.kek_version), row.kek_version, subjectId, version, row.wrapped);
    this.#remember(subjectId, { version, key }, false);
    return key;
  }

  /** Makes and stores (committed) a first data key for each new subject. */
  async createKeys(subjectIds: readonly string[]): Promise<Map<string, DataKey>> {
    const out = new Map<string, DataKey>();
    if (subjectIds.length === 0) return out;
    // Another process (`fiducia keys rotate`) may have made a newer KEK: new keys are wrapped with the newest.
    if ((await this.#repo.maxKekVersion()) > this.#current) await this.#loadKeks();
    const kek = await this.#kek(this.#current);
    const now = Date.now();
    const rows = subjectIds.map((subject_id) => {
      const key = newKeyMaterial();
      out.set(subject_id, { version: 1, key });
      return {
        subject_id,
        version: 1,
        kek_version: this.#current,
        wrapped: wrapDataKey(kek, this.#current, subject_id, 1, key),
        created_at: now,
      };
    });
    await this.#repo.insertDataKeys(rows);
    for (const [id, dk] of out) this.#remember(id, dk, true);
    return out;
  }

  /**
   * Deletes keys made for a data transaction that rolled back: no committed row was encrypted under them. Only for
   * a rollback known to have happened (an error inside the transaction), never for a failed COMMIT, which may have
   * committed after all: the orphan sweep checks the data database for those.
   */
  async discard(subjectIds: readonly string[]): Promise<number> {
    if (subjectIds.length === 0) return 0;
    for (const id of subjectIds) {
      this.#cache.delete(`${id}:current`);
      this.#cache.delete(`${id}:1`);
    }
    const { deleted, mark } = await this.#repo.deleteKeysOf(subjectIds);
    // Their bytes go with the next purge like any destroyed key's (dead tuples of the rolled-back data may hold ciphertext).
    for (const id of subjectIds) this.#unpurged.set(id, mark);
    return deleted;
  }

  /**
   * Deletes subject keys whose subject does not exist in the data database: left by a process that stopped between
   * the keystore's commit and the data's (or a rollback whose `discard` failed). Keys are read in creation order from
   * where the last sweep stopped, up to `minAgeMs` before now and before the oldest data transaction still open, so a
   * key whose transaction may still commit is never taken. Request keys (`rights:<id>`) and anything else that is not
   * a subject id are left alone. `exists` answers which of the given subject ids have a row in `subjects`.
   */
  async sweepOrphans(opts: {
    exists: (subjectIds: readonly string[]) => Promise<Set<string>>;
    oldestOpenTransaction: () => Promise<number | null>;
    minAgeMs?: number;
    now?: number;
  }): Promise<{ deleted: number; checkedUntil: number }> {
    // checkedUntil: every subject key created before it has been checked.
    const minAge = opts.minAgeMs ?? ORPHAN_MIN_AGE_MS;
    // Read before the keys: a transaction opened after this read makes keys created after it, above the cutoff.
    const open = await opts.oldestOpenTransaction();
    const now = opts.now ?? Date.now();
    const upTo = Math.min(now, open ?? now) - minAge;
    const from = await this.#repo.checkedUntil(ORPHAN_SWEEP);
    if (upTo <= from) return { deleted: 0, checkedUntil: from };
    let cursor = { at: from, id: '' };
    let deleted = 0;
    for (let pages = 0; ; pages++) {
      if (pages === ORPHAN_PAGES_PER_RUN) {
        // A first sweep of a large keystore goes on at the next run; keys of the millisecond it stopped in are rechecked.
        await this.#repo.setCheckedUntil(ORPHAN_SWEEP, cursor.at);
        return { deleted, checkedUntil: cursor.at };
      }
      const page = await this.#repo.keysCreatedBetween(cursor, upTo, ORPHAN_PAGE);
      if (page.length === 0) break;
      const last = page[page.length - 1]!;
      cursor = { at: last.created_at, id: last.subject_id };
      const subjects = [...new Set(page.map((r) => r.subject_id).filter((id) => SUBJECT_ID.test(id)))];
      if (subjects.length === 0) continue;
      const found = await opts.exists(subjects);
      const orphans = subjects.filter((id) => !found.has(id));
      if (orphans.length > 0) deleted += await this.discard(orphans);
    }
    await this.#repo.setCheckedUntil(ORPHAN_SWEEP, upTo);
    return { deleted, checkedUntil: upTo };
  }

  readonly #onDestroy: ((subjectId: string) => void)[] = [];

  /** Called with each subject whose keys this process destroys (caches of its decrypted data drop it). */
  onDestroy(listener: (subjectId: string) => void): void {
    this.#onDestroy.push(listener);
  }

  /** Subjects whose keys this process deleted and whose old bytes the keystore may still hold, with their marks. */
  readonly #unpurged = new Map<string, PurgeMark>();
  #purging: Promise<void> = Promise.resolve();

  /**
   * Crypto-shredding: the subject's keys are deleted, so every copy of its ciphertext becomes unreadable. The
   * keystore may keep the deleted rows' bytes (SQLite's WAL, PostgreSQL's dead rows) until `purge` clears them.
   */
  async destroy(subjectId: string): Promise<number> {
    for (const k of [...this.#cache.keys()]) if (k.startsWith(`${subjectId}:`)) this.#cache.delete(k);
    for (const listener of this.#onDestroy) listener(subjectId);
    const { deleted, mark } = await this.#repo.deleteSubjectKeys(subjectId);
    // Marks only grow: the newest destruction of a subject covers its earlier ones.
    this.#unpurged.set(subjectId, mark);
    return deleted;
  }

  /** `destroy` for several subjects: one keystore statement (on SQLite one transaction) instead of one per subject. */
  async destroyAll(subjectIds: readonly string[]): Promise<number> {
    if (subjectIds.length === 0) return 0;
    const ids = new Set(subjectIds);
    for (const k of [...this.#cache.keys()]) if (ids.has(k.slice(0, k.lastIndexOf(':')))) this.#cache.delete(k);
    for (const id of ids) for (const listener of this.#onDestroy) listener(id);
    const { deleted, mark } = await this.#repo.deleteKeysOf([...ids]);
    for (const id of ids) this.#unpurged.set(id, mark);
    return deleted;
  }

  /**
   * Makes sure the keystore keeps no copy of the keys this process destroyed (of `subjectIds`, or all of them), or
   * throws `KeystorePurgeError` (retry later). Not from inside a data transaction that was open when the keys were
   * destroyed: on PostgreSQL that transaction keeps the deleted rows alive (KeystoreRepo.purgeDeleted).
   */
  purge(subjectIds?: Iterable<string>): Promise<void> {
    const ids = subjectIds ? [...subjectIds] : undefined;
    // One purge at a time in this process: a VACUUM or checkpoint already covering a mark makes the next one quick.
    const run = this.#purging.catch(() => undefined).then(() => this.#purge(ids));
    this.#purging = run;
    return run;
  }

  async #purge(subjectIds: readonly string[] | undefined): Promise<void> {
    let target: PurgeMark | undefined;
    for (const id of subjectIds ?? this.#unpurged.keys()) {
      const mark = this.#unpurged.get(id);
      if (mark !== undefined && (target === undefined || mark > target)) target = mark;
    }
    if (target === undefined) return;
    await this.#repo.purgeDeleted(target);
    for (const [id, mark] of this.#unpurged) if (mark <= target) this.#unpurged.delete(id);
  }

  /**
   * New KEK version; every data key is rewrapped with it. Field ciphertexts are not touched. The keys as wrapped
   * before are then purged from the keystore where it can be done now (`purged`); otherwise they go with the next
   * purge (the rights sweep runs one) or, on PostgreSQL, the next VACUUM.
   */
  async rotate(onProgress?: (done: number, total: number) => void): Promise<{ kekVersion: number; rewrapped: number; purged: boolean }> {
    const version = await this.#newKekVersion();
    const kek = await this.#kek(version);
    let done = 0;
    // The keys wrapped by older versions as the rotation starts (grown if more turn up, e.g. a rotation alongside).
    let total = onProgress ? await this.#repo.countStaleDataKeys(version) : 0;
    onProgress?.(0, total);
    for (;;) {
      const page = await this.#repo.staleDataKeys(version, 1000);
      if (page.length === 0) break;
      const rewrapped = [];
      for (const row of page) {
        const key = unwrapDataKey(await this.#kek(row.kek_version), row.kek_version, row.subject_id, row.version, row.wrapped);
        rewrapped.push({
          subject_id: row.subject_id,
          version: row.version,
          kek_version: version,
          wrapped: wrapDataKey(kek, version, row.subject_id, row.version, key),
        });
      }
      await this.#repo.rewrap(rewrapped);
      done += rewrapped.length;
      total = Math.max(total, done);
      onProgress?.(done, total);
    }
    // The rotation itself is done: a purge that must wait is not a failed rotation (a rerun would add a KEK version).
    const purged = await this.#repo.mark().then((mark) => this.#repo.purgeDeleted(mark)).then(
      () => true,
      () => false,
    );
    return { kekVersion: version, rewrapped: done, purged };
  }
}
