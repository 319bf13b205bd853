// Purpose-bound profile reads: find the subject, decide every field with the policy engine, decrypt only what is allowed, audit once.
import type { DataScope } from '../../store/scope.ts';
import { ciphertextKeyVersion, decryptJson } from '../../crypto/envelope.ts';
import type { ConsentStatus } from '../../domain/consent.ts';
import { FiduciaError } from '../../domain/errors.ts';
import type { IdentityRef } from '../../domain/identity.ts';
import { PolicyEngine, type DenyReason, type PolicyCaller, type PurposeView, type SubjectState } from '../../domain/policy.ts';
import { UNCLASSIFIED } from '../../domain/privacy-config-types.ts';
import { EventRepo } from '../../store/event-repo.ts';
import type { EventsTable } from '../../store/schema.ts';
import type { Reader } from '../../store/reader.ts';
import { SubjectStateRepo, policyStateOf, type ProfileSnapshot, type StoredSubjectState } from '../../store/subject-state-repo.ts';
import { AuditBatcher } from '../audit/audit-batcher.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { PlaintextCache } from './plaintext-cache.ts';
import { InvariantError } from '../../domain/errors.ts';

/**
 * Segment memberships and computed traits of a subject for a purpose, from the rows the profile snapshot already
 * holds (the segments service implements it).
 */
export interface SegmentsPort {
  membershipsIn(memberships: readonly { segmentId: string }[], purpose: string): readonly unknown[];
  computedTraitsFrom?(subjectId: string, state: Buffer | null, purpose: string): Promise<Record<string, unknown>>;
}

export interface ProfileCaller extends PolicyCaller {
  /** Token id: the audit log's actor. */
  tokenId: string;
  /** The role the audit log names when it is not a token's (`visitor`: a person reading their own profile). */
  auditRole?: string;
}

/** A profile named by an identity, or (a visitor credential) directly by its subject id. */
export type ProfileTarget = IdentityRef | { subjectId: string };

export interface Withheld {
  field: string;
  reason: DenyReason;
}

export interface ConsentView {
  status: ConsentStatus;
  noticeVersion: string;
  method: string;
  at: string;
  explicit: boolean;
}

export interface ProfileView {
  subjectId: string;
  traits: Record<string, unknown>;
  /** Fields of the purpose's categories it may not see now (consent, objection, restriction, erasure), by name. */
  withheld: Withheld[];
  /** Further fields whose category the purpose never covers: counted, not named (a name alone can tell too much). */
  withheldOutsidePurpose: number;
  segments: unknown[];
  /** Computed traits of the purpose (counts, sums, last or most frequent values), derived only from data it may see. */
  computed: Record<string, unknown>;
  /** The ledger's latest entry for the purpose read, if any: choices about other purposes are not its business. */
  consents: Record<string, ConsentView>;
}

export interface EventView {
  id: string;
  messageId: string;
  type: string;
  event: string | null;
  timestamp: string;
  properties: Record<string, unknown>;
  context: Record<string, unknown>;
  withheld: Withheld[];
  withheldOutsidePurpose: number;
}

export interface EventsPage {
  subjectId: string;
  events: EventView[];
  /** Events of the purpose's categories not returned now, with the reason (their name and time are withheld too). */
  withheld: { id: string; reason: DenyReason }[];
  /** Events on this page whose category the purpose never covers: counted; even their ids carry their time. */
  withheldOutsidePurpose: number;
  nextCursor: string | null;
}

/** No subject has this identity. */
export class UnknownIdentityError extends FiduciaError {
  constructor() {
    super('FIDUCIA_NOT_FOUND', 'no profile has this identity');
    this.name = 'UnknownIdentityError';
  }
}

/** The caller may not act for the purpose, or the purpose is unknown: callers check first, this is the backstop. */
export class ReadRefusedError extends FiduciaError {
  constructor(readonly reason: DenyReason) {
    super('FIDUCIA_PURPOSE_NOT_ALLOWED', `read refused: ${reason}`, { reason });
    this.name = 'ReadRefusedError';
  }
}

export interface ProfileDeps {
  db: DataScope;
  ring: KeyRing;
  policy: PolicyEngine;
  audit: AuditPort;
  segments?: SegmentsPort | undefined;
  /** Where snapshots read committed state (src/store/reader.ts); default: `db`. */
  reader?: Reader | undefined;
  /** Recently decrypted trait values (src/services/profiles/plaintext-cache.ts); none: every read decrypts. */
  plaintext?: PlaintextCache | undefined;
}

type Json = Record<string, unknown>;
const dict = (): Json => Object.create(null) as Json;
const MAX_MERGE_HOPS = 8;

const toSubjectState = policyStateOf;

/** The ledger entry of `purpose` only. */
function consentViews(s: StoredSubjectState, purpose: string): Record<string, ConsentView> {
  const out = dict() as Record<string, ConsentView>;
  for (const c of s.consents) {
    if (c.purpose !== purpose) continue;
    out[c.purpose] = { status: c.status as ConsentStatus, noticeVersion: c.noticeVersion, method: c.method, at: new Date(c.at).toISOString(), explicit: c.explicit };
  }
  return out;
}

/** `{name: reason}` as one JSON text: the audit log stores names and reasons, never values. */
function withheldDetail(withheld: readonly { field?: string; id?: string; reason: DenyReason }[]): string {
  const out = dict();
  for (const w of withheld) out[w.field ?? w.id ?? ''] = w.reason;
  return JSON.stringify(out);
}

export class ProfileService {
  readonly #events: EventRepo;
  readonly #state: SubjectStateRepo;
  readonly #audit: AuditBatcher;

  constructor(private readonly deps: ProfileDeps) {
    this.#events = new EventRepo(deps.db);
    this.#state = new SubjectStateRepo(deps.db, deps.reader);
    this.#audit = new AuditBatcher(deps.audit, deps.db);
  }

  /**
   * The live subject behind an identity with its state, segment data and (for profile reads) its trait rows, or
   * null: one statement on PostgreSQL, a few synchronous selects on SQLite, in the usual case. Identities move to the
   * survivor of a merge; following `merged_into` covers a merge committed in between.
   */
  async #subject(ref: ProfileTarget, traitsFor: string | null): Promise<ProfileSnapshot | null> {
    const traits = traitsFor === null ? null : { blobsFor: this.deps.policy.prefixesOf(traitsFor) };
    const by = 'subjectId' in ref ? { subjectId: ref.subjectId } : { kind: ref.kind, blindIndex: this.deps.ring.blindIndex.index(ref.kind, ref.value) };
    const found = await this.#state.profile(by, traits);
    if (!found?.mergedInto) return found;
    let subject: Pick<StoredSubjectState, 'subjectId' | 'mergedInto'> | null = found;
    for (let hop = 0; subject?.mergedInto && hop < MAX_MERGE_HOPS; hop++) subject = await this.#state.stateOf(subject.mergedInto);
    if (!subject || subject.mergedInto) return null;
    const survivor = await this.#state.profile({ subjectId: subject.subjectId }, traits);
    return survivor && !survivor.mergedInto ? survivor : null;
  }

  #view(purpose: string, state: SubjectState, caller: ProfileCaller): PurposeView {
    const view = this.deps.policy.view(purpose, state, caller);
    // Caller and purpose are checked (and the refusal audited) before any lookup; reaching here means a bug upstream.
    const b = view.blocked;
    if (b && !b.allow && (b.reason === 'caller_not_allowed' || b.reason === 'unknown_purpose')) throw new ReadRefusedError(b.reason);
    return view;
  }

  async #lookupFailed(action: string, purpose: string, caller: ProfileCaller, ref: ProfileTarget): Promise<never> {
    const identityKind = 'subjectId' in ref ? 'subject' : ref.kind;
    await this.#audit.append({ actor: caller.tokenId, action, purpose, outcome: 'failed', details: { reason: 'unknown_identity', identityKind, role: caller.auditRole ?? caller.role } });
    throw new UnknownIdentityError();
  }

  /** Key for a ciphertext, by the version in its header; undefined once the subject's keys are destroyed. */
  async #keyFor(subjectId: string, blob: Uint8Array, current: { version: number; key: Buffer } | undefined): Promise<Buffer | undefined> {
    const version = ciphertextKeyVersion(blob);
    return current && current.version === version ? current.key : this.deps.ring.keyVersion(subjectId, version);
  }

  /** The live subject id behind an identity (merges followed), or null; no audit entry: nothing of the person is read. */
  async subjectIdOf(ref: IdentityRef): Promise<string | null> {
    return (await this.#subject(ref, null))?.subjectId ?? null;
  }

  /** `read` of the profile a visitor credential names (services/profiles/visitor-credentials.ts). */
  readSubject(subjectId: string, purpose: string, caller: ProfileCaller): Promise<ProfileView> {
    return this.read({ subjectId }, purpose, caller);
  }

  async read(ref: ProfileTarget, purpose: string, caller: ProfileCaller): Promise<ProfileView> {
    const stored = await this.#subject(ref, purpose);
    if (!stored) return this.#lookupFailed('profile.read', purpose, caller, ref);
    const subjectId = stored.subjectId;
    const state = toSubjectState(stored);
    const view = this.#view(purpose, state, caller);

    const rows = stored.traits;
    const traits = dict();
    // `withheld` is every refusal, for the audit log; the answer names only those of the purpose's own categories.
    const withheld: Withheld[] = [];
    const shown: Withheld[] = [];
    let outside = 0;
    const allowed = [];
    for (const r of rows) {
      const d = view.decide(r.category);
      if (d.allow) allowed.push(r);
      else {
        withheld.push({ field: r.name, reason: d.reason });
        if (view.couldAllow(r.category)) shown.push({ field: r.name, reason: d.reason });
        else outside++;
      }
    }
    // Decrypt only after the decision, and only what was allowed.
    if (allowed.length > 0) {
      const current = (await this.deps.ring.currentKeys([subjectId])).get(subjectId);
      for (const r of allowed) {
        // Storage fetches the ciphertexts of every category the purpose covers: an allowed field always has one.
        if (!r.value_enc) throw new InvariantError(`the ciphertext of trait "${r.name}" was not fetched`);
        const key = await this.#keyFor(subjectId, r.value_enc, current);
        if (!key) {
          withheld.push({ field: r.name, reason: 'erased' });
          shown.push({ field: r.name, reason: 'erased' });
          continue;
        }
        // The key is looked up first even on a hit: after an erasure, nothing decrypted before is returned.
        // Kept under the ciphertext's own field name (its AAD), which no other kind of value shares.
        const field = `trait:${r.name}`;
        const hit = this.deps.plaintext?.get(subjectId, field, r.value_enc);
        if (hit) traits[r.name] = hit.value;
        else {
          const value = decryptJson(key, subjectId, field, r.value_enc);
          this.deps.plaintext?.set(subjectId, field, r.value_enc, value);
          traits[r.name] = value;
        }
      }
    }
    // Segments and computed traits derive from data of the purpose: none unless its basis holds for this subject now.
    const derive = view.basis.allow && !view.blocked ? this.deps.segments : undefined;
    const segments = derive ? [...derive.membershipsIn(stored.memberships, purpose)] : [];
    const computed = (await derive?.computedTraitsFrom?.(subjectId, stored.segmentState, purpose)) ?? dict();
    const returned = [...Object.keys(traits), ...Object.keys(computed).map((k) => `computed:${k}`)];
    await this.#audit.append({
      actor: caller.tokenId,
      action: 'profile.read',
      purpose,
      subjectId,
      fields: returned,
      counts: { returned: returned.length, withheld: withheld.length, segments: segments.length },
      outcome: 'ok',
      details: { role: caller.auditRole ?? caller.role, withheld: withheldDetail(withheld) },
    });
    return { subjectId, traits, withheld: shown, withheldOutsidePurpose: outside, segments, computed, consents: consentViews(stored, purpose) };
  }

  async events(ref: IdentityRef, purpose: string, caller: ProfileCaller, page: { cursor: string | null; limit: number }): Promise<EventsPage> {
    const stored = await this.#subject(ref, null);
    if (!stored) return this.#lookupFailed('profile.events', purpose, caller, ref);
    const subjectId = stored.subjectId;
    const view = this.#view(purpose, toSubjectState(stored), caller);
    const rows = await this.#events.eventsOf(subjectId, page.cursor, page.limit);
    const events: EventView[] = [];
    const withheld: EventsPage['withheld'] = [];
    // Every refused event, for the audit log; the answer lists only those of the purpose's categories.
    const refused: EventsPage['withheld'] = [];
    let outside = 0;
    const fieldsWithheld: Withheld[] = [];
    const returnedFields = new Set<string>();
    const current = rows.length > 0 ? (await this.deps.ring.currentKeys([subjectId])).get(subjectId) : undefined;
    for (const r of rows) {
      const d = view.decide(r.category);
      if (!d.allow) {
        refused.push({ id: r.id, reason: d.reason });
        if (view.couldAllow(r.category)) withheld.push({ id: r.id, reason: d.reason });
        else outside++;
        continue;
      }
      const key = await this.#keyFor(subjectId, r.payload_enc, current);
      if (!key) {
        refused.push({ id: r.id, reason: 'erased' });
        withheld.push({ id: r.id, reason: 'erased' });
        continue;
      }
      const e = this.#filterEvent(r, decryptJson(key, subjectId, `event:${r.id}`, r.payload_enc) as Json, view);
      for (const f of e.returned) returnedFields.add(f);
      for (const w of e.refused) fieldsWithheld.push(w);
      events.push(e.view);
    }
    const nextCursor = rows.length === page.limit ? rows[rows.length - 1]!.id : null;
    await this.#audit.append({
      actor: caller.tokenId,
      action: 'profile.events',
      purpose,
      subjectId,
      fields: [...returnedFields].sort(),
      counts: { events: events.length, withheldEvents: refused.length, withheldFields: fieldsWithheld.length },
      outcome: 'ok',
      details: { role: caller.role, withheld: withheldDetail([...refused, ...fieldsWithheld]), cursor: page.cursor },
    });
    return { subjectId, events, withheld, withheldOutsidePurpose: outside, nextCursor };
  }

  /**
   * Keeps the payload fields the view allows; `fields` (written at collection) names each kept field's category.
   * `refused` is every field not kept (for the audit log); the event names only those of the purpose's categories.
   */
  #filterEvent(r: EventsTable, payload: Json, view: PurposeView): { view: EventView; returned: string[]; refused: Withheld[] } {
    const categories = (payload.fields ?? {}) as Record<string, string>;
    const cat = (path: string): string => (Object.hasOwn(categories, path) ? categories[path]! : UNCLASSIFIED);
    const properties = dict();
    const context = dict();
    const withheld: Withheld[] = [];
    const refused: Withheld[] = [];
    let outside = 0;
    const returned: string[] = [];
    const keep = (path: string): boolean => {
      const category = cat(path);
      const d = view.decide(category);
      if (d.allow) returned.push(path);
      else {
        refused.push({ field: path, reason: d.reason });
        if (view.couldAllow(category)) withheld.push({ field: path, reason: d.reason });
        else outside++;
      }
      return d.allow;
    };
    for (const [name, value] of Object.entries((payload.properties ?? {}) as Json)) {
      if (keep(`properties.${name}`)) properties[name] = value;
    }
    for (const [key, value] of Object.entries((payload.context ?? {}) as Json)) {
      // Objects were classified member by member at collection (see domain/collection.ts).
      if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const kept = dict();
        for (const [sub, v] of Object.entries(value as Json)) if (keep(`context.${key}.${sub}`)) kept[sub] = v;
        if (Object.keys(kept).length > 0) context[key] = kept;
      } else if (keep(`context.${key}`)) context[key] = value;
    }
    if (typeof payload.groupId === 'string') {
      properties.groupId = payload.groupId;
      returned.push('groupId');
    }
    return {
      view: {
        id: r.id, messageId: r.message_id, type: r.type, event: r.event_name, timestamp: new Date(Number(r.timestamp)).toISOString(),
        properties, context, withheld, withheldOutsidePurpose: outside,
      },
      returned,
      refused,
    };
  }

  /** Waits for pending audit appends (shutdown). */
  async close(): Promise<void> {
    await this.#audit.flush();
  }
}
