// Between a stored breach and what the API and the documents see: facts decoded from the row, the patch a change makes, and the staff view with its 72-hour clock.
import {
  breachClock,
  encryptionExemption,
  missingItems,
  type BreachContact,
  type BreachFacts,
  type BreachNature,
  type BreachStatus,
  type EncryptionState,
  type LocalizedText,
  type NotRequiredReason,
} from '../../domain/breach.ts';
import type { BreachHistoryTable, BreachesTable } from '../../store/schema.ts';

/** The facts a caller gives when recording or changing a breach (times in epoch ms). */
export type BreachInput = Omit<BreachFacts, 'contact'> & { contact?: BreachContact | undefined };

const JSON_FIELDS = {
  nature: 'nature',
  description: 'description',
  categories: 'categories',
  consequences: 'consequences',
  measuresTaken: 'measures_taken',
  measuresProposed: 'measures_proposed',
  adviceToSubjects: 'advice',
  contact: 'contact',
} as const;
const PLAIN_FIELDS = { approxSubjects: 'approx_subjects', approxRecords: 'approx_records', encryption: 'encryption', awareAt: 'aware_at', occurredAt: 'occurred_at' } as const;

export type FactField = keyof BreachFacts;
export const FACT_FIELDS = [...Object.keys(JSON_FIELDS), ...Object.keys(PLAIN_FIELDS)] as FactField[];

const parse = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T));

export function factsOf(row: BreachesTable): BreachFacts {
  return {
    nature: parse<BreachNature[]>(row.nature) ?? [],
    description: parse<LocalizedText>(row.description) ?? {},
    categories: parse<string[]>(row.categories) ?? [],
    approxSubjects: row.approx_subjects,
    approxRecords: row.approx_records,
    consequences: parse<LocalizedText>(row.consequences),
    measuresTaken: parse<LocalizedText>(row.measures_taken),
    measuresProposed: parse<LocalizedText>(row.measures_proposed),
    adviceToSubjects: parse<LocalizedText>(row.advice),
    encryption: row.encryption as EncryptionState,
    contact: parse<BreachContact>(row.contact) ?? { name: '', email: '' },
    awareAt: row.aware_at,
    occurredAt: row.occurred_at,
  };
}

/** The columns of these facts, as stored. */
export function columnsOf(facts: Partial<BreachFacts>): Partial<BreachesTable> {
  const out: Record<string, unknown> = {};
  for (const [field, column] of Object.entries(JSON_FIELDS)) {
    const v = facts[field as keyof typeof JSON_FIELDS];
    if (v !== undefined) out[column] = v === null ? null : JSON.stringify(v);
  }
  for (const [field, column] of Object.entries(PLAIN_FIELDS)) {
    const v = facts[field as keyof typeof PLAIN_FIELDS];
    if (v !== undefined) out[column] = v;
  }
  return out as Partial<BreachesTable>;
}

/** The fields a patch really changes, with their values before. */
export function changedFields(row: BreachesTable, patch: Partial<BreachFacts>): { fields: FactField[]; previous: Partial<BreachFacts> } {
  const before = factsOf(row);
  const fields: FactField[] = [];
  const previous: Record<string, unknown> = {};
  for (const field of FACT_FIELDS) {
    const next = patch[field];
    if (next === undefined) continue;
    if (JSON.stringify(next) === JSON.stringify(before[field])) continue;
    fields.push(field);
    previous[field] = before[field];
  }
  return { fields, previous: previous as Partial<BreachFacts> };
}

export interface BreachHistoryView {
  at: string;
  actor: string;
  action: string;
  status: string;
  fields: string[];
  previous: Record<string, unknown> | null;
  note: string | null;
}

export interface BreachView extends Omit<BreachFacts, 'awareAt' | 'occurredAt'> {
  id: string;
  status: BreachStatus;
  awareAt: string;
  occurredAt: string | null;
  clock: { deadline: string; running: boolean; remainingMs: number | null; overdue: boolean; notifiedLate: boolean | null };
  authority: { notifiedAt: string | null; reference: string | null; delayReason: LocalizedText | null };
  /** What encryption means for telling the people concerned (Art. 34(3)(a)). */
  encryptionExemption: 'may_apply' | 'does_not_apply' | 'to_assess';
  notRequiredReason: NotRequiredReason | null;
  /** Items of Art. 33(3) still unknown: they follow in phases (Art. 33(4)). */
  missing: string[];
  subjects: { named: number; notified: number; notifiedAt: string | null; byOutcome?: Record<string, number> };
  createdBy: string;
  createdAt: string;
  updatedAt: string;
  closedAt: string | null;
  history?: BreachHistoryView[];
}

const iso = (t: number | null): string | null => (t === null ? null : new Date(t).toISOString());

export function breachView(row: BreachesTable, now: number, named: number): BreachView {
  const facts = factsOf(row);
  const status = row.status as BreachStatus;
  const clock = breachClock(status, row.aware_at, row.authority_notified_at, now);
  return {
    id: row.id,
    status,
    ...facts,
    awareAt: iso(row.aware_at)!,
    occurredAt: iso(row.occurred_at),
    clock: { ...clock, deadline: iso(clock.deadline)! },
    authority: { notifiedAt: iso(row.authority_notified_at), reference: row.authority_reference, delayReason: parse<LocalizedText>(row.delay_reason) },
    encryptionExemption: encryptionExemption(facts.encryption),
    notRequiredReason: row.not_required_reason as NotRequiredReason | null,
    missing: missingItems(facts),
    subjects: { named, notified: row.subjects_notified, notifiedAt: iso(row.subjects_notified_at) },
    createdBy: row.created_by,
    createdAt: iso(row.created_at)!,
    updatedAt: iso(row.updated_at)!,
    closedAt: iso(row.closed_at),
  };
}

export function historyView(h: BreachHistoryTable): BreachHistoryView {
  return { at: iso(h.at)!, actor: h.actor, action: h.action, status: h.status, fields: JSON.parse(h.fields) as string[], previous: parse<Record<string, unknown>>(h.previous), note: h.note };
}
