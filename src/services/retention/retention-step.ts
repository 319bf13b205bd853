// One transaction of the retention sweep: a run of a page's subjects, locked together, their states read in one query
// per table, their rows read, decided (src/domain/retention.ts), deleted and aggregated, the subjects left empty erased
// and the others' segment state rebuilt, all with a number of statements that does not grow with the subjects.
import { aggregateDay, rowKept, subjectWorthKeeping, type DropReason, type RetentionRules } from '../../domain/retention.ts';
import type { SubjectState } from '../../domain/policy.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { EventRepo, type RetentionEventRow } from '../../store/event-repo.ts';
import { ProfileRepo, type RetentionTraitRow } from '../../store/profile-repo.ts';
import { RetentionRepo } from '../../store/retention-repo.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { RetentionAggregatesTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import { policyStateOf, SubjectStateRepo } from '../../store/subject-state-repo.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { RetentionDeps, RetentionReport } from './retention-sweep.ts';

/**
 * Rows one transaction reads of each table (events, traits). A subject whose rows go past them is finished in further
 * transactions of its own; the subjects after it in the page wait for the next transaction.
 */
export const EVENT_ROWS = 2_000;
export const TRAIT_ROWS = 2_000;

/** Where a subject's rows of one table stand between two transactions: read up to `after` (null: none yet), or all. */
export type RowCursor = { after: string | null } | 'done';

/** A subject whose rows did not fit in one transaction, and what the transactions before saw of it. */
export interface Resume {
  subjectId: string;
  events: RowCursor;
  traits: RowCursor;
  /** Some of its events were deleted: its segment state is rebuilt when it is finished. */
  lostEvents: boolean;
  /** Some of its rows were kept: it is not left empty. */
  keptRows: boolean;
}

export interface StepOutcome {
  /** What this transaction did (`subjectsChecked`: the subjects it finished); added to the report once it commits. */
  counts: RetentionReport;
  /** The subject this transaction stopped in, if any: it goes on alone; the subjects after it were not finished. */
  resume: Resume | null;
  /** Subjects (and subjects merged into them) erased here, their keys destroyed: purged from the keystore at the end. */
  destroyed: string[];
  /** Subjects that lost traits: dropped from the read cache once this transaction commits. */
  traitsLost: string[];
}

export interface StepContext {
  rules: RetentionRules;
  aggregates: boolean;
  ring: Pick<KeyRing, 'destroyAll'>;
  segments: RetentionDeps['segments'];
  now: number;
  /** Rows read per table and transaction. */
  rows: { events: number; traits: number };
}

/** A subject as the sweep sees it under its lock: its state, or `gone` (erased or merged meanwhile), `held` (legal hold, restriction). */
type Verdict = SubjectState | 'gone' | 'held';

export function emptyReport(): RetentionReport {
  return { subjectsChecked: 0, subjectsHeld: 0, eventsDeleted: 0, traitsDeleted: 0, expired: 0, basisLost: 0, purposeRemoved: 0, eventsAggregated: 0, subjectsErased: 0, interrupted: 0 };
}

/**
 * Runs one transaction's worth of the sweep on `subjects` (a page's, in id order, from the first not finished yet), or,
 * with `resume`, on that one subject's further rows. Pass the transaction.
 */
export async function sweepStep(trx: DataScope, ctx: StepContext, subjects: readonly string[], resume: Resume | null): Promise<StepOutcome> {
  const counts = emptyReport();
  const verdicts = await lockedVerdicts(trx, subjects);
  const live = subjects.filter((id) => typeof verdicts.get(id) === 'object');
  const read = await readRows(trx, ctx.rows, subjects, live, resume);
  const decided = decide(ctx, verdicts, read, counts);
  await deleteRows(trx, ctx, decided, counts);

  const finished = read.cut === null ? subjects : subjects.slice(0, subjects.indexOf(read.cut));
  counts.subjectsChecked = finished.length;
  counts.subjectsHeld = finished.filter((id) => verdicts.get(id) === 'held').length;
  const earlier = (id: string, what: 'lostEvents' | 'keptRows') => resume !== null && resume.subjectId === id && resume[what];
  const liveSet = new Set(live);
  const done = finished.filter((id) => liveSet.has(id));
  const empty = done.filter((id) => !decided.kept.has(id) && !earlier(id, 'keptRows'));
  const erased = await eraseEmpty(trx, ctx, empty, verdicts);
  counts.subjectsErased = erased.subjects.length;
  const gone = new Set(erased.subjects);
  const rebuild = done.filter((id) => (decided.lostEvents.has(id) || earlier(id, 'lostEvents')) && !gone.has(id));
  // The erased go through the rebuild too: it locks every state row it is given at once, in id order, and forgets
  // erased subjects (segment-updater.ts), so this transaction takes segment locks in one ordered pass. `forget` then
  // covers a configuration without segment definitions, where the rebuild does nothing.
  const segmentWork = [...rebuild, ...erased.keys];
  if (segmentWork.length > 0 && ctx.segments) await ctx.segments.rebuildSubjects(trx, segmentWork);
  if (erased.keys.length > 0) await ctx.segments?.forget(trx, erased.keys);
  // Last, before the commit, as an erasure request does: should the commit fail, what is left is unreadable.
  await ctx.ring.destroyAll(erased.keys);

  const cut = read.cut;
  const next: Resume | null =
    cut === null || read.next === null
      ? null
      : { subjectId: cut, ...read.next, lostEvents: decided.lostEvents.has(cut) || earlier(cut, 'lostEvents'), keptRows: decided.kept.has(cut) || earlier(cut, 'keptRows') };
  return { counts, resume: next, destroyed: erased.keys, traitsLost: [...decided.lostTraits] };
}

/** Locks the subjects (in id order, one statement) and reads their states and legal holds, one query per table. */
async function lockedVerdicts(trx: DataScope, subjects: readonly string[]): Promise<Map<string, Verdict>> {
  const locked = await new ProfileRepo(trx).lockSubjects(subjects, 'update');
  const present = locked.filter((r) => r.merged_into === null && r.erased_at === null).map((r) => r.id);
  const stored = await new SubjectStateRepo(trx).statesOf(present);
  const states = new Map<string, SubjectState>();
  for (const [id, s] of stored) if (s.mergedInto === null && s.erasedAt === null) states.set(id, policyStateOf(s));
  const holds = await new RightsRepo(trx).subjectsWithActiveHold([...states.keys()].filter((id) => !states.get(id)!.restricted));
  const out = new Map<string, Verdict>();
  for (const id of subjects) {
    const state = states.get(id);
    out.set(id, state === undefined ? 'gone' : state.restricted || holds.has(id) ? 'held' : state);
  }
  return out;
}

interface ReadRows {
  events: RetentionEventRow[];
  traits: RetentionTraitRow[];
  /** The first subject not read to its end in one of the tables (its rows up to there are in `events`/`traits`). */
  cut: string | null;
  /** Where the cut subject's rows stand. */
  next: Pick<Resume, 'events' | 'traits'> | null;
}

/** Rows past `limit` (one more is read): the first subject not read to its end, and its last row read, if any. */
function bounded<R extends { subject_id: string }>(rows: R[], limit: number, key: (r: R) => string): { rows: R[]; cut: string | null; after: string | null } {
  if (rows.length <= limit) return { rows, cut: null, after: null };
  const cut = rows[limit]!.subject_id;
  const last = rows[limit - 1]!;
  return { rows: rows.slice(0, limit), cut, after: last.subject_id === cut ? key(last) : null };
}

/**
 * The live subjects' events, then their traits (up to the events' cut), each in one bounded statement; rows of
 * subjects after the earlier of the two cuts are left for the next transaction.
 */
async function readRows(trx: DataScope, limits: StepContext['rows'], subjects: readonly string[], live: readonly string[], resume: Resume | null): Promise<ReadRows> {
  // Positions in the page, as the database orders ids (rows come in that order too).
  const position = new Map(subjects.map((id, i) => [id, i]));
  const at = (id: string) => position.get(id)!;
  const eventsAfter = resume && resume.events !== 'done' && resume.events.after !== null ? { subjectId: resume.subjectId, id: resume.events.after } : null;
  const events = bounded(resume?.events === 'done' ? [] : await new EventRepo(trx).retentionRows(live, eventsAfter, limits.events + 1), limits.events, (r) => r.id);
  const traitSubjects = events.cut === null ? live : live.filter((id) => at(id) <= at(events.cut!));
  const traitsAfter = resume && resume.traits !== 'done' && resume.traits.after !== null ? { subjectId: resume.subjectId, name: resume.traits.after } : null;
  const traits = bounded(resume?.traits === 'done' ? [] : await new ProfileRepo(trx).traitRetentionRows(traitSubjects, traitsAfter, limits.traits + 1), limits.traits, (r) => r.name);
  const cut = events.cut === null ? traits.cut : traits.cut === null || at(events.cut) <= at(traits.cut) ? events.cut : traits.cut;
  if (cut === null) return { events: events.rows, traits: traits.rows, cut: null, next: null };
  const within = (r: { subject_id: string }) => at(r.subject_id) <= at(cut);
  return {
    events: events.rows.filter(within),
    traits: traits.rows.filter(within),
    cut,
    // The table that stopped in the cut subject goes on from its last row; the other read all of its rows.
    next: { events: cut === events.cut ? { after: events.after } : 'done', traits: cut === traits.cut ? { after: traits.after } : 'done' },
  };
}

interface Decided {
  events: { subjectId: string; id: string }[];
  traits: { subjectId: string; name: string }[];
  aggregates: Map<string, RetentionAggregatesTable>;
  lostEvents: Set<string>;
  lostTraits: Set<string>;
  /** Subjects with a row kept. */
  kept: Set<string>;
}

const parsePurposes = (json: string): string[] => {
  const v = JSON.parse(json) as unknown;
  return Array.isArray(v) ? v.filter((p): p is string => typeof p === 'string') : [];
};

function countDrop(counts: RetentionReport, reason: DropReason): void {
  if (reason === 'expired') counts.expired++;
  else if (reason === 'basis_lost') counts.basisLost++;
  else counts.purposeRemoved++;
}

/** The keep rule on every row read, with its subject's state. */
function decide(ctx: StepContext, verdicts: ReadonlyMap<string, Verdict>, read: ReadRows, counts: RetentionReport): Decided {
  const out: Decided = { events: [], traits: [], aggregates: new Map(), lostEvents: new Set(), lostTraits: new Set(), kept: new Set() };
  const stateOf = (id: string) => verdicts.get(id) as SubjectState; // rows are read for live subjects only
  for (const r of read.events) {
    const purposes = parsePurposes(r.purposes);
    const d = rowKept(purposes, Number(r.received_at), stateOf(r.subject_id), ctx.now, ctx.rules);
    if (d.keep) {
      out.kept.add(r.subject_id);
      continue;
    }
    out.events.push({ subjectId: r.subject_id, id: r.id });
    out.lostEvents.add(r.subject_id);
    countDrop(counts, d.reason);
    if (ctx.aggregates) countAggregate(out.aggregates, r, purposes);
  }
  for (const r of read.traits) {
    const d = rowKept(parsePurposes(r.purposes), Number(r.updated_at), stateOf(r.subject_id), ctx.now, ctx.rules);
    if (d.keep) {
      out.kept.add(r.subject_id);
      continue;
    }
    out.traits.push({ subjectId: r.subject_id, name: r.name });
    out.lostTraits.add(r.subject_id);
    countDrop(counts, d.reason);
  }
  return out;
}

function countAggregate(counts: Map<string, RetentionAggregatesTable>, r: RetentionEventRow, purposes: readonly string[]): void {
  const day = aggregateDay(Number(r.timestamp));
  for (const purpose of purposes.length > 0 ? purposes : ['']) {
    const row = { day, purpose, type: r.type, event_name: r.event_name ?? '', count: 0 };
    const key = `${row.day}\u0000${row.purpose}\u0000${row.type}\u0000${row.event_name}`;
    const existing = counts.get(key) ?? row;
    existing.count++;
    counts.set(key, existing);
  }
}

/** Aggregates first (when kept), then the rows, one statement per table (per 500 keys). */
async function deleteRows(trx: DataScope, ctx: StepContext, decided: Decided, counts: RetentionReport): Promise<void> {
  if (decided.aggregates.size > 0) await new RetentionRepo(trx).add([...decided.aggregates.values()]);
  if (ctx.aggregates) counts.eventsAggregated = decided.events.length;
  counts.eventsDeleted = await new EventRepo(trx).deleteKeys(decided.events);
  counts.traitsDeleted = await new ProfileRepo(trx).deleteTraitKeys(decided.traits);
}

/**
 * Of `candidates` (finished, live, no row kept here), those with no events and no traits left and nothing worth keeping
 * (src/domain/retention.ts) are erased the way an erasure request erases: rows deleted here; their segment data is
 * forgotten and their keys (and those of subjects merged into them) destroyed by the caller before the commit.
 * Not suppressed: the person may come back. A subject with an access package in flight stays: its request decides.
 */
async function eraseEmpty(trx: DataScope, ctx: StepContext, candidates: readonly string[], verdicts: ReadonlyMap<string, Verdict>): Promise<{ subjects: string[]; keys: string[] }> {
  if (candidates.length === 0) return { subjects: [], keys: [] };
  const profiles = new ProfileRepo(trx);
  const withEvents = await new EventRepo(trx).subjectsWithEvents(candidates);
  const noEvents = candidates.filter((id) => !withEvents.has(id));
  const withTraits = noEvents.length > 0 ? await profiles.subjectsWithTraits(noEvents) : new Set<string>();
  const empty = noEvents.filter((id) => !withTraits.has(id));
  if (empty.length === 0) return { subjects: [], keys: [] };
  const asserted = await profiles.subjectsWithAssertedIdentity(empty);
  const unwanted = empty.filter((id) => !subjectWorthKeeping({ assertedIdentity: asserted.has(id), state: verdicts.get(id) as SubjectState }, ctx.now, ctx.rules));
  if (unwanted.length === 0) return { subjects: [], keys: [] };
  const erasure = new ErasureRepo(trx);
  const packages = await erasure.subjectsWithPackages(unwanted);
  const subjects = unwanted.filter((id) => !packages.has(id));
  if (subjects.length === 0) return { subjects: [], keys: [] };
  const merged = [...(await erasure.mergedIntoEach(subjects)).values()].flat();
  await erasure.deleteSubjectsRows(subjects, merged, ctx.now);
  return { subjects, keys: [...subjects, ...merged] };
}
