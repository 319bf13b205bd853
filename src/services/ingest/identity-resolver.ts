// Identity resolution for one group commit: which subject each identifier belongs to as the database will be after
// the flush, the subjects, links and merges that makes, and writing them out at the end.
import type { DataScope } from '../../store/scope.ts';
import { normalizeIdentity, type IdentityKind } from '../../domain/identity.ts';
import { subjectId as newSubjectId } from '../../domain/ids.ts';
import type { NormalizedMessage } from '../../domain/segment-message.ts';
import { encryptJson } from '../../crypto/envelope.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { IdentityAssertion } from '../../store/schema.ts';
import type { DataKey, KeyRing } from '../keys/keyring.ts';
import type { Metrics } from '../metrics.ts';
import { mergeStoredSubjects } from './merge.ts';
import type { ConsentOp, SourceRef } from './write-op.ts';

/** An identifier as a message or consent call carries it, with its blind index. */
export interface Ident {
  kind: IdentityKind;
  value: string;
  bi: Buffer;
  /** `kind:blindIndex`, the key of every map below. */
  key: string;
  /** How this message asserts it; recorded on a new link. */
  asserted: IdentityAssertion;
}

/** How a source asserts a userId that reached the flush (a browser source's ones were verified by `userHash`). */
function userIdAssertion(source: SourceRef): IdentityAssertion {
  return source.kind === 'server' ? 'server' : 'verified_hash';
}

export class StaleSubjectError extends Error {
  /** Same code as a PostgreSQL serialization failure: the writer retries the whole group. */
  readonly code = '40001';
  constructor() {
    super('a subject changed in another process during this commit');
    this.name = 'StaleSubjectError';
  }
}

export interface IdentityDeps {
  ring: KeyRing;
  metrics: Metrics;
  /** See FlushDeps: for tests only, called once the group's new keys are committed to the keystore. */
  afterKeysCreated?: (() => void) | undefined;
}

/** Told of each merge once the loser redirects to the survivor (the consent ledger merges their states). */
export type MergeListener = (survivor: string, loser: string) => void;

/** The identity state of one transaction; created per flush, thrown away after. */
export class IdentityResolver {
  readonly #profiles: ProfileRepo;
  /** blind-index key → subject, as the database will be after this flush. */
  readonly #ids = new Map<string, string>();
  readonly #withUserId = new Set<string>();
  readonly #createdAt = new Map<string, number>();
  readonly #newSubjects = new Set<string>();
  /** Loser → survivor for merges made in this flush. */
  readonly #redirect = new Map<string, string>();
  readonly #newIdentities = new Map<string, Ident & { subject: string }>();
  /** blind-index key → how the stored link was asserted, as loaded. */
  readonly #assertedAs = new Map<string, string>();
  /** `legacy` links their subject's source now asserts (re-sent by a server, or a verified userId). */
  readonly #reasserted = new Map<string, Ident>();
  readonly #merges: { survivor: string; loser: string }[] = [];
  /** `kind:blindIndex` keys suppressed by an erasure (Art. 17 with suppression). */
  readonly #suppressed = new Set<string>();
  /** `kind \0 value` → blind index and map key, for this flush only. */
  readonly #indexes = new Map<string, { bi: Buffer; key: string }>();
  /** Run after the transaction commits: destroying the keys of merged-away subjects. */
  readonly afterCommit: (() => Promise<unknown>)[] = [];
  /** Subjects this flush made a (committed) data key for: discarded if the transaction rolls back. */
  readonly createdKeys: string[] = [];

  constructor(
    private readonly trx: DataScope,
    private readonly deps: IdentityDeps,
    private readonly onMerge: MergeListener,
  ) {
    this.#profiles = new ProfileRepo(trx);
  }

  // ---- identifiers ----------------------------------------------------------------------------

  ident(kind: IdentityKind, value: string, asserted: IdentityAssertion): Ident {
    // One HMAC per identifier and flush: a message's identifiers are asked for while loading and again while resolving,
    // and a visitor's several messages in a group share theirs.
    const memo = `${kind}\u0000${value}`;
    let found = this.#indexes.get(memo);
    if (!found) {
      const bi = this.deps.ring.blindIndex.index(kind, value);
      this.#indexes.set(memo, (found = { bi, key: `${kind}:${bi.toString('base64')}` }));
    }
    return { kind, value, bi: found.bi, key: found.key, asserted };
  }

  /** Email and phone are identities only when a server source sends them; from a browser they are traits alone. */
  messageIdents(m: NormalizedMessage, source: SourceRef): Ident[] {
    const out: Ident[] = [];
    if (m.userId) out.push(this.ident('userId', m.userId, userIdAssertion(source)));
    if (m.anonymousId) out.push(this.ident('anonymousId', m.anonymousId, 'anonymous'));
    if (m.type === 'identify' && source.kind === 'server') {
      const email = normalizeIdentity('email', m.traits.email);
      const phone = normalizeIdentity('phone', m.traits.phone);
      if (email) out.push(this.ident('email', email, 'server'));
      if (phone) out.push(this.ident('phone', phone, 'server'));
    }
    return out;
  }

  /**
   * alias: `previousId` may be an earlier userId or anonymousId. A browser cannot prove an earlier userId is its
   * own, so from a browser it can only be the visitor's anonymousId.
   */
  previousIdents(m: NormalizedMessage, source: SourceRef): Ident[] {
    if (!m.previousId) return [];
    const anon = this.ident('anonymousId', m.previousId, 'anonymous');
    return source.kind === 'server' ? [this.ident('userId', m.previousId, 'server'), anon] : [anon];
  }

  consentIdents(op: ConsentOp): Ident[] {
    const ids: Ident[] = [];
    if (op.userId) ids.push(this.ident('userId', op.userId, userIdAssertion(op.source)));
    if (op.anonymousId) ids.push(this.ident('anonymousId', op.anonymousId, 'anonymous'));
    return ids;
  }

  // ---- loading --------------------------------------------------------------------------------

  /** Loads the links, suppressions and subjects of these identifiers (key → blind index); returns the subjects. */
  async load(wanted: ReadonlyMap<string, Buffer>): Promise<string[]> {
    const rows = await this.#profiles.identitiesByIndex([...wanted.values()]);
    // Identifiers an erasure asked to suppress (blind indexes only): their messages are dropped.
    for (const k of await new ErasureRepo(this.trx).suppressedAmong([...wanted.values()])) this.#suppressed.add(k);
    const subjects = new Set<string>();
    for (const r of rows) {
      const key = `${r.kind}:${Buffer.from(r.blind_index).toString('base64')}`;
      this.#ids.set(key, r.subject_id);
      this.#assertedAs.set(key, r.asserted);
      subjects.add(r.subject_id);
    }
    const list = [...subjects];
    for (const s of await this.#profiles.subjectsWithUserId(list)) this.#withUserId.add(s);
    for (const s of await this.#profiles.subjects(list)) this.#createdAt.set(s.id, s.created_at);
    return list;
  }

  /** Whether an erasure suppressed one of the message's identifiers. */
  isSuppressed(m: NormalizedMessage, source: SourceRef): boolean {
    return this.#suppressed.size > 0 && [...this.messageIdents(m, source), ...this.previousIdents(m, source)].some((i) => this.#suppressed.has(i.key));
  }

  // ---- resolution -----------------------------------------------------------------------------

  /** The subject a (possibly merged-away) subject now is. */
  resolve(subject: string): string {
    let s = subject;
    for (let next = this.#redirect.get(s); next; next = this.#redirect.get(s)) s = next;
    return s;
  }

  lookup(id: Ident): string | undefined {
    const s = this.#ids.get(id.key);
    return s === undefined ? undefined : this.resolve(s);
  }

  createSubject(at: number): string {
    const id = newSubjectId();
    this.#newSubjects.add(id);
    this.#createdAt.set(id, at);
    this.deps.metrics.identity.inc({ event: 'subject_created' });
    return id;
  }

  /**
   * The subject of a set of identities (merging where they disagree), or null if none is known.
   * A userId decides: when it is new and the other ids belong to a subject with another userId,
   * the message starts a new subject rather than landing on someone else's profile.
   */
  async find(user: Ident | undefined, ids: readonly Ident[]): Promise<string | null> {
    let subject: string | null = user ? (this.lookup(user) ?? null) : null;
    if (user && subject === null) {
      const others = ids.map((i) => this.lookup(i)).filter((s): s is string => s !== undefined);
      if (others.some((s) => this.#withUserId.has(s))) {
        this.deps.metrics.identity.inc({ event: 'link_refused_second_user_id' });
        return null;
      }
    }
    for (const id of ids) {
      const s = this.lookup(id);
      if (s === undefined) continue;
      subject = subject === null ? s : ((await this.#merge(subject, s)) ?? subject);
    }
    return subject;
  }

  /** Attaches an identity to a subject, merging with the subject that already holds it when allowed. */
  async link(subject: string, id: Ident): Promise<string> {
    const holder = this.lookup(id);
    if (holder === subject) {
      if (this.#assertedAs.get(id.key) === 'legacy' && id.asserted !== 'anonymous') this.#reasserted.set(id.key, id);
      return subject;
    }
    if (holder !== undefined) return (await this.#merge(subject, holder)) ?? subject;
    if (id.kind === 'userId' && this.#withUserId.has(subject)) {
      this.deps.metrics.identity.inc({ event: 'link_refused_second_user_id' });
      return subject;
    }
    this.#ids.set(id.key, subject);
    this.#newIdentities.set(id.key, { ...id, subject });
    if (id.kind === 'userId') this.#withUserId.add(subject);
    return subject;
  }

  /** An alias's previousId no one holds yet was the visitor's anonymous id: that identifier, to link; else undefined. */
  unknownAliasAnonymousId(previous: readonly Ident[]): Ident | undefined {
    const prevAsAnon = previous.find((i) => i.kind === 'anonymousId');
    return prevAsAnon && previous.every((i) => this.lookup(i) === undefined) ? prevAsAnon : undefined;
  }

  /** Merges two subjects if that keeps one userId per person; returns the survivor, or null if refused. */
  async #merge(a: string, b: string): Promise<string | null> {
    if (a === b) return a;
    if (this.#withUserId.has(a) && this.#withUserId.has(b)) {
      this.deps.metrics.identity.inc({ event: 'merge_refused_two_user_ids' });
      return null;
    }
    // The known user survives; otherwise the older profile.
    let survivor = a;
    let loser = b;
    if (this.#withUserId.has(b) || (!this.#withUserId.has(a) && (this.#createdAt.get(b) ?? 0) < (this.#createdAt.get(a) ?? 0))) {
      survivor = b;
      loser = a;
    }
    if (!this.#newSubjects.has(loser)) {
      // A stored loser: its rows move to the survivor now, re-encrypted under the survivor's key.
      await this.ensureLive([survivor, loser].filter((s) => !this.#newSubjects.has(s)), 'update');
      if (this.#newSubjects.has(survivor)) {
        // The survivor needs its key now, to re-encrypt the loser's stored rows under it.
        this.createdKeys.push(survivor);
        await this.deps.ring.createKeys([survivor]);
        this.#newSubjects.delete(survivor);
        await this.#profiles.insertSubjects([{ id: survivor, created_at: this.#createdAt.get(survivor)!, updated_at: Date.now(), merged_into: null, restricted_at: null, erased_at: null }]);
      }
      await mergeStoredSubjects(this.trx, this.deps.ring, survivor, loser);
      this.afterCommit.push(() => this.deps.ring.destroy(loser));
    } else {
      this.#newSubjects.delete(loser);
    }
    this.#redirect.set(loser, survivor);
    this.#merges.push({ survivor, loser });
    if (this.#withUserId.has(loser)) this.#withUserId.add(survivor);
    // The consent ledger folds the loser's states into the survivor's.
    this.onMerge(survivor, loser);
    this.deps.metrics.identity.inc({ event: 'merge' });
    return survivor;
  }

  /** Throws a retryable conflict when another process merged one of these subjects since we read it. */
  async ensureLive(ids: readonly string[], mode: 'share' | 'update'): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.#profiles.lockSubjects(ids, mode);
    // An erasure committed in another process since we read the subject: retried, its identities are gone by then.
    if (rows.length !== ids.length || rows.some((r) => r.merged_into !== null || r.erased_at !== null)) throw new StaleSubjectError();
  }

  // ---- writing --------------------------------------------------------------------------------

  /** The subjects this flush created and kept: their keys first, then their rows; returns the new keys. */
  async writeSubjects(now: number): Promise<Map<string, DataKey>> {
    const created = [...this.#newSubjects].filter((s) => !this.#redirect.has(s));
    // Keys commit first, so no committed subject is ever without its key; a rollback leaves keys to discard instead.
    this.createdKeys.push(...created);
    const fresh = await this.deps.ring.createKeys(created);
    if (created.length > 0) this.deps.afterKeysCreated?.();
    await this.#profiles.insertSubjects(created.map((id) => ({ id, created_at: this.#createdAt.get(id) ?? now, updated_at: now, merged_into: null, restricted_at: null, erased_at: null })));
    return fresh;
  }

  /** Adds the subjects (as merged) that this flush links a new identity to. */
  addLinkedSubjects(into: Set<string>): void {
    for (const i of this.#newIdentities.values()) into.add(this.resolve(i.subject));
  }

  /** The new links, encrypted under their subject's key, and the re-asserted legacy ones. */
  async writeIdentities(keys: ReadonlyMap<string, DataKey>, now: number): Promise<void> {
    const identities = [];
    for (const i of this.#newIdentities.values()) {
      const subject = this.resolve(i.subject);
      const k = keys.get(subject);
      if (!k) continue; // the subject was erased meanwhile: nothing of it is written
      identities.push({ kind: i.kind, blind_index: i.bi, subject_id: subject, value_enc: encryptJson(k.key, k.version, subject, `identity:${i.kind}`, i.value), created_at: now, asserted: i.asserted });
    }
    await this.#profiles.insertIdentities(identities);
    for (const i of this.#reasserted.values()) await this.#profiles.setAssertion(i.kind, i.bi, i.asserted);
  }

  /** The merges made in this flush, each with its final survivor. */
  merges(): { survivor: string; loser: string }[] {
    return this.#merges.map((m) => ({ survivor: this.resolve(m.survivor), loser: m.loser }));
  }
}
