// Data-subject rights requests: creation, lifecycle (audited, with deadlines), execution, packages, legal holds and the sweep.
import { createHash, randomBytes } from 'node:crypto';
import type { DataScope } from '../../store/scope.ts';
import { FiduciaError } from '../../domain/errors.ts';
import type { IdentityRef } from '../../domain/identity.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { renderAccessHtml, type AccessPageOptions, type Lang } from '../../domain/rights-html.ts';
import { portabilityCsv, type AccessPackage, type PortabilityPackage, type Profiling } from '../../domain/rights-package.ts';
import { dueDate, extendDeadline, isDirectMarketing, isFinal, producesPackage, type RejectionReason, type RightsType } from '../../domain/rights.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { RightsRepo, type RequestQuery } from '../../store/rights-repo.ts';
import type { RightsRequestsTable } from '../../store/schema.ts';
import { completionMessage } from './mailer.ts';
import { resolveByIndex, resolveSubject } from './rights-data.ts';
import { requestView, type RequestOptions, type RequestView } from './rights-view.ts';
import { buildPackage, erase, finishErasure, liftRestriction, object, rectify, restrict, type ExecuteParams, type Executed } from './rights-execute.ts';
import { RightsNotFoundError, RightsStateError, destroyRequestKey, errorCode, openForRequest, openPackage, parseJson, sealForRequest, step, type RightsDeps } from './rights-steps.ts';

export { RightsNotFoundError, RightsStateError } from './rights-steps.ts';
export type { RequestView } from './rights-view.ts';

/** The package is gone: expired (its key destroyed) or erased with the subject (410). */
export class PackageExpiredError extends FiduciaError {
  constructor() {
    super('FIDUCIA_EXPORT_EXPIRED', 'the package has expired and was destroyed; make a new request');
    this.name = 'PackageExpiredError';
  }
}

export interface StaffRequestInput {
  type: RightsType;
  identity: IdentityRef;
  language: Lang;
  details?: string | undefined;
  purposes?: string[] | undefined;
  traits?: Record<string, unknown> | undefined;
  suppress?: boolean | undefined;
  /** When the request actually reached the controller (a letter, a phone call): the deadline runs from it. */
  receivedAt?: number | undefined;
}


export type ExportFormat = 'json' | 'html' | 'csv';

export class RightsService {
  readonly #repo: RightsRepo;

  constructor(readonly deps: RightsDeps) {
    this.#repo = new RightsRepo(deps.db);
  }

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** Direct-marketing purposes of the configuration: the default target of an objection. */
  directMarketingPurposes(): string[] {
    return this.deps.cfg.config.purposes.filter((p) => isDirectMarketing(p, this.deps.directMarketing)).map((p) => p.key);
  }

  /** Staff requests count as verified (the caller checked the person's identity); they are carried out at once. */
  async createStaff(input: StaffRequestInput, actor: string): Promise<RightsRequestsTable> {
    const now = this.#now();
    const receivedAt = Math.min(input.receivedAt ?? now, now);
    const id = uuidv7(now);
    const options: RequestOptions = {};
    if (input.type === 'objection') options.purposes = input.purposes && input.purposes.length > 0 ? [...new Set(input.purposes)] : this.directMarketingPurposes();
    if (input.type === 'erasure' && input.suppress) options.suppress = true;
    const params = input.type === 'rectification' || input.details ? { details: input.details, traits: input.traits } : null;
    const row: RightsRequestsTable = {
      id,
      type: input.type,
      status: 'received',
      channel: 'staff',
      language: input.language,
      identity_kind: input.identity.kind,
      identity_index: this.deps.ring.blindIndex.index(input.identity.kind, input.identity.value),
      subject_id: null,
      contact_enc: null,
      params_enc: params ? await sealForRequest(this.deps.ring, id, 'params', params) : null,
      options: JSON.stringify(options),
      outcome: '{}',
      status_reason: null,
      waiting: null,
      created_by: actor,
      received_at: receivedAt,
      due_at: dueDate(receivedAt),
      verified_at: now,
      extended_at: null,
      extension_months: null,
      extension_reason: null,
      closed_at: null,
      updated_at: now,
      code_hash: null,
      code_expires_at: null,
      attempts: 0,
      download_hash: null,
    };
    const profiling = input.type === 'access' ? await this.#profilingOf(input.identity.kind, row.identity_index!) : undefined;
    // Created, verified and carried out in one transaction: one commit (one fsync) for the whole request.
    return this.#run(actor, async (trx) => {
      await new RightsRepo(trx).insert(row);
      const received = await step(trx, this.deps, row, 'received', 'received', actor, { audit: { details: { identityKind: input.identity.kind } } });
      await step(trx, this.deps, received, 'verified', 'verified', actor, { reason: 'staff' });
      return this.#processIn(trx, id, actor, {}, profiling);
    });
  }

  /** Carries out a verified request (or resumes one in progress). Unverified requests do nothing. */
  async process(id: string, actor: string, params: ExecuteParams = {}): Promise<RightsRequestsTable> {
    const profiling = await this.#profiling(id);
    return this.#run(actor, (trx) => this.#processIn(trx, id, actor, params, profiling));
  }

  async #run(actor: string, fn: (trx: DataScope) => Promise<Executed>): Promise<RightsRequestsTable> {
    const done = await this.deps.db.transaction(fn);
    let row = done.row;
    try {
      for (const task of done.afterCommit) await task();
    } catch (err) {
      // The request stays in progress, waiting for the key destruction; the sweep retries it.
      this.deps.logger.error({ requestId: row.id, err: errorCode(err) }, 'a step after the commit failed');
      return row;
    }
    if (row.waiting === 'key_destruction' && done.afterCommit.length > 0) row = await this.#finishErasure(row.id, actor);
    return row;
  }

  async #processIn(trx: DataScope, id: string, actor: string, params: ExecuteParams, profiling: Profiling | undefined): Promise<Executed> {
    {
      const repo = new RightsRepo(trx);
      let req = await repo.lock(id);
      if (!req) throw new RightsNotFoundError();
      if (req.status === 'received') throw new RightsStateError('the request is not verified yet: nothing is done before the identity is confirmed');
      if (isFinal(req.status as 'completed')) throw new RightsStateError(`the request is already ${req.status}`);
      if (req.waiting === 'key_destruction') return { row: req, afterCommit: [() => this.#destroyKeysAgain(req!)] };
      const state = req.identity_kind && req.identity_index ? await resolveByIndex(trx, req.identity_kind, Buffer.from(req.identity_index), req.channel) : null;
      if (req.status === 'verified') req = await step(trx, this.deps, req, 'in_progress', 'started', actor, { patch: { subject_id: state?.subjectId ?? null } });
      else if (state && req.subject_id !== state.subjectId) {
        await repo.update(id, { subject_id: state.subjectId });
        req = { ...req, subject_id: state.subjectId };
      }
      const options = parseJson<RequestOptions>(req.options, {});
      switch (req.type as RightsType) {
        case 'access':
        case 'portability':
          return buildPackage(trx, this.deps, req, state, actor, profiling);
        case 'erasure':
          return erase(trx, this.deps, req, state, actor, options.suppress === true);
        case 'restriction':
          return restrict(trx, this.deps, req, state, actor);
        case 'objection':
          return object(trx, this.deps, req, state, actor, params.purposes ?? options.purposes ?? this.directMarketingPurposes());
        case 'rectification': {
          const saved = (await openForRequest(this.deps.ring, id, 'params', req.params_enc)) as { traits?: Record<string, unknown> } | undefined;
          const traits = params.traits ?? saved?.traits;
          // Self-service corrections arrive as free text: they wait for staff to enter the corrected values.
          if (!traits || Object.keys(traits).length === 0) {
            return { row: await step(trx, this.deps, req, 'in_progress', 'waiting', actor, { reason: 'needs_values', patch: { waiting: 'needs_values' } }), afterCommit: [] };
          }
          return rectify(trx, this.deps, req, state, actor, traits);
        }
      }
    }
  }

  /**
   * Segment memberships and computed traits for an access package. Read before the request's transaction: the
   * segments service reads through its own connection, which on SQLite would wait for that transaction.
   */
  async #profiling(id: string): Promise<Profiling | undefined> {
    if (!this.deps.segments) return undefined;
    const req = await this.#repo.get(id);
    if (req?.type !== 'access' || !req.identity_kind || !req.identity_index || isFinal(req.status as 'completed')) return undefined;
    return this.#profilingOf(req.identity_kind, Buffer.from(req.identity_index), req.channel);
  }

  async #profilingOf(kind: string, index: Buffer, channel?: string): Promise<Profiling | undefined> {
    if (!this.deps.segments) return undefined;
    const state = await resolveByIndex(this.deps.db, kind, index, channel);
    return state && state.erasedAt === null ? this.deps.segments.exportFor(state.subjectId) : undefined;
  }

  async #destroyKeysAgain(req: RightsRequestsTable): Promise<void> {
    if (req.subject_id) {
      await this.deps.ring.destroy(req.subject_id);
      for (const id of await new ErasureRepo(this.deps.db).mergedInto(req.subject_id)) await this.deps.ring.destroy(id);
    }
  }

  async #finishErasure(id: string, actor: string): Promise<RightsRequestsTable> {
    return this.deps.db.transaction(async (trx) => {
      const req = await new RightsRepo(trx).lock(id);
      if (!req) throw new RightsNotFoundError();
      return req.waiting === 'key_destruction' ? finishErasure(trx, this.deps, req, actor) : req;
    });
  }

  async #locked<T>(id: string, fn: (trx: DataScope, req: RightsRequestsTable) => Promise<T>): Promise<T> {
    return this.deps.db.transaction(async (trx) => {
      const req = await new RightsRepo(trx).lock(id);
      if (!req) throw new RightsNotFoundError();
      return fn(trx, req);
    });
  }

  async extend(id: string, months: number, reason: string, actor: string): Promise<RightsRequestsTable> {
    return this.#locked(id, async (trx, req) => {
      const d = extendDeadline({ status: req.status as 'received', receivedAt: req.received_at, dueAt: Number(req.due_at), extendedAt: req.extended_at }, months, reason, this.#now());
      if (!d.ok) throw new RightsStateError(d.reason);
      return step(trx, this.deps, req, req.status as 'received', 'extended', actor, {
        reason: 'deadline_extended',
        patch: { due_at: d.value, extended_at: this.#now(), extension_months: months, extension_reason: reason.trim() },
        audit: { details: { months, dueAt: d.value } },
      });
    });
  }

  async reject(id: string, reason: RejectionReason, note: string | undefined, actor: string): Promise<RightsRequestsTable> {
    const row = await this.#locked(id, async (trx, req) => {
      if (isFinal(req.status as 'completed')) throw new RightsStateError(`the request is already ${req.status}`);
      const outcome = note ? { ...parseJson<Record<string, unknown>>(req.outcome, {}), note } : parseJson<Record<string, unknown>>(req.outcome, {});
      return step(trx, this.deps, req, 'rejected', 'rejected', actor, { reason, patch: { outcome: JSON.stringify(outcome), waiting: null } });
    });
    await this.notifyPerson(row);
    return row;
  }

  async liftRestriction(id: string, reason: string, actor: string): Promise<RightsRequestsTable> {
    const row = await this.#locked(id, async (trx, req) => {
      if (req.type !== 'restriction' || req.status !== 'completed' || !req.subject_id) throw new RightsStateError('only a completed restriction request can be lifted');
      if (parseJson<{ restricted?: boolean }>(req.outcome, {}).restricted !== true) throw new RightsStateError('the restriction was already lifted');
      return liftRestriction(trx, this.deps, req, actor, reason);
    });
    // Art. 18(3): the person is told before (here: as) the restriction ends.
    await this.notifyPerson(row, true);
    await destroyRequestKey(this.deps.ring, id);
    return row;
  }

  // ---- legal holds ----

  async setLegalHold(ref: IdentityRef, reason: string, actor: string): Promise<{ subjectId: string; holdId: string; since: number } | null> {
    return this.deps.db.transaction(async (trx) => {
      const state = await resolveSubject(trx, this.deps.ring, ref);
      if (!state || state.erasedAt !== null) return null;
      const repo = new RightsRepo(trx);
      const existing = await repo.activeHold(state.subjectId);
      if (existing) return { subjectId: state.subjectId, holdId: existing.id, since: Number(existing.set_at) };
      const now = this.#now();
      const id = uuidv7(now);
      await repo.insertHold({ id, subject_id: state.subjectId, reason: reason.trim(), set_by: actor, set_at: now, released_by: null, released_at: null });
      await this.deps.audit.append(trx, [{ actor, action: 'rights.legal_hold.set', subjectId: state.subjectId, outcome: 'ok', details: { holdId: id } }]);
      return { subjectId: state.subjectId, holdId: id, since: now };
    });
  }

  /** Releases the hold; erasures that waited for it are carried out now. */
  async releaseLegalHold(ref: IdentityRef, actor: string): Promise<{ subjectId: string; released: number; resumed: RightsRequestsTable[] } | null> {
    const res = await this.deps.db.transaction(async (trx) => {
      const state = await resolveSubject(trx, this.deps.ring, ref);
      if (!state) return null;
      const released = await new RightsRepo(trx).releaseHolds(state.subjectId, actor, this.#now());
      if (released > 0) await this.deps.audit.append(trx, [{ actor, action: 'rights.legal_hold.released', subjectId: state.subjectId, outcome: 'ok', counts: { released } }]);
      return { subjectId: state.subjectId, released };
    });
    if (!res) return null;
    const resumed: RightsRequestsTable[] = [];
    for (const r of await this.#repo.waitingFor(res.subjectId, 'legal_hold')) resumed.push(await this.#completeAndTell(r.id, actor));
    return { ...res, resumed };
  }

  /** Processes and, for self-service requests, tells the person by email. */
  async #completeAndTell(id: string, actor: string): Promise<RightsRequestsTable> {
    const row = await this.process(id, actor);
    await this.notifyPerson(row);
    return row;
  }

  // ---- the person ----

  /**
   * Self-service requests: the outcome goes to the verified address, with a personal link to the package (an access
   * package opens as the readable page). The contact address is dropped once told (restrictions keep it until lifted,
   * Art. 18(3)). Answers the link's token, so that the privacy center can open the same page right after the code.
   */
  async notifyPerson(row: RightsRequestsTable, final = false): Promise<{ token: string; expiresAt: number } | null> {
    if (row.channel !== 'self_service' || !row.contact_enc) return null;
    if (!isFinal(row.status as 'completed') && row.waiting !== 'legal_hold' && row.waiting !== 'needs_values') return null;
    const to = (await openForRequest(this.deps.ring, row.id, 'contact', row.contact_enc)) as string | undefined;
    if (!to) return null;
    let download: { url: string; expiresAt: number; token: string } | null = null;
    if (row.status === 'completed' && producesPackage(row.type as RightsType)) {
      const info = await this.#repo.packageInfo(row.id);
      if (info) {
        const token = randomBytes(32).toString('base64url');
        await this.#repo.update(row.id, { download_hash: createHash('sha256').update(token).digest() });
        const readable = row.type === 'access' ? '&format=html' : '';
        download = { url: `${this.deps.publicUrl.replace(/\/$/, '')}/v1/rights-requests/${row.id}/download?token=${token}${readable}`, expiresAt: Number(info.expires_at), token };
      }
    }
    const status = row.status as 'completed' | 'rejected' | 'in_progress';
    const handle = download && { token: download.token, expiresAt: download.expiresAt };
    try {
      await this.deps.mailer.send({ ...completionMessage(to, row.language === 'it' ? 'it' : 'en', this.deps.cfg.config.controller.name, row.type, status, download), requestId: row.id });
    } catch (err) {
      this.deps.logger.error({ requestId: row.id, err: errorCode(err) }, 'could not send the outcome of a rights request');
      return handle;
    }
    const keep = !isFinal(status) || (row.type === 'restriction' && status === 'completed' && !final);
    if (!keep) await this.#repo.update(row.id, { contact_enc: null, params_enc: null });
    return handle;
  }

  // ---- reading ----

  async get(id: string, withHistory = true): Promise<RequestView> {
    const row = await this.#repo.get(id);
    if (!row) throw new RightsNotFoundError();
    return this.view(row, withHistory);
  }

  async list(q: Omit<RequestQuery, 'overdueAt'> & { overdue?: boolean }): Promise<RequestView[]> {
    const rows = await this.#repo.list({ ...q, overdueAt: q.overdue ? this.#now() : undefined });
    return Promise.all(rows.map((r) => this.view(r, false)));
  }

  view(row: RightsRequestsTable, withHistory: boolean): Promise<RequestView> {
    return requestView(this.#repo, row, withHistory, this.#now());
  }

  /** The stored package, decrypted and rendered; the read is audited. */
  async exportPackage(
    id: string,
    format: ExportFormat,
    lang: Lang | undefined,
    actor: string,
    page: Omit<AccessPageOptions, 'request'> = {},
  ): Promise<{ contentType: string; body: string; filename: string }> {
    return this.deps.db.transaction(async (trx) => {
      const repo = new RightsRepo(trx);
      const req = await repo.get(id);
      if (!req) throw new RightsNotFoundError();
      if (!producesPackage(req.type as RightsType)) throw new RightsStateError(`a ${req.type} request has no package`);
      const pkgRow = await repo.getPackage(id);
      if (!pkgRow) {
        if (req.status === 'completed') throw new PackageExpiredError();
        throw new RightsStateError(`the request is ${req.status}: its package is not ready`);
      }
      if (Number(pkgRow.expires_at) < this.#now()) throw new PackageExpiredError();
      const text = await openPackage(this.deps.ring, id, pkgRow.subject_id, pkgRow.package_enc);
      if (text === undefined) throw new PackageExpiredError();
      if (format === 'html' && req.type !== 'access') throw new RightsStateError('HTML is available for access packages; portability is JSON or CSV');
      if (format === 'csv' && req.type !== 'portability') throw new RightsStateError('CSV is available for portability packages; access is JSON or HTML');
      await this.deps.audit.append(trx, [
        { actor, action: 'rights.package.read', subjectId: pkgRow.subject_id, outcome: 'ok', counts: { bytes: Number(pkgRow.size) }, details: { requestId: id, kind: req.type, format } },
      ]);
      const base = `${req.type}-${id}`;
      if (format === 'html') {
        const html = renderAccessHtml(JSON.parse(text) as AccessPackage, this.deps.cfg.config, lang ?? (req.language === 'it' ? 'it' : 'en'), { ...page, request: { type: req.type, status: req.status } });
        return { contentType: 'text/html; charset=utf-8', body: html, filename: `${base}.html` };
      }
      if (format === 'csv') return { contentType: 'text/csv; charset=utf-8', body: portabilityCsv(JSON.parse(text) as PortabilityPackage), filename: `${base}.csv` };
      // JSON is served as stored: no parse and re-serialization of a large package.
      return { contentType: 'application/json; charset=utf-8', body: text, filename: `${base}.json` };
    });
  }
}
