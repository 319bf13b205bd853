// The people a breach concerns and the Art. 34 notice to them: subject ids attached to a breach, and the notice sent
// through the mailer to each one's asserted email address (read with the subject's own key, never logged or stored).
import { ciphertextKeyVersion, decryptJson } from '../../crypto/envelope.ts';
import { MAX_BREACH_SUBJECTS, maySendNotice, noticeMovesOn, type BreachStatus } from '../../domain/breach.ts';
import { noticeMail, type Lang } from '../../domain/breach-documents.ts';
import type { IdentityAssertion } from '../../domain/identity.ts';
import { uuidv7 as newId } from '../../domain/ids.ts';
import { BreachRepo } from '../../store/breach-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { IdentitiesTable } from '../../store/schema.ts';
import type { AuditEntryInput } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { Mailer } from '../rights/mailer.ts';
import { followMerges } from '../rights/rights-data.ts';
import { BreachInputError, BreachNotFoundError, BreachStateError, type BreachService, type BreachView } from './breaches.ts';

/** Addresses that a server source or a verified rights request asserted: the ones known to be the person's own. */
const ASSERTED: ReadonlySet<IdentityAssertion> = new Set(['server', 'rights_request']);
/** A person with several asserted addresses gets the notice at each, up to this many. */
const MAX_ADDRESSES = 3;
const PAGE = 200;
/** A claim this old is taken to be a sender that stopped: its people are tried again. */
const STALE_CLAIM_MS = 15 * 60_000;

export type NoticeOutcome = 'sent' | 'no_email' | 'erased' | 'failed';

export interface NoticeReport {
  sent: number;
  noEmail: number;
  erased: number;
  failed: number;
  messages: number;
}

export interface BreachNoticeDeps {
  ring: KeyRing;
  mailer: Mailer;
}

export class BreachNotices {
  constructor(
    private readonly breaches: BreachService,
    private readonly deps: BreachNoticeDeps,
  ) {}

  /** Attaches subject ids to a breach; every id must be a subject Fiducia holds (or held). */
  async addSubjects(id: string, subjectIds: readonly string[], actor: string): Promise<BreachView> {
    const unique = [...new Set(subjectIds)];
    const db = this.breaches.deps.db;
    await db.transaction(async (trx) => {
      const repo = new BreachRepo(trx);
      const row = await repo.lock(id);
      if (!row) throw new BreachNotFoundError();
      if (row.status === 'closed') throw new BreachStateError('the breach is closed');
      const known = new Set((await new ProfileRepo(trx).subjects(unique)).map((s) => s.id));
      const unknown = unique.filter((s) => !known.has(s));
      if (unknown.length > 0) throw new BreachInputError('FIDUCIA_VALIDATION', `${unknown.length} subject ids are not known`, { unknown: unknown.slice(0, 10) });
      if ((await repo.countSubjects(id)) + unique.length > MAX_BREACH_SUBJECTS) throw new BreachInputError('FIDUCIA_VALIDATION', `a breach names at most ${MAX_BREACH_SUBJECTS} subjects`);
      const now = this.breaches.now();
      const added = await repo.addSubjects(id, unique, now);
      await repo.update(id, { updated_at: now });
      await repo.appendHistory({ id: newId(now), breach_id: id, at: now, actor, action: 'subjects_added', status: row.status, fields: '["subjects"]', previous: null, note: `${added} added` });
      await this.breaches.deps.audit.append(trx, [{ actor, action: 'breach.subjects_add', outcome: 'ok', counts: { added, given: unique.length }, details: { breach: id } }]);
    });
    return this.breaches.get(id);
  }

  /**
   * Sends the notice to each named subject not told yet, in `lang`, and records each outcome: erased people are
   * skipped, people without an asserted address are counted. Allowed once the authority was notified (`maySendNotice`).
   * Each page of people is claimed first, so two sends at once never tell anyone twice.
   */
  async send(id: string, lang: Lang, actor: string): Promise<{ report: NoticeReport; breach: BreachView }> {
    const row = await this.breaches.repo.get(id);
    if (!row) throw new BreachNotFoundError();
    const may = maySendNotice(row.status as BreachStatus, row.authority_notified_at);
    if (!may.ok) throw new BreachStateError(may.reason);
    const mail = noticeMail(this.breaches.docInput(row), lang);
    const report: NoticeReport = { sent: 0, noEmail: 0, erased: 0, failed: 0, messages: 0 };
    for (let after: string | null = null; ; ) {
      const now = this.breaches.now();
      const { claimed, last } = await this.breaches.repo.claimSubjects(id, after, PAGE, now, now - STALE_CLAIM_MS);
      if (last === null) break;
      after = last;
      if (claimed.length > 0) await this.#sendPage(id, claimed, mail, actor, report);
    }
    await this.#finish(id, actor, report);
    return { report, breach: await this.breaches.get(id) };
  }

  async #sendPage(id: string, page: readonly string[], mail: { subject: string; text: string }, actor: string, report: NoticeReport): Promise<void> {
    const db = this.breaches.deps.db;
    const outcomes: { subjectId: string; outcome: NoticeOutcome }[] = [];
    const entries: AuditEntryInput[] = [];
    for (const subjectId of page) {
      const live = await followMerges(db, subjectId);
      if (!live || live.erasedAt !== null) {
        outcomes.push({ subjectId, outcome: 'erased' });
        report.erased++;
        continue;
      }
      const addresses = await this.#addresses(live.subjectId);
      if (addresses.length === 0) {
        outcomes.push({ subjectId, outcome: 'no_email' });
        report.noEmail++;
        continue;
      }
      let sent = 0;
      for (const to of addresses) {
        try {
          await this.deps.mailer.send({ to, subject: mail.subject, text: mail.text, kind: 'breach.notice', queue: `breach:${live.subjectId}` });
          sent++;
        } catch {
          // Counted, not logged: the error could carry the address.
        }
      }
      report.messages += sent;
      const outcome: NoticeOutcome = sent > 0 ? 'sent' : 'failed';
      report[outcome === 'sent' ? 'sent' : 'failed']++;
      outcomes.push({ subjectId, outcome });
      entries.push({ actor, action: 'breach.notice', subjectId: live.subjectId, fields: ['identity:email'], counts: { messages: sent }, outcome: sent > 0 ? 'ok' : 'failed', details: { breach: id } });
    }
    await db.transaction(async (trx) => {
      await new BreachRepo(trx).markSubjects(id, outcomes, this.breaches.now());
      if (entries.length > 0) await this.breaches.deps.audit.append(trx, entries);
    });
  }

  /** The asserted email addresses of a live subject, decrypted with its key (a destroyed key yields none). */
  async #addresses(subjectId: string): Promise<string[]> {
    const rows = (await new ProfileRepo(this.breaches.deps.db).identitiesOf(subjectId)).filter((r: IdentitiesTable) => r.kind === 'email' && ASSERTED.has(r.asserted));
    const out = new Set<string>();
    for (const r of rows) {
      const blob = Buffer.from(r.value_enc);
      const key = await this.deps.ring.keyVersion(subjectId, ciphertextKeyVersion(blob));
      if (!key) continue;
      const value = decryptJson(key, subjectId, 'identity:email', blob);
      if (typeof value === 'string' && value.length > 0) out.add(value);
      if (out.size >= MAX_ADDRESSES) break;
    }
    return [...out];
  }

  async #finish(id: string, actor: string, report: NoticeReport): Promise<void> {
    const db = this.breaches.deps.db;
    await db.transaction(async (trx) => {
      const repo = new BreachRepo(trx);
      const row = await repo.lock(id);
      if (!row) throw new BreachNotFoundError();
      const now = this.breaches.now();
      const moved = report.sent > 0 && noticeMovesOn(row.status as BreachStatus);
      await repo.update(id, {
        subjects_notified: row.subjects_notified + report.sent,
        ...(report.sent > 0 ? { subjects_notified_at: now } : {}),
        ...(moved ? { status: 'subjects_notified', not_required_reason: null } : {}),
        updated_at: now,
      });
      const note = `sent ${report.sent}, no email ${report.noEmail}, erased ${report.erased}, failed ${report.failed}`;
      await repo.appendHistory({ id: newId(now), breach_id: id, at: now, actor, action: 'subjects_notified', status: moved ? 'subjects_notified' : row.status, fields: '["subjects"]', previous: null, note });
      await this.breaches.deps.audit.append(trx, [
        { actor, action: 'breach.notify_subjects', outcome: 'ok', counts: { sent: report.sent, noEmail: report.noEmail, erased: report.erased, failed: report.failed, messages: report.messages }, details: { breach: id } },
      ]);
    });
  }
}
