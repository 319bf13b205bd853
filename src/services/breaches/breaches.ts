// The breach register (GDPR Arts. 33–34): record, change and follow breaches against the 72-hour clock, with an
// append-only history and an audit entry for each step (field names and codes, never the texts), and the documents.
import { authorityNotice, checkTime, decideStatus, notificationDeadline, type BreachFacts, type BreachStatus, type LocalizedText, type NotRequiredReason } from '../../domain/breach.ts';
import { authorityNotification, subjectNotice, type BreachDocInput, type BreachDocument, type Lang } from '../../domain/breach-documents.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { BreachRepo } from '../../store/breach-repo.ts';
import type { BreachesTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditPort } from '../audit/audit-port.ts';
import { breachView, changedFields, columnsOf, factsOf, historyView, type BreachInput, type BreachView, type FactField } from './breach-view.ts';

export type { BreachInput, BreachView } from './breach-view.ts';

/** Every column a breach's facts fill (all of them, when the facts are complete). */
type FactColumns = Pick<
  BreachesTable,
  'nature' | 'description' | 'categories' | 'approx_subjects' | 'approx_records' | 'consequences' | 'measures_taken' | 'measures_proposed' | 'advice' | 'encryption' | 'contact' | 'aware_at' | 'occurred_at'
>;

export class BreachNotFoundError extends FiduciaError {
  constructor() {
    super('FIDUCIA_NOT_FOUND', 'no breach has this id');
    this.name = 'BreachNotFoundError';
  }
}

/** A step the breach's status does not allow (409). */
export class BreachStateError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_REQUEST_STATE', message);
    this.name = 'BreachStateError';
  }
}

/** Input the schema cannot judge alone: unknown categories, times out of order, a late notification without reasons. */
export class BreachInputError extends FiduciaError {
  constructor(code: 'FIDUCIA_VALIDATION' | 'FIDUCIA_DELAY_REASON_REQUIRED', message: string, details?: unknown) {
    super(code, message, details);
    this.name = 'BreachInputError';
  }
}

export interface BreachDeps {
  db: DataScope;
  cfg: CompiledConfig;
  audit: AuditPort;
  /** The register's clock (tests move it); default `Date.now`. */
  now?: (() => number) | undefined;
}

export interface AuthorityNoticeInput {
  /** When the authority was notified (default: now). */
  at?: number | undefined;
  reference?: string | undefined;
  delayReason?: LocalizedText | undefined;
  note?: string | undefined;
}

export interface ListQuery {
  status?: BreachStatus | undefined;
  limit: number;
  offset: number;
}

export class BreachService {
  readonly repo: BreachRepo;
  readonly now: () => number;
  constructor(readonly deps: BreachDeps) {
    this.repo = new BreachRepo(deps.db);
    this.now = deps.now ?? Date.now;
  }

  /** Categories must be the configuration's; times must not be in the future, and a breach occurs before it is known. */
  #check(facts: Partial<BreachFacts>, merged: { awareAt: number; occurredAt: number | null }): void {
    const unknown = (facts.categories ?? []).filter((c) => !this.deps.cfg.category(c));
    if (unknown.length > 0) throw new BreachInputError('FIDUCIA_VALIDATION', `unknown data categories: ${unknown.slice(0, 10).join(', ')}`, { categories: unknown.slice(0, 10) });
    const now = this.now();
    for (const [what, at] of [['awareAt', merged.awareAt], ['occurredAt', merged.occurredAt]] as const) {
      if (at === null) continue;
      const d = checkTime(at, now, what);
      if (!d.ok) throw new BreachInputError('FIDUCIA_VALIDATION', d.reason);
    }
    if (merged.occurredAt !== null && merged.occurredAt > merged.awareAt) throw new BreachInputError('FIDUCIA_VALIDATION', 'occurredAt cannot be after awareAt: a breach is known only once it has happened');
  }

  /** The DPO, or the controller's contact, from the configuration. */
  defaultContact(): BreachFacts['contact'] {
    const c = this.deps.cfg.config.controller;
    return c.dpo ? { name: 'DPO', email: c.dpo } : { name: c.name, email: c.contact };
  }

  async create(input: BreachInput, actor: string): Promise<BreachView> {
    const facts: BreachFacts = { ...input, contact: input.contact ?? this.defaultContact() };
    this.#check(facts, facts);
    const now = this.now();
    const id = uuidv7(now);
    const row: BreachesTable = {
      id,
      status: 'open',
      ...(columnsOf(facts) as FactColumns),
      due_at: notificationDeadline(facts.awareAt),
      authority_notified_at: null,
      authority_reference: null,
      delay_reason: null,
      not_required_reason: null,
      subjects_notified: 0,
      subjects_notified_at: null,
      created_by: actor,
      created_at: now,
      updated_at: now,
      closed_at: null,
    };
    await this.deps.db.transaction(async (trx) => {
      const repo = new BreachRepo(trx);
      await repo.insert(row);
      await repo.appendHistory({ id: uuidv7(now), breach_id: id, at: now, actor, action: 'created', status: 'open', fields: '[]', previous: null, note: null });
      await this.deps.audit.append(trx, [{ actor, action: 'breach.create', outcome: 'ok', details: { breach: id, status: 'open', overdue: now > row.due_at } }]);
    });
    return this.get(id);
  }

  async list(q: ListQuery): Promise<BreachView[]> {
    const now = this.now();
    const rows = await this.repo.list(q);
    return Promise.all(rows.map(async (r) => breachView(r, now, await this.repo.countSubjects(r.id))));
  }

  async get(id: string): Promise<BreachView> {
    const row = await this.repo.get(id);
    if (!row) throw new BreachNotFoundError();
    const view = breachView(row, this.now(), await this.repo.countSubjects(id));
    view.subjects.byOutcome = await this.repo.subjectCounts(id);
    view.history = (await this.repo.history(id)).map(historyView);
    return view;
  }

  /** Runs `step` on the breach, locked, inside one transaction; then reads it back. */
  async #change(id: string, step: (row: BreachesTable, repo: BreachRepo, now: number, trx: DataScope) => Promise<void>): Promise<BreachView> {
    await this.deps.db.transaction(async (trx) => {
      const repo = new BreachRepo(trx);
      const row = await repo.lock(id);
      if (!row) throw new BreachNotFoundError();
      await step(row, repo, this.now(), trx);
    });
    return this.get(id);
  }

  /** Changes facts of a breach (phased information, Art. 33(4)); the history keeps what each changed field was before. */
  update(id: string, patch: Partial<BreachInput>, actor: string, note: string | undefined): Promise<BreachView> {
    return this.#change(id, async (row, repo, now, trx) => {
      if (row.status === 'closed') throw new BreachStateError('the breach is closed: its record no longer changes');
      const before = factsOf(row);
      this.#check(patch, { awareAt: patch.awareAt ?? before.awareAt, occurredAt: patch.occurredAt === undefined ? before.occurredAt : patch.occurredAt });
      const { fields, previous } = changedFields(row, patch);
      if (fields.length === 0) return;
      const changes = Object.fromEntries(fields.map((f) => [f, patch[f]])) as Partial<BreachFacts>;
      const due = changes.awareAt === undefined ? {} : { due_at: notificationDeadline(changes.awareAt) };
      await repo.update(id, { ...columnsOf(changes), ...due, updated_at: now });
      await repo.appendHistory({ id: uuidv7(now), breach_id: id, at: now, actor, action: 'updated', status: row.status, fields: JSON.stringify(fields), previous: JSON.stringify(previous), note: note ?? null });
      await this.deps.audit.append(trx, [{ actor, action: 'breach.update', outcome: 'ok', fields: fields as readonly FactField[], details: { breach: id, status: row.status } }]);
    });
  }

  /** Records a notification to the authority: the first moves the breach on; later ones are further phases (Art. 33(4)). */
  notifyAuthority(id: string, input: AuthorityNoticeInput, actor: string): Promise<BreachView> {
    return this.#change(id, async (row, repo, now, trx) => {
      const at = input.at ?? now;
      const d = authorityNotice(row.status as BreachStatus, row.aware_at, at, now, hasText(input.delayReason) ? 'given' : undefined, row.delay_reason);
      if (!d.ok) {
        if (d.reason === 'delay_reason_required') {
          throw new BreachInputError('FIDUCIA_DELAY_REASON_REQUIRED', 'the authority is notified more than 72 hours after awareness: give the reasons for the delay (delayReason, Art. 33(1))', {
            deadline: new Date(notificationDeadline(row.aware_at)).toISOString(),
          });
        }
        throw new BreachStateError(d.reason);
      }
      const { phase, late } = d.value;
      const patch: Partial<BreachesTable> = { updated_at: now };
      if (phase === 'initial') Object.assign(patch, { status: 'notified_authority', authority_notified_at: at });
      if (input.reference !== undefined) patch.authority_reference = input.reference;
      if (hasText(input.delayReason)) patch.delay_reason = JSON.stringify(input.delayReason);
      await repo.update(id, patch);
      const status = patch.status ?? row.status;
      const fields = Object.keys(patch).filter((k) => k !== 'updated_at');
      await repo.appendHistory({ id: uuidv7(now), breach_id: id, at: now, actor, action: phase === 'initial' ? 'authority_notified' : 'authority_further_information', status, fields: JSON.stringify(fields), previous: null, note: input.note ?? null });
      await this.deps.audit.append(trx, [{ actor, action: 'breach.notify_authority', outcome: 'ok', details: { breach: id, phase, late, status } }]);
    });
  }

  /** A status change by hand: not_required (with its ground), subjects_notified (told outside Fiducia), closed. */
  setStatus(id: string, to: BreachStatus, reason: NotRequiredReason | undefined, note: string | undefined, actor: string): Promise<BreachView> {
    return this.#change(id, async (row, repo, now, trx) => {
      const d = decideStatus(row.status as BreachStatus, to, reason);
      if (!d.ok) throw new BreachStateError(d.reason);
      const patch: Partial<BreachesTable> = { status: to, updated_at: now };
      if (to === 'not_required') patch.not_required_reason = reason ?? null;
      if (to === 'closed') patch.closed_at = now;
      await repo.update(id, patch);
      await repo.appendHistory({ id: uuidv7(now), breach_id: id, at: now, actor, action: 'status', status: to, fields: JSON.stringify(Object.keys(patch).filter((k) => k !== 'updated_at')), previous: JSON.stringify({ status: row.status }), note: note ?? null });
      await this.deps.audit.append(trx, [{ actor, action: 'breach.status', outcome: 'ok', details: { breach: id, from: row.status, to, reason: reason ?? null } }]);
    });
  }

  /** The notification to the authority or the notice to the people concerned, from the register as it stands. */
  async document(id: string, kind: 'authority' | 'subjects', lang: Lang): Promise<BreachDocument> {
    const row = await this.repo.get(id);
    if (!row) throw new BreachNotFoundError();
    const input = this.docInput(row);
    return kind === 'authority' ? authorityNotification(input, lang) : subjectNotice(input, lang);
  }

  docInput(row: BreachesTable): BreachDocInput {
    const cfg = this.deps.cfg;
    const c = cfg.config.controller;
    return {
      id: row.id,
      controller: { name: c.name, contact: c.contact, country: c.country },
      facts: factsOf(row),
      status: row.status as BreachStatus,
      authorityNotifiedAt: row.authority_notified_at,
      authorityReference: row.authority_reference,
      delayReason: row.delay_reason === null ? null : (JSON.parse(row.delay_reason) as LocalizedText),
      notRequiredReason: row.not_required_reason as NotRequiredReason | null,
      subjectsNotified: row.subjects_notified,
      categoryName: (key, lang) => {
        const cat = cfg.category(key);
        return { name: cat?.name[lang] ?? key, special: cfg.isSpecial(key) };
      },
      generatedAt: this.now(),
    };
  }
}

function hasText(t: LocalizedText | undefined): t is LocalizedText {
  return !!t && (!!t.it || !!t.en);
}
