// One group commit: resolves identities, applies consent, enforces the collection rule and writes everything in one transaction.
import type { DataScope } from '../../store/scope.ts';
import { planMessage, type MessagePlan, type PlannedEvent, type PlannedTrait } from '../../domain/collection.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { JsonObject, NormalizedMessage } from '../../domain/segment-message.ts';
import type { DebuggerOutcome, MessageCapture, MessageDropReason } from '../../domain/debugger-entry.ts';
import { encryptJson } from '../../crypto/envelope.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { EventsTable, TraitsTable } from '../../store/schema.ts';
import type { DataKey, KeyRing } from '../keys/keyring.ts';
import type { Metrics } from '../metrics.ts';
import { ConsentLedger } from './consent-ledger.ts';
import { IdentityResolver } from './identity-resolver.ts';
import type { ConsentOp, ConsentResult, MessagesOp, MessagesResult, SourceRef, WriteOp, WriteResult } from './write-op.ts';

export type { ConsentOp, ConsentResult, MessagesOp, MessagesResult, SourceRef, WriteOp, WriteResult } from './write-op.ts';
export { StaleSubjectError } from './identity-resolver.ts';

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

/** What became of each message of a group commit, per source, in arrival order (only when `onMessages` is set). */
export type CapturedMessages = Map<string, MessageCapture[]>;

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
  /** Called after each group commit (the destinations' worker looks for the rows it queued). */
  onCommitted?: (() => void) | undefined;
  /** Called after each group commit with what became of each message (the live debugger); set, the flush captures them. */
  onMessages?: ((captured: CapturedMessages) => void) | undefined;
}

/** The state of one transaction; created per flush, thrown away after. */
export class IngestFlush {
  readonly #profiles: ProfileRepo;
  readonly #events: EventRepo;
  readonly #identities: IdentityResolver;
  readonly #ledger: ConsentLedger;
  readonly #traits = new Map<string, PendingTrait>();
  readonly #pendingEvents: PendingEvent[] = [];
  readonly #sourceCounts = new Map<string, { stored: number; duplicates: number; dropped: number }>();
  /** Filled only when someone listens (`onMessages`): one small object per message, names are built later if kept. */
  readonly captured: CapturedMessages | null;

  constructor(
    private readonly trx: DataScope,
    private readonly deps: FlushDeps,
  ) {
    this.#profiles = new ProfileRepo(trx);
    this.#events = new EventRepo(trx);
    this.#identities = new IdentityResolver(trx, deps, (survivor, loser) => this.#ledger.merge(survivor, loser));
    this.#ledger = new ConsentLedger(trx, deps, this.#identities);
    this.captured = deps.onMessages ? new Map() : null;
  }

  /** Run after the transaction commits: destroying the keys of merged-away subjects. */
  get afterCommit(): readonly (() => Promise<unknown>)[] {
    return this.#identities.afterCommit;
  }

  /** Subjects this flush made a (committed) data key for: discarded if the transaction rolls back. */
  get createdKeys(): readonly string[] {
    return this.#identities.createdKeys;
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

  /** Reads, in one pass, what the group's fresh messages and consent calls need: identities, subjects, ledgers. */
  async #preload(ops: readonly WriteOp[], fresh: readonly Set<string>[]): Promise<void> {
    const ids = this.#identities;
    const wanted = new Map<string, Buffer>();
    ops.forEach((op, i) => {
      if (op.kind === 'messages') {
        for (const m of op.messages) {
          if (!fresh[i]!.has(m.messageId)) continue;
          for (const id of [...ids.messageIdents(m, op.source), ...ids.previousIdents(m, op.source)]) wanted.set(id.key, id.bi);
        }
      } else {
        for (const id of ids.consentIdents(op)) wanted.set(id.key, id.bi);
      }
    });
    await this.#ledger.load(await ids.load(wanted));
  }

  // ---- operations -----------------------------------------------------------------------------

  async #messages(op: MessagesOp, fresh: Set<string>): Promise<MessagesResult> {
    let stored = 0;
    let duplicates = 0;
    const { metrics, cfg } = this.deps;
    const ids = this.#identities;
    for (const [i, m] of op.messages.entries()) {
      const capture = this.#capture(op, i);
      if (!fresh.delete(m.messageId)) {
        duplicates++;
        metrics.messages.inc({ type: m.type, outcome: 'duplicate' });
        capture?.('duplicate', null, null);
        continue;
      }
      const refused = this.#refusal(m, op.source);
      if (refused) {
        capture?.('dropped', refused, null);
        continue;
      }
      const all = ids.messageIdents(m, op.source);
      const previous = ids.previousIdents(m, op.source);
      const core = all.filter((i) => i.kind === 'userId' || i.kind === 'anonymousId');
      let subject = await ids.find(
        core.find((i) => i.kind === 'userId'),
        [...core, ...previous],
      );
      subject = this.#consentInContext(subject, m, op);
      const plan = planMessage(cfg, m, this.#ledger.validNow(subject));
      if (!this.#keeps(m, plan, subject)) {
        capture?.('dropped', 'nothing_to_keep', plan);
        continue;
      }
      // Server time: a client-sent timestamp must not make a profile "older" (the older one survives a merge).
      subject ??= ids.createSubject(op.receivedAt);

      // Link ids; email and phone only when the trait itself may be kept.
      const keptTraits = new Set(plan.traits.map((t) => t.name));
      for (const id of all) {
        if (id.kind === 'email' && !keptTraits.has('email')) continue;
        if (id.kind === 'phone' && !keptTraits.has('phone')) continue;
        subject = await ids.link(subject, id);
      }
      const aliasedVisitor = ids.unknownAliasAnonymousId(previous);
      if (aliasedVisitor) subject = await ids.link(subject, aliasedVisitor);
      subject = ids.resolve(subject);
      if (op.gpc) this.#ledger.objectGpc(subject, op); // a subject new in this message (no-op when already recorded above)

      this.#queueTraits(subject, plan.traits, m, op.source.id);
      if (plan.event) this.#queueEvent(subject, plan.event, m, op);
      stored++;
      metrics.messages.inc({ type: m.type, outcome: 'stored' });
      capture?.('stored', null, plan);
    }
    this.#countSource(op, stored, duplicates);
    return { kind: 'messages', stored, duplicates };
  }

  /** Why (counted as dropped) a message may be linked to no one or names a suppressed identifier; null when admissible. */
  #refusal(m: NormalizedMessage, source: SourceRef): MessageDropReason | null {
    const { metrics } = this.deps;
    // Only blocked placeholder ids (or an alias whose userId is one): nothing may be linked, so nothing is kept.
    const linkable = m.type === 'alias' ? Boolean(m.userId) : Boolean(m.userId || m.anonymousId);
    if (!linkable) {
      metrics.identity.inc({ event: 'blocked_identity' });
      metrics.messages.inc({ type: m.type, outcome: 'dropped' });
      return 'blocked_identity';
    }
    if (this.#identities.isSuppressed(m, source)) {
      metrics.dropped.inc({ kind: 'message', reason: 'suppressed' });
      metrics.messages.inc({ type: m.type, outcome: 'dropped' });
      return 'suppressed';
    }
    return null;
  }

  /** Records what became of the op's i-th message for the live debugger; undefined when nobody listens. */
  #capture(op: MessagesOp, i: number): ((outcome: DebuggerOutcome, reason: MessageDropReason | null, plan: MessagePlan | null) => void) | undefined {
    const captured = this.captured;
    if (!captured) return undefined;
    return (outcome, reason, plan) => {
      let list = captured.get(op.source.id);
      if (!list) captured.set(op.source.id, (list = []));
      list.push({ message: op.messages[i]!, sourceKind: op.source.kind, receivedAt: op.receivedAt, outcome, reason, plan, userIdUnverified: op.userIdUnverified?.[i] === true });
    };
  }

  /**
   * The consent a message carries, before planning (so that a grant a GPC objection withdraws no longer covers it):
   * GPC for a known subject, then `context.consent` choices, which make a subject if none is known yet.
   */
  #consentInContext(subject: string | null, m: NormalizedMessage, op: MessagesOp): string | null {
    if (op.gpc && subject !== null) this.#ledger.objectGpc(subject, op);
    const choices = this.#ledger.contextChoices(m, op.gpc === true);
    if (!choices) return subject;
    subject ??= this.#identities.createSubject(op.receivedAt);
    const receiptId = uuidv7(op.receivedAt);
    for (const [purpose, granted] of choices) {
      this.#ledger.record(subject, purpose, granted, { noticeVersion: this.deps.cfg.config.notice.current, method: 'event_context', source: op.source.id, receiptId, at: op.receivedAt, proof: op.proof }, false);
    }
    return subject;
  }

  /** Counts the fields the plan drops; false (and the message counted as dropped) when it keeps nothing and has no subject. */
  #keeps(m: NormalizedMessage, plan: MessagePlan, subject: string | null): boolean {
    const { metrics } = this.deps;
    for (const d of plan.drops) metrics.dropped.inc({ kind: d.kind, reason: d.reason });
    const keepsSomething = plan.event !== null || plan.traits.length > 0 || m.type === 'identify' || m.type === 'alias';
    if (keepsSomething || subject !== null) return true;
    metrics.messages.inc({ type: m.type, outcome: 'dropped' });
    return false;
  }

  /** The most recent value of each trait per subject (by message time) is written. */
  #queueTraits(subject: string, traits: readonly PlannedTrait[], m: NormalizedMessage, source: string): void {
    for (const t of traits) {
      const k = `${subject}\u0000${t.name}`;
      const prev = this.#traits.get(k);
      if (!prev || prev.at <= m.timestamp) {
        this.#traits.set(k, { subject, name: t.name, category: t.category, value: t.value, purposes: t.purposes, source, at: m.timestamp });
      }
    }
  }

  #queueEvent(subject: string, event: PlannedEvent, m: NormalizedMessage, op: MessagesOp): void {
    const id = uuidv7(op.receivedAt);
    this.#pendingEvents.push({
      row: {
        id,
        subject_id: subject,
        source_id: op.source.id,
        message_id: m.messageId,
        type: m.type,
        event_name: m.event,
        category: event.category,
        purposes: JSON.stringify(event.purposes),
        categories: JSON.stringify(event.categories),
        timestamp: m.timestamp,
        received_at: op.receivedAt,
      },
      payload: { ...event.payload, ...(m.groupId ? { groupId: m.groupId } : {}) },
    });
  }

  #countSource(op: MessagesOp, stored: number, duplicates: number): void {
    const counts = this.#sourceCounts.get(op.source.id) ?? { stored: 0, duplicates: 0, dropped: 0 };
    counts.stored += stored;
    counts.duplicates += duplicates;
    counts.dropped += op.messages.length - stored - duplicates;
    this.#sourceCounts.set(op.source.id, counts);
  }

  async #consent(op: ConsentOp): Promise<ConsentResult> {
    const ids = this.#identities;
    const idents = ids.consentIdents(op);
    let subject = (await ids.find(idents.find((i) => i.kind === 'userId'), idents)) ?? ids.createSubject(op.receivedAt);
    for (const id of idents) subject = await ids.link(subject, id);
    subject = ids.resolve(subject);
    const receiptId = uuidv7(op.receivedAt);
    for (const c of op.choices) {
      // An explicit choice is always recorded, even when it repeats the last one: it is the proof.
      this.#ledger.record(subject, c.purpose, c.granted, { noticeVersion: op.noticeVersion, method: c.method ?? op.method, source: op.source.id, receiptId, at: op.receivedAt, proof: op.proof, explicit: op.explicit }, true);
    }
    return { kind: 'consent', receiptId, subjectId: subject, consents: this.#ledger.statuses(subject) };
  }

  // ---- writing --------------------------------------------------------------------------------

  async #write(): Promise<FlushSummary> {
    const now = Date.now();
    const fresh = await this.#identities.writeSubjects(now);
    const keys = await this.#keysOfTouched(fresh);
    await this.#identities.writeIdentities(keys, now);
    await this.#ledger.write();
    const traits = await this.#writeTraits(keys);
    const written = await this.#writeEvents(keys);
    return this.#summary(fresh, traits, written);
  }

  /** The key of every subject the flush writes to: new ones as just made, the others once locked as still live. */
  async #keysOfTouched(fresh: ReadonlyMap<string, DataKey>): Promise<Map<string, DataKey>> {
    const touched = new Set<string>();
    this.#identities.addLinkedSubjects(touched);
    for (const t of this.#traits.values()) touched.add(this.#identities.resolve(t.subject));
    for (const e of this.#pendingEvents) touched.add(this.#identities.resolve(e.row.subject_id));
    const existing = [...touched].filter((s) => !fresh.has(s));
    await this.#identities.ensureLive(existing, 'share');
    return new Map([...fresh, ...(await this.deps.ring.currentKeys(existing))]);
  }

  /** Subjects without a key were erased meanwhile: nothing of them is written. */
  async #writeTraits(keys: ReadonlyMap<string, DataKey>): Promise<Map<string, TraitsTable>> {
    const traits = new Map<string, TraitsTable>();
    for (const t of this.#traits.values()) {
      const subject = this.#identities.resolve(t.subject);
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
    return traits;
  }

  async #writeEvents(keys: ReadonlyMap<string, DataKey>): Promise<WrittenEvent[]> {
    const events: EventsTable[] = [];
    const written: WrittenEvent[] = [];
    for (const e of this.#pendingEvents) {
      const subject = this.#identities.resolve(e.row.subject_id);
      const k = keys.get(subject);
      if (!k) continue;
      events.push({ ...e.row, subject_id: subject, payload_enc: encryptJson(k.key, k.version, subject, `event:${e.row.id}`, e.payload) });
      written.push({ id: e.row.id, subjectId: subject, type: e.row.type, name: e.row.event_name, category: e.row.category, timestamp: e.row.timestamp, payload: e.payload });
    }
    await this.#events.insertEvents(events);
    return written;
  }

  #summary(fresh: ReadonlyMap<string, DataKey>, traits: ReadonlyMap<string, TraitsTable>, written: WrittenEvent[]): FlushSummary {
    const subjects: FlushSummary['subjects'] = new Map();
    const entry = (s: string) => {
      let e = subjects.get(s);
      if (!e) subjects.set(s, (e = { events: 0, eventIds: [], traits: [], consents: [], created: fresh.has(s) }));
      return e;
    };
    for (const e of written) {
      const x = entry(e.subjectId);
      x.events++;
      x.eventIds.push(e.id);
    }
    for (const t of traits.values()) entry(t.subject_id).traits.push(t.name);
    for (const c of this.#ledger.rows) entry(this.#identities.resolve(c.subject_id)).consents.push(c.purpose);
    return {
      subjects,
      merges: this.#identities.merges(),
      sources: this.#sourceCounts,
      written,
    };
  }
}
