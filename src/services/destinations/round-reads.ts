// What one delivery round reads, fetched up front for all its rows: the people's states, the events, the traits and
// the identifiers, a few statements per round instead of a few per delivery. Whatever the prefetch did not cover (a
// person merged into another since the row was queued) is read on demand.
import type { DeliveryRow } from '../../store/delivery-repo.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { EventsTable, IdentitiesTable, TraitsTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import { SubjectStateRepo, type StoredSubjectState } from '../../store/subject-state-repo.ts';

const CHUNK = 500;

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

function groupBy<T extends { subject_id: string }>(rows: readonly T[], into: Map<string, T[]>, subjects: readonly string[]): void {
  for (const s of subjects) into.set(s, []);
  for (const r of rows) into.get(r.subject_id)?.push(r);
}

export class RoundReads {
  readonly #states = new Map<string, StoredSubjectState | null>();
  readonly #events = new Map<string, EventsTable | null>();
  readonly #traits = new Map<string, TraitsTable[]>();
  readonly #identities = new Map<string, IdentitiesTable[]>();

  constructor(private readonly db: DataScope) {}

  /** Reads what `rows` will need; `identities`: whether any destination may receive an identifier at all. */
  async prefetch(rows: readonly DeliveryRow[], identities: boolean): Promise<void> {
    const subjects = [...new Set(rows.filter((r) => r.kind !== 'mail').map((r) => r.subject_id))];
    for (const part of chunks(subjects)) {
      const found = await new SubjectStateRepo(this.db).statesOf(part);
      for (const s of part) this.#states.set(s, found.get(s) ?? null);
    }
    const live = new Set(subjects.filter((s) => { const st = this.#states.get(s); return st && !st.mergedInto && st.erasedAt === null; }));
    const eventRows = rows.filter((r) => r.kind === 'event' && live.has(r.subject_id));
    for (const part of chunks(eventRows)) {
      const found = await new EventRepo(this.db).eventsOfSubjects([...new Set(part.map((r) => r.subject_id))], part.map((r) => r.ref));
      const byId = new Map(found.map((e) => [e.id, e]));
      for (const r of part) this.#events.set(r.ref, byId.get(r.ref) ?? null);
    }
    const traitSubjects = [...new Set(rows.filter((r) => (r.kind === 'identify' || r.kind === 'notice') && live.has(r.subject_id)).map((r) => r.subject_id))];
    for (const part of chunks(traitSubjects)) groupBy(await new ProfileRepo(this.db).traitsOfSubjects(part), this.#traits, part);
    if (!identities) return;
    const idSubjects = [...new Set(rows.filter((r) => (r.kind === 'event' || r.kind === 'identify') && live.has(r.subject_id)).map((r) => r.subject_id))];
    for (const part of chunks(idSubjects)) groupBy(await new ProfileRepo(this.db).identitiesOfSubjects(part), this.#identities, part);
  }

  async state(subjectId: string): Promise<StoredSubjectState | null> {
    if (this.#states.has(subjectId)) return this.#states.get(subjectId)!;
    const s = await new SubjectStateRepo(this.db).stateOf(subjectId);
    this.#states.set(subjectId, s);
    return s;
  }

  async event(subjectId: string, id: string): Promise<EventsTable | null> {
    const e = this.#events.get(id);
    // Prefetched under the row's subject; after a merge the event sits under the survivor.
    if (e !== undefined && (e === null || e.subject_id === subjectId)) return e;
    const [found] = await new EventRepo(this.db).eventsByIds(subjectId, [id]);
    return found ?? null;
  }

  async traits(subjectId: string): Promise<TraitsTable[]> {
    return this.#traits.get(subjectId) ?? new ProfileRepo(this.db).traitsOf(subjectId);
  }

  async identities(subjectId: string): Promise<IdentitiesTable[]> {
    return this.#identities.get(subjectId) ?? new ProfileRepo(this.db).identitiesOf(subjectId);
  }
}
