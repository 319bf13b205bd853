// The subjects a principal was shown, from the audit log: which pseudonymous subject ids it read or exported and when,
// and the segment member pages it listed. Paged by audit index, each page one bounded range of the actor's entries.
import { entryFromRow } from '../audit/audit-log.ts';
import { AuditRepo } from '../../store/audit-repo.ts';
import type { DataScope } from '../../store/scope.ts';

/** Audit actions that show one subject's personal data to their actor (the entry names the subject). */
export const DISCLOSING_ACTIONS: readonly string[] = ['profile.read', 'profile.events', 'rights.package.read'];
/** Audit actions that show many subjects' pseudonymous ids (the entry names the page, not each subject). */
export const LISTING_ACTIONS: readonly string[] = ['segment.members'];

export interface SubjectRead {
  subjectId: string;
  /** Entries of this page that disclosed the subject, by action. */
  reads: Record<string, number>;
  firstAt: string;
  lastAt: string;
}

export interface SegmentPageRead {
  segment: string;
  purpose: string | null;
  /** The page held the segment's members with ids after `after` (null: from the first) up to `through`, in id order. */
  after: string | null;
  through: string | null;
  members: number;
  at: string;
}

export interface SubjectsReadPage {
  principal: string;
  since: string;
  /** Distinct within this page; a subject read again later may appear on a later page too. */
  subjects: SubjectRead[];
  segmentPages: SegmentPageRead[];
  /** Audit entries this page covered. */
  entries: number;
  /** Pass as `cursor` for the next page; null at the end. */
  next: string | null;
}

const str = (v: unknown): string | null => (typeof v === 'string' ? v : null);

export async function subjectsRead(db: DataScope, principal: string, since: number, cursor: number | null, limit: number): Promise<SubjectsReadPage> {
  const repo = new AuditRepo(db);
  const from = await repo.firstIndexAtOrAfter(since);
  const rows = await repo.entriesOfActor(principal, [...DISCLOSING_ACTIONS, ...LISTING_ACTIONS], from, cursor, limit);
  const subjects = new Map<string, SubjectRead>();
  const segmentPages: SegmentPageRead[] = [];
  for (const row of rows) {
    const e = entryFromRow(row);
    const at = new Date(e.at).toISOString();
    if (e.outcome !== 'ok') continue;
    if (LISTING_ACTIONS.includes(e.action)) {
      segmentPages.push({ segment: str(e.details.segment) ?? '', purpose: e.purpose, after: str(e.details.cursor), through: str(e.details.through), members: e.counts.returned ?? 0, at });
      continue;
    }
    if (!e.subjectId) continue;
    let s = subjects.get(e.subjectId);
    if (!s) subjects.set(e.subjectId, (s = { subjectId: e.subjectId, reads: {}, firstAt: at, lastAt: at }));
    s.reads[e.action] = (s.reads[e.action] ?? 0) + 1;
    s.lastAt = at;
  }
  const last = rows[rows.length - 1];
  return {
    principal,
    since: new Date(since).toISOString(),
    subjects: [...subjects.values()],
    segmentPages,
    entries: rows.length,
    next: rows.length === limit && last ? String(last.idx) : null,
  };
}
