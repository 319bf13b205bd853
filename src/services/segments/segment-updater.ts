// Brings the segment state of a set of subjects up to date inside one transaction: fold new events, rebuild what is
// missing from stored events, drop what a purpose may no longer use, re-evaluate, and write memberships and state.
import type { DataScope } from '../../store/scope.ts';
import { ciphertextKeyVersion, decryptJson, encryptJson } from '../../crypto/envelope.ts';
import type { ConsentStatus } from '../../domain/consent.ts';
import { PolicyEngine, type PolicyCaller, type PurposeView, type SubjectConsent, type SubjectState } from '../../domain/policy.ts';
import { applyEvent, dayOf, DAY_MS, firstDay, needsPayload, prune, type AggregateSpec, type EventFact, type SpecState } from '../../domain/segment-aggregates.ts';
import type { Json, JsonObject } from '../../domain/segment-message.ts';
import type { CompiledDefinition } from '../../domain/segments.ts';
import { SegmentRepo, type StoredPolicyState } from '../../store/segment-repo.ts';
import type { DataKey, KeyRing } from '../keys/keyring.ts';

/** Fiducia's own processing: acts for every purpose, never reads one profile for a person. */
export const SYSTEM_CALLER: PolicyCaller = Object.freeze({ role: 'system', purposes: [] });
/** AAD field of the state ciphertext. */
export const STATE_FIELD = 'segments:state';

/** The state blob: spec id → its aggregate state. A spec present (even `{}`) is maintained; absent means "rebuild". */
export interface StateBlob {
  v: 1;
  s: Record<string, SpecState>;
}

/** The definitions in force, indexed the ways the updater and the observer look them up. */
export interface Catalogue {
  defs: ReadonlyMap<string, CompiledDefinition>;
  specs: ReadonlyMap<string, AggregateSpec>;
  /** Event name → specs reading it. */
  byEvent: ReadonlyMap<string, readonly AggregateSpec[]>;
  /** Spec id → keys of the definitions using it. */
  specDefs: ReadonlyMap<string, readonly string[]>;
  /** Trait name → keys of the definitions testing it. */
  byTrait: ReadonlyMap<string, readonly string[]>;
  /** Purpose → keys of its definitions. */
  byPurpose: ReadonlyMap<string, readonly string[]>;
}

export function buildCatalogue(defs: readonly CompiledDefinition[]): Catalogue {
  const push = <K, V>(m: Map<K, V[]>, k: K, v: V) => {
    const l = m.get(k);
    if (!l) m.set(k, [v]);
    else if (!l.includes(v)) l.push(v);
  };
  const specs = new Map<string, AggregateSpec>();
  const byEvent = new Map<string, AggregateSpec[]>();
  const specDefs = new Map<string, string[]>();
  const byTrait = new Map<string, string[]>();
  const byPurpose = new Map<string, string[]>();
  for (const d of defs) {
    const key = d.definition.key;
    push(byPurpose, d.definition.purpose, key);
    for (const t of d.traits) push(byTrait, t, key);
    for (const s of d.specs) {
      if (!specs.has(s.id)) push(byEvent, s.event, s);
      specs.set(s.id, s);
      push(specDefs, s.id, key);
    }
  }
  return { defs: new Map(defs.map((d) => [d.definition.key, d])), specs, byEvent, specDefs, byTrait, byPurpose };
}

/** What to do for one subject. */
export interface SubjectWork {
  /** Events of this commit to fold into aggregates already maintained. */
  events: EventFact[];
  /** Definitions to re-evaluate. */
  defs: Set<string>;
  /** Created in this commit: its stored history is exactly `events`, so nothing needs reading back. */
  fresh: boolean;
  /** Specs to rebuild from stored events whatever the state holds (`all`: every spec of `defs`). */
  rebuild: 'all' | 'missing' | ReadonlySet<string>;
}

export function newWork(fresh = false): SubjectWork {
  return { events: [], defs: new Set(), fresh, rebuild: 'missing' };
}

export interface UpdaterDeps {
  ring: KeyRing;
  policy: PolicyEngine;
}

export interface UpdateResult {
  entered: number;
  left: number;
}

export function toSubjectState(s: StoredPolicyState): SubjectState {
  const consents = new Map<string, SubjectConsent>();
  for (const c of s.consents) {
    consents.set(c.purpose, { purpose: c.purpose, status: c.status as ConsentStatus, noticeVersion: c.notice_version, method: c.method, at: c.at, explicit: c.explicit });
  }
  return { consents, restricted: s.restricted, erased: s.erased, objections: new Set(s.objections) };
}

/** Whether a purpose may use anything of the subject now (basis, restriction, erasure). */
export function purposeOpen(view: PurposeView): boolean {
  return view.blocked === null && view.basis.allow;
}

export function decodeState(key: Buffer, subjectId: string, blob: Buffer | null | undefined): StateBlob {
  if (!blob || blob.length === 0) return { v: 1, s: {} };
  return decryptJson(key, subjectId, STATE_FIELD, blob) as StateBlob;
}

/** One pass over `work` (any number of subjects) inside transaction `db`, evaluated at `now`. */
export async function updateSubjects(db: DataScope, deps: UpdaterDeps, cat: Catalogue, work: ReadonlyMap<string, SubjectWork>, now: number): Promise<UpdateResult> {
  const repo = new SegmentRepo(db);
  const today = dayOf(now);
  const result: UpdateResult = { entered: 0, left: 0 };
  const subjects = [...work.keys()].sort();
  if (subjects.length === 0) return result;

  const { blobs, stored, keys, live } = await lockAndRead(repo, deps, work, subjects, now);
  if (live.length === 0) return result;
  const members = await currentMemberships(repo, live.filter((s) => !work.get(s)!.fresh));

  const ctxs = new Map<string, SubjectCtx>();
  for (const subjectId of live) {
    const c = new SubjectCtx(keys.get(subjectId)!, toSubjectState(stored.get(subjectId)!), deps.policy);
    c.state = decodeState(c.key.key, subjectId, blobs.get(subjectId));
    ctxs.set(subjectId, c);
    foldWork(c, work.get(subjectId)!, cat, today);
  }
  await rebuildFromHistory(repo, deps, ctxs, today, (c, purpose) => c.seeFor(purpose));
  const traits = await visibleTraits(repo, deps, cat, work, ctxs);

  const writes: Writes = { add: [], remove: [], states: [], empty: [] };
  for (const [subjectId, c] of ctxs) {
    const facts = factsOf(c, traits.get(subjectId), today);
    evaluateMemberships(subjectId, c, work.get(subjectId)!.defs, members.get(subjectId) ?? new Set<string>(), cat, facts, now, writes);
    for (const [id, st] of Object.entries(c.state.s)) {
      const spec = cat.specs.get(id);
      if (spec && prune(st, spec, today)) c.changed = true;
    }
    if (!c.changed && (blobs.get(subjectId)?.length ?? 0) > 0) continue;
    if (Object.keys(c.state.s).length === 0) writes.empty.push(subjectId);
    else writes.states.push({ subject_id: subjectId, state_enc: encryptJson(c.key.key, c.key.version, subjectId, STATE_FIELD, c.state), updated_at: now });
  }
  await repo.addMembers(writes.add);
  await repo.removeMembers(writes.remove);
  await repo.upsertStates(writes.states);
  // Placeholders (PostgreSQL) and states that emptied leave no row behind.
  const drop = writes.empty.filter((s) => blobs.has(s));
  if (drop.length > 0) await repo.deleteStates(drop);
  result.entered = writes.add.length;
  result.left = writes.remove.length;
  return result;
}

/** One live subject in a pass: its key, its decoded state and whether it changed, and each purpose's view of it. */
class SubjectCtx {
  state: StateBlob = { v: 1, s: {} };
  changed = false;
  /** Specs to rebuild from stored events. */
  readonly rebuild: AggregateSpec[] = [];
  /** Decided once per purpose and pass. */
  readonly #views = new Map<string, PurposeView>();

  constructor(
    readonly key: DataKey,
    private readonly subject: SubjectState,
    private readonly policy: PolicyEngine,
  ) {}

  view(purpose: string): PurposeView {
    let v = this.#views.get(purpose);
    if (!v) this.#views.set(purpose, (v = this.policy.view(purpose, this.subject, SYSTEM_CALLER)));
    return v;
  }

  /** Whether the purpose may see data of a category. */
  seeFor(purpose: string): (category: string) => boolean {
    return (category) => this.view(purpose).decide(category).allow;
  }
}

/** What a pass writes: memberships entered and left, states to store, subjects whose state is now empty. */
interface Writes {
  add: { segment_id: string; subject_id: string; since: number }[];
  remove: { segment_id: string; subject_id: string }[];
  states: { subject_id: string; state_enc: Buffer; updated_at: number }[];
  empty: string[];
}

/**
 * Locks first: consents, events and memberships are then read as the last writer of these subjects left them. Subjects
 * created in this commit are invisible to everyone else until it commits: no row, no lock, no membership. Subjects
 * merged away, erased or gone are forgotten; the rest are `live` (in the order of `subjects`).
 */
async function lockAndRead(repo: SegmentRepo, deps: UpdaterDeps, work: ReadonlyMap<string, SubjectWork>, subjects: readonly string[], now: number) {
  const known = subjects.filter((s) => !work.get(s)!.fresh);
  const blobs = await repo.lockStates(known, now);
  const stored = await repo.policyStates(subjects);
  const keys = await deps.ring.currentKeys(subjects.filter((s) => stored.has(s)));
  // Merged away, erased or gone: nothing of theirs is kept.
  const gone = subjects.filter((s) => !keys.has(s) || stored.get(s)!.erased);
  if (gone.length > 0) await repo.forget(gone);
  const live = subjects.filter((s) => keys.has(s) && !stored.get(s)!.erased);
  return { blobs, stored, keys, live };
}

/** Subject → the segments it is a member of. */
async function currentMemberships(repo: SegmentRepo, subjectIds: readonly string[]): Promise<Map<string, Set<string>>> {
  const members = new Map<string, Set<string>>();
  for (const m of await repo.membershipsOfMany(subjectIds)) {
    let set = members.get(m.subject_id);
    if (!set) members.set(m.subject_id, (set = new Set()));
    set.add(m.segment_id);
  }
  return members;
}

/**
 * Drops from the state what a purpose may no longer use (or a deleted definition no longer needs); then, for each spec
 * of the definitions asked for, folds the commit's events into it or marks it to be rebuilt from stored events.
 */
function foldWork(c: SubjectCtx, w: SubjectWork, cat: Catalogue, today: number): void {
  // Dropped, not kept aside.
  for (const id of Object.keys(c.state.s)) {
    const spec = cat.specs.get(id);
    if (!spec || !purposeOpen(c.view(spec.purpose))) {
      delete c.state.s[id];
      c.changed = true;
    }
  }
  const done = new Set<string>();
  for (const key of w.defs) {
    const def = cat.defs.get(key);
    if (!def || !purposeOpen(c.view(def.definition.purpose))) continue;
    for (const spec of def.specs) {
      if (done.has(spec.id)) continue;
      done.add(spec.id);
      const present = Object.hasOwn(c.state.s, spec.id);
      const rebuild = w.rebuild === 'all' || (w.rebuild instanceof Set && w.rebuild.has(spec.id)) || (!present && !w.fresh);
      if (rebuild) {
        c.state.s[spec.id] = {};
        c.rebuild.push(spec);
        c.changed = true;
        continue;
      }
      const st = (c.state.s[spec.id] ??= {});
      if (!present) c.changed = true;
      const see = c.seeFor(spec.purpose);
      for (const ev of w.events) if (applyEvent(st, spec, ev, see, today)) c.changed = true;
    }
  }
}

type TraitValues = Map<string, { category: string; value: Json }>;

/** Trait values (subject → name → value), decrypted only for definitions that test them and only where their purpose may see them. */
async function visibleTraits(repo: SegmentRepo, deps: UpdaterDeps, cat: Catalogue, work: ReadonlyMap<string, SubjectWork>, ctxs: ReadonlyMap<string, SubjectCtx>): Promise<Map<string, TraitValues>> {
  const wanted = new Map<string, Set<string>>();
  for (const [s, c] of ctxs) {
    for (const k of work.get(s)!.defs) {
      const def = cat.defs.get(k);
      if (!def || def.traits.length === 0 || !purposeOpen(c.view(def.definition.purpose))) continue;
      for (const t of def.traits) wanted.set(t, (wanted.get(t) ?? new Set()).add(def.definition.purpose));
    }
  }
  const traits = new Map<string, TraitValues>();
  for (const r of await repo.traitsOf([...ctxs.keys()], [...wanted.keys()])) {
    const c = ctxs.get(r.subject_id)!;
    if (![...(wanted.get(r.name) ?? [])].some((p) => c.view(p).decide(r.category).allow)) continue;
    const blob = Buffer.from(r.value_enc);
    const version = ciphertextKeyVersion(blob);
    const key = version === c.key.version ? c.key.key : await deps.ring.keyVersion(r.subject_id, version);
    if (!key) continue;
    let m = traits.get(r.subject_id);
    if (!m) traits.set(r.subject_id, (m = new Map()));
    m.set(r.name, { category: r.category, value: decryptJson(key, r.subject_id, `trait:${r.name}`, blob) as Json });
  }
  return traits;
}

/** What a definition of `purpose` sees of the subject: its aggregate states, and the trait values the purpose may see. */
function factsOf(c: SubjectCtx, traits: TraitValues | undefined, today: number) {
  return (purpose: string) => ({
    today,
    state: (id: string) => c.state.s[id],
    trait: (name: string): Json | undefined => {
      const t = traits?.get(name);
      return t && c.view(purpose).decide(t.category).allow ? t.value : undefined;
    },
  });
}

/**
 * Re-evaluates the segments asked for, and the current memberships too: one whose purpose closed, or whose definition
 * went, is removed. Adds what changed to `writes`.
 */
function evaluateMemberships(
  subjectId: string,
  c: SubjectCtx,
  asked: ReadonlySet<string>,
  current: ReadonlySet<string>,
  cat: Catalogue,
  facts: ReturnType<typeof factsOf>,
  now: number,
  writes: Writes,
): void {
  for (const key of new Set([...asked, ...current])) {
    const def = cat.defs.get(key);
    if (def && def.kind !== 'segment') continue;
    const open = def !== undefined && purposeOpen(c.view(def.definition.purpose));
    // Not asked for and still open: its aggregates were not brought up to date in this pass, so it stays as it is.
    if (def && open && !asked.has(key)) continue;
    const inside = def !== undefined && open && def.evaluate(facts(def.definition.purpose)) === true;
    if (inside && !current.has(key)) writes.add.push({ segment_id: key, subject_id: subjectId, since: now });
    else if (!inside && current.has(key)) writes.remove.push({ segment_id: key, subject_id: subjectId });
  }
}

/** Reads back, once for all subjects, the stored events the specs to rebuild need: envelopes always, payloads only where read. */
async function rebuildFromHistory<C extends { key: DataKey; state: StateBlob; rebuild: AggregateSpec[] }>(
  repo: SegmentRepo,
  deps: UpdaterDeps,
  ctxs: ReadonlyMap<string, C>,
  today: number,
  seeFor: (c: C, purpose: string) => (category: string) => boolean,
): Promise<void> {
  const subjects = [...ctxs].filter(([, c]) => c.rebuild.length > 0).map(([s]) => s);
  if (subjects.length === 0) return;
  const withPayload = new Set<string>();
  const envelopeOnly = new Set<string>();
  let from = Infinity;
  for (const s of subjects) {
    for (const spec of ctxs.get(s)!.rebuild) {
      (needsPayload(spec) ? withPayload : envelopeOnly).add(spec.event);
      from = Math.min(from, firstDay(today, spec.withinDays) * DAY_MS);
    }
  }
  for (const n of withPayload) envelopeOnly.delete(n);
  const rows = [
    ...(await repo.eventsInWindow(subjects, [...withPayload], from, true)),
    ...(await repo.eventsInWindow(subjects, [...envelopeOnly], from, false)),
  ];
  for (const r of rows) {
    const c = ctxs.get(r.subject_id);
    if (!c || r.event_name === null) continue;
    const specs = c.rebuild.filter((s) => s.event === r.event_name);
    if (specs.length === 0) continue;
    let payload: JsonObject | null = null;
    if (r.payload_enc && specs.some(needsPayload)) {
      const blob = Buffer.from(r.payload_enc);
      const version = ciphertextKeyVersion(blob);
      const key = version === c.key.version ? c.key.key : await deps.ring.keyVersion(r.subject_id, version);
      if (!key) continue;
      payload = decryptJson(key, r.subject_id, `event:${r.id}`, blob) as JsonObject;
    }
    const ev: EventFact = { id: r.id, name: r.event_name, timestamp: r.timestamp, category: r.category, payload };
    for (const spec of specs) applyEvent(c.state.s[spec.id]!, spec, ev, seeFor(c, spec.purpose), today);
  }
}
