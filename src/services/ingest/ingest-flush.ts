// One group commit: resolves identities, applies consent, enforces the collection rule and writes everything in one transaction.
import type { DataScope } from '../../store/scope.ts';
import { planMessage } from '../../domain/collection.ts';
import { normalizeIdentity, type IdentityKind } from '../../domain/identity.ts';
import { subjectId as newSubjectId, uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { JsonObject, NormalizedMessage } from '../../domain/segment-message.ts';
import { encryptJson } from '../../crypto/envelope.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { EventsTable, IdentityAssertion, TraitsTable } from '../../store/schema.ts';
import type { KeyRing } from '../keys/keyring.ts';
import { mergeStoredSubjects } from './merge.ts';
import type { Metrics } from '../metrics.ts';
import { ConsentLedger } from './consent-ledger.ts';
import type { ConsentOp, ConsentResult, MessagesOp, MessagesResult, SourceRef, WriteOp, WriteResult } from './write-op.ts';

export type { ConsentOp, ConsentResult, MessagesOp, MessagesResult, SourceRef, WriteOp, WriteResult } from './write-op.ts';

interface Ident {
  kind: IdentityKind;
  value: string;
  bi: Buffer;
  key: string;
  /** How this message asserts it; recorded on a new link. */
  asserted: IdentityAssertion;
}

/** How a source asserts a userId that reached the flush (a browser source's ones were verified by `userHash`). */
function userIdAssertion(source: SourceRef): IdentityAssertion {
  return source.kind === 'server' ? 'server' : 'verified_hash';
}

interface PendingEvent {
  row: Omit<EventsTable, 'payload_enc'>;
  payload: JsonObject;
}

interface PendingTrait {
  subject: string;
  name: string;
  category: string;
  value: unknown;
  purposes: string[];
  source: string;
  at: number;
}

/** What one group commit wrote, per live subject: for the audit log, segments and other observers. */
export interface FlushSummary {
  subjects: Map<string, { events: number; eventIds: string[]; traits: string[]; consents: string[]; created: boolean }>;
  merges: { survivor: string; loser: string }[];
  /** Messages stored / replayed / dropped in the group, by source. */
  sources: Map<string, { stored: number; duplicates: number; dropped: number }>;
  /** The events written, payloads in clear (in memory only; never log them): segments fold them into their aggregates. */
  written?: WrittenEvent[];
}

export interface WrittenEvent {
  id: string;
  subjectId: string;
  type: string;
  name: string | null;
  category: string;
  timestamp: number;
  payload: JsonObject;
}

/** Called inside the transaction after the group's rows are written; a throw rolls the whole group back. */
export interface IngestObserver {
  onCommitting(trx: DataScope, summary: FlushSummary): Promise<void>;
}

export interface FlushDeps {
  /** Run inside each group commit (audit entries, segment membership, …). */
  observers?: readonly IngestObserver[];
  cfg: CompiledConfig;
  ring: KeyRing;
  metrics: Metrics;
  /**
   * For tests only: called once the group's new keys are committed to the keystore, before the data is written and
   * committed (a test kills the process here to leave keys whose data never committed).
   */
  afterKeysCreated?: (() => void) | undefined;
}

export class StaleSubjectError extends Error {
  /** Same code as a PostgreSQL serialization failure: the writer retries the whole group. */
  readonly code = '40001';
  constructor() {
    super('a subject changed in another process during this commit');
    this.name = 'StaleSubjectError';
  }
}

/** The state of one transaction; created per flush, thrown away after. */
export class IngestFlush {
  readonly #profiles: ProfileRepo;
  readonly #events: EventRepo;
  readonly #ledger: ConsentLedger;
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
  readonly #traits = new Map<string, PendingTrait>();
  readonly #pendingEvents: PendingEvent[] = [];
  readonly afterCommit: (() => Promise<unknown>)[] = [];
  /** Subjects this flush made a (committed) data key for: discarded if the transaction rolls back. */
  readonly createdKeys: string[] = [];
  readonly #merges: { survivor: string; loser: string }[] = [];
  readonly #sourceCounts = new Map<string, { stored: number; duplicates: number; dropped: number }>();
  /** `kind:blindIndex` keys suppressed by an erasure (Art. 17 with suppression). */
  readonly #suppressed = new Set<string>();

  constructor(
    private readonly trx: DataScope,
    private readonly deps: FlushDeps,
  ) {
    this.#profiles = new ProfileRepo(trx);
    this.#events = new EventRepo(trx);
    this.#ledger = new ConsentLedger(trx, deps, { resolve: (s) => this.#resolve(s) });
  }

  async run(ops: readonly WriteOp[]): Promise<WriteResult[]> {
    const fresh = await this.#claim(ops);
    await this.#preload(ops, fresh);
    const results: WriteResult[] = [];
    for (const [i, op] of ops.entries()) {
      if (op.kind === 'messages') results.push(await this.#messages(op, fresh[i]!));
      else results.push(await this.#consent(op));
    }
    const summary = await this.#write();
    for (const o of this.deps.observers ?? []) await o.onCommitting(this.trx, summary);
    return results;
  }

  // ---- loading ------------------------------------------------------------------------------

  /** messageIds seen for the first time, per op; replays (earlier or within this flush) are skipped. */
  async #claim(ops: readonly WriteOp[]): Promise<Set<string>[]> {
    const bySource = new Map<string, Set<string>>();
    for (const op of ops) {
      if (op.kind !== 'messages') continue;
      const ids = bySource.get(op.source.id) ?? new Set<string>();
      for (const m of op.messages) ids.add(m.messageId);
      bySource.set(op.source.id, ids);
    }
    const freshBySource = new Map<string, Set<string>>();
    for (const [source, ids] of bySource) {
      freshBySource.set(source, await this.#events.claimMessageIds(source, [...ids], Date.now()));
    }
    return ops.map((op) => (op.kind === 'messages' ? freshBySource.get(op.source.id)! : new Set<string>()));
  }

  #ident(kind: IdentityKind, value: string, asserted: IdentityAssertion): Ident {
    const bi = this.deps.ring.blindIndex.index(kind, value);
    return { kind, value, bi, key: `${kind}:${bi.toString('base64')}`, asserted };
  }

  /** Email and phone are identities only when a server source sends them; from a browser they are traits alone. */
  #messageIdents(m: NormalizedMessage, source: SourceRef): Ident[] {
    const out: Ident[] = [];
    if (m.userId) out.push(this.#ident('userId', m.userId, userIdAssertion(source)));
    if (m.anonymousId) out.push(this.#ident('anonymousId', m.anonymousId, 'anonymous'));
    if (m.type === 'identify' && source.kind === 'server') {
      const email = normalizeIdentity('email', m.traits.email);
      const phone = normalizeIdentity('phone', m.traits.phone);
      if (email) out.push(this.#ident('email', email, 'server'));
      if (phone) out.push(this.#ident('phone', phone, 'server'));
    }
    return out;
  }

  /**
   * alias: `previousId` may be an earlier userId or anonymousId. A browser cannot prove an earlier userId is its
   * own, so from a browser it can only be the visitor's anonymousId.
   */
  #previousIdents(m: NormalizedMessage, source: SourceRef): Ident[] {
    if (!m.previousId) return [];
    const anon = this.#ident('anonymousId', m.previousId, 'anonymous');
    return source.kind === 'server' ? [this.#ident('userId', m.previousId, 'server'), anon] : [anon];
  }

  async #preload(ops: readonly WriteOp[], fresh: readonly Set<string>[]): Promise<void> {
    const wanted = new Map<string, Buffer>();
    ops.forEach((op, i) => {
      if (op.kind === 'messages') {
        for (const m of op.messages) {
          if (!fresh[i]!.has(m.messageId)) continue;
          for (const id of [...this.#messageIdents(m, op.source), ...this.#previousIdents(m, op.source)]) wanted.set(id.key, id.bi);
        }
      } else {
        for (const id of this.#consentIdents(op)) wanted.set(id.key, id.bi);
      }
    });
    const rows = await this.#profiles.identitiesByIndex([...wanted.values()]);
    // Identifiers an erasure asked to suppress (blind indexes only): their messages are dropped below.
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
    await this.#ledger.load(list);
  }

  // ---- identity resolution --------------------------------------------------------------------

  #resolve(subject: string): string {
    let s = subject;
    for (let next = this.#redirect.get(s); next; next = this.#redirect.get(s)) s = next;
    return s;
  }

  #lookup(id: Ident): string | undefined {
    const s = this.#ids.get(id.key);
    return s === undefined ? undefined : this.#resolve(s);
  }

  #createSubject(at: number): string {
    const id = newSubjectId();
    this.#newSubjects.add(id);
    this.#createdAt.set(id, at);
    this.deps.metrics.identity.inc({ event: 'subject_created' });
    return id;
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
      await this.#ensureLive([survivor, loser].filter((s) => !this.#newSubjects.has(s)), 'update');
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
    this.#ledger.merge(survivor, loser);
    this.deps.metrics.identity.inc({ event: 'merge' });
    return survivor;
  }

  /** Attaches an identity to a subject, merging with the subject that already holds it when allowed. */
  async #link(subject: string, id: Ident): Promise<string> {
    const holder = this.#lookup(id);
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

  /**
   * The subject of a set of identities (merging where they disagree), or null if none is known.
   * A userId decides: when it is new and the other ids belong to a subject with another userId,
   * the message starts a new subject rather than landing on someone else's profile.
   */
  async #find(user: Ident | undefined, ids: readonly Ident[]): Promise<string | null> {
    let subject: string | null = user ? (this.#lookup(user) ?? null) : null;
    if (user && subject === null) {
      const others = ids.map((i) => this.#lookup(i)).filter((s): s is string => s !== undefined);
      if (others.some((s) => this.#withUserId.has(s))) {
        this.deps.metrics.identity.inc({ event: 'link_refused_second_user_id' });
        return null;
      }
    }
    for (const id of ids) {
      const s = this.#lookup(id);
      if (s === undefined) continue;
      subject = subject === null ? s : ((await this.#merge(subject, s)) ?? subject);
    }
    return subject;
  }

  // ---- operations -----------------------------------------------------------------------------

  async #messages(op: MessagesOp, fresh: Set<string>): Promise<MessagesResult> {
    let stored = 0;
    let duplicates = 0;
    const { metrics, cfg } = this.deps;
    for (const m of op.messages) {
      if (!fresh.delete(m.messageId)) {
        duplicates++;
        metrics.messages.inc({ type: m.type, outcome: 'duplicate' });
        continue;
      }
      // Only blocked placeholder ids (or an alias whose userId is one): nothing may be linked, so nothing is kept.
      const linkable = m.type === 'alias' ? Boolean(m.userId) : Boolean(m.userId || m.anonymousId);
      if (!linkable) {
        metrics.identity.inc({ event: 'blocked_identity' });
        metrics.messages.inc({ type: m.type, outcome: 'dropped' });
        continue;
      }
      if (this.#suppressed.size > 0 && [...this.#messageIdents(m, op.source), ...this.#previousIdents(m, op.source)].some((i) => this.#suppressed.has(i.key))) {
        metrics.dropped.inc({ kind: 'message', reason: 'suppressed' });
        metrics.messages.inc({ type: m.type, outcome: 'dropped' });
        continue;
      }
      const all = this.#messageIdents(m, op.source);
      const previous = this.#previousIdents(m, op.source);
      const core = all.filter((i) => i.kind === 'userId' || i.kind === 'anonymousId');
      let subject = await this.#find(
        core.find((i) => i.kind === 'userId'),
        [...core, ...previous],
      );

      // Before planning, so that a grant the objection withdraws no longer covers this message.
      if (op.gpc && subject !== null) this.#ledger.objectGpc(subject, op);
      const choices = this.#ledger.contextChoices(m, op.gpc === true);
      if (choices) {
        subject ??= this.#createSubject(op.receivedAt);
        const receiptId = uuidv7(op.receivedAt);
        for (const [purpose, granted] of choices) {
          this.#ledger.record(subject, purpose, granted, { noticeVersion: cfg.config.notice.current, method: 'event_context', source: op.source.id, receiptId, at: op.receivedAt, proof: op.proof }, false);
        }
      }

      const plan = planMessage(cfg, m, this.#ledger.validNow(subject));
      for (const d of plan.drops) metrics.dropped.inc(d);
      const keepsSomething = plan.event !== null || plan.traits.length > 0 || m.type === 'identify' || m.type === 'alias';
      if (!keepsSomething && subject === null) {
        metrics.messages.inc({ type: m.type, outcome: 'dropped' });
        continue;
      }
      // Server time: a client-sent timestamp must not make a profile "older" (the older one survives a merge).
      subject ??= this.#createSubject(op.receivedAt);

      // Link ids; email and phone only when the trait itself may be kept.
      const keptTraits = new Set(plan.traits.map((t) => t.name));
      for (const id of all) {
        if (id.kind === 'email' && !keptTraits.has('email')) continue;
        if (id.kind === 'phone' && !keptTraits.has('phone')) continue;
        subject = await this.#link(subject, id);
      }
      const prevAsAnon = previous.find((i) => i.kind === 'anonymousId');
      if (prevAsAnon && previous.every((i) => this.#lookup(i) === undefined)) {
        // An alias to an id never seen before: it was the visitor's anonymous id.
        subject = await this.#link(subject, prevAsAnon);
      }
      subject = this.#resolve(subject);
      if (op.gpc) this.#ledger.objectGpc(subject, op); // a subject new in this message (no-op when already recorded above)

      for (const t of plan.traits) {
        const k = `${subject}\u0000${t.name}`;
        const prev = this.#traits.get(k);
        if (!prev || prev.at <= m.timestamp) {
          this.#traits.set(k, { subject, name: t.name, category: t.category, value: t.value, purposes: t.purposes, source: op.source.id, at: m.timestamp });
        }
      }
      if (plan.event) {
        const id = uuidv7(op.receivedAt);
        this.#pendingEvents.push({
          row: {
            id,
            subject_id: subject,
            source_id: op.source.id,
            message_id: m.messageId,
            type: m.type,
            event_name: m.event,
            category: plan.event.category,
            purposes: JSON.stringify(plan.event.purposes),
            categories: JSON.stringify(plan.event.categories),
            timestamp: m.timestamp,
            received_at: op.receivedAt,
          },
          payload: { ...plan.event.payload, ...(m.groupId ? { groupId: m.groupId } : {}) },
        });
      }
      stored++;
      metrics.messages.inc({ type: m.type, outcome: 'stored' });
    }
    const counts = this.#sourceCounts.get(op.source.id) ?? { stored: 0, duplicates: 0, dropped: 0 };
    counts.stored += stored;
    counts.duplicates += duplicates;
    counts.dropped += op.messages.length - stored - duplicates;
    this.#sourceCounts.set(op.source.id, counts);
    return { kind: 'messages', stored, duplicates };
  }

  #consentIdents(op: ConsentOp): Ident[] {
    const ids: Ident[] = [];
    if (op.userId) ids.push(this.#ident('userId', op.userId, userIdAssertion(op.source)));
    if (op.anonymousId) ids.push(this.#ident('anonymousId', op.anonymousId, 'anonymous'));
    return ids;
  }

  async #consent(op: ConsentOp): Promise<ConsentResult> {
    const ids = this.#consentIdents(op);
    let subject = (await this.#find(ids.find((i) => i.kind === 'userId'), ids)) ?? this.#createSubject(op.receivedAt);
    for (const id of ids) subject = await this.#link(subject, id);
    subject = this.#resolve(subject);
    const receiptId = uuidv7(op.receivedAt);
    for (const c of op.choices) {
      // An explicit choice is always recorded, even when it repeats the last one: it is the proof.
      this.#ledger.record(subject, c.purpose, c.granted, { noticeVersion: op.noticeVersion, method: c.method ?? op.method, source: op.source.id, receiptId, at: op.receivedAt, proof: op.proof, explicit: op.explicit }, true);
    }
    return { kind: 'consent', receiptId, subjectId: subject, consents: this.#ledger.statuses(subject) };
  }

  /** Throws a retryable conflict when another process merged one of these subjects since we read it. */
  async #ensureLive(ids: readonly string[], mode: 'share' | 'update'): Promise<void> {
    if (ids.length === 0) return;
    const rows = await this.#profiles.lockSubjects(ids, mode);
    // An erasure committed in another process since we read the subject: retried, its identities are gone by then.
    if (rows.length !== ids.length || rows.some((r) => r.merged_into !== null || r.erased_at !== null)) throw new StaleSubjectError();
  }

  // ---- writing --------------------------------------------------------------------------------

  async #write(): Promise<FlushSummary> {
    const now = Date.now();
    const created = [...this.#newSubjects].filter((s) => !this.#redirect.has(s));
    // Keys commit first, so no committed subject is ever without its key; a rollback leaves keys to discard instead.
    this.createdKeys.push(...created);
    const fresh = await this.deps.ring.createKeys(created);
    if (created.length > 0) this.deps.afterKeysCreated?.();
    await this.#profiles.insertSubjects(created.map((id) => ({ id, created_at: this.#createdAt.get(id) ?? now, updated_at: now, merged_into: null, restricted_at: null, erased_at: null })));

    const touched = new Set<string>();
    for (const i of this.#newIdentities.values()) touched.add(this.#resolve(i.subject));
    for (const t of this.#traits.values()) touched.add(this.#resolve(t.subject));
    for (const e of this.#pendingEvents) touched.add(this.#resolve(e.row.subject_id));
    const existing = [...touched].filter((s) => !fresh.has(s));
    await this.#ensureLive(existing, 'share');
    const keys = new Map([...fresh, ...(await this.deps.ring.currentKeys(existing))]);

    const identities = [];
    for (const i of this.#newIdentities.values()) {
      const subject = this.#resolve(i.subject);
      const k = keys.get(subject);
      if (!k) continue; // the subject was erased meanwhile: nothing of it is written
      identities.push({ kind: i.kind, blind_index: i.bi, subject_id: subject, value_enc: encryptJson(k.key, k.version, subject, `identity:${i.kind}`, i.value), created_at: now, asserted: i.asserted });
    }
    await this.#profiles.insertIdentities(identities);
    for (const i of this.#reasserted.values()) await this.#profiles.setAssertion(i.kind, i.bi, i.asserted);

    await this.#ledger.write();

    const traits = new Map<string, TraitsTable>();
    for (const t of this.#traits.values()) {
      const subject = this.#resolve(t.subject);
      const k = keys.get(subject);
      if (!k) continue;
      const key = `${subject}\u0000${t.name}`;
      const prev = traits.get(key);
      if (prev && prev.updated_at > t.at) continue;
      traits.set(key, {
        subject_id: subject,
        name: t.name,
        category: t.category,
        value_enc: encryptJson(k.key, k.version, subject, `trait:${t.name}`, t.value),
        purposes: JSON.stringify(t.purposes),
        source_id: t.source,
        updated_at: t.at,
      });
    }
    await this.#profiles.upsertTraits([...traits.values()]);

    const events: EventsTable[] = [];
    const written: WrittenEvent[] = [];
    for (const e of this.#pendingEvents) {
      const subject = this.#resolve(e.row.subject_id);
      const k = keys.get(subject);
      if (!k) continue;
      events.push({ ...e.row, subject_id: subject, payload_enc: encryptJson(k.key, k.version, subject, `event:${e.row.id}`, e.payload) });
      written.push({ id: e.row.id, subjectId: subject, type: e.row.type, name: e.row.event_name, category: e.row.category, timestamp: e.row.timestamp, payload: e.payload });
    }
    await this.#events.insertEvents(events);

    const subjects: FlushSummary['subjects'] = new Map();
    const entry = (s: string) => {
      let e = subjects.get(s);
      if (!e) subjects.set(s, (e = { events: 0, eventIds: [], traits: [], consents: [], created: fresh.has(s) }));
      return e;
    };
    for (const e of events) {
      const x = entry(e.subject_id);
      x.events++;
      x.eventIds.push(e.id);
    }
    for (const t of traits.values()) entry(t.subject_id).traits.push(t.name);
    for (const c of this.#ledger.rows) entry(this.#resolve(c.subject_id)).consents.push(c.purpose);
    return {
      subjects,
      merges: this.#merges.map((m) => ({ survivor: this.#resolve(m.survivor), loser: m.loser })),
      sources: this.#sourceCounts,
      written,
    };
  }
}
