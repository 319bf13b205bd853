// Self-service requests from the privacy center: email verification code, rate limits held in the database, and downloads.
import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import { truncateIp } from '../../domain/consent-proof.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { normalizeIdentity } from '../../domain/identity.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { AccessPageOptions, Lang } from '../../domain/rights-html.ts';
import { SELF_SERVICE_LIMITS, VERIFICATION, dueDate, verifyAttempt, type RightsStatus, type RightsType } from '../../domain/rights.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { RightsRequestsTable } from '../../store/schema.ts';
import { verificationMessage } from './mailer.ts';
import { destroyRequestKey, errorCode, sealForRequest, step, type RightsDeps } from './rights-steps.ts';
import type { ExportFormat, RightsService } from './rights.ts';

/** `retryAfterSeconds` 0: no time is promised (the request's own attempts are spent), so no `Retry-After`. */
export class RateLimitedError extends FiduciaError {
  constructor(
    readonly retryAfterSeconds: number,
    message = 'too many requests: try again later',
  ) {
    super('FIDUCIA_RATE_LIMITED', message);
    this.name = 'RateLimitedError';
  }

  override headers(): Record<string, string> {
    return this.retryAfterSeconds > 0 ? { 'retry-after': String(this.retryAfterSeconds) } : {};
  }
}

/** A wrong, expired or unknown code: one answer for all, so nothing is learnt from it. */
export class VerificationFailedError extends FiduciaError {
  constructor(readonly attemptsLeft: number | null) {
    super('FIDUCIA_VERIFICATION_FAILED', 'the verification code is wrong or has expired', attemptsLeft === null ? undefined : { attemptsLeft });
    this.name = 'VerificationFailedError';
  }
}

export class InvalidEmailError extends FiduciaError {
  constructor() {
    super('FIDUCIA_VALIDATION', 'the email address is not valid');
    this.name = 'InvalidEmailError';
  }
}

export class DownloadNotFoundError extends FiduciaError {
  constructor() {
    super('FIDUCIA_NOT_FOUND', 'no download at this link');
    this.name = 'DownloadNotFoundError';
  }
}

export class MailUnavailableError extends FiduciaError {
  constructor() {
    super('FIDUCIA_UNAVAILABLE', 'the verification email could not be sent; try again later');
    this.name = 'MailUnavailableError';
  }
}

/** The public status of a request: `received` means a code was sent and not yet confirmed. */
export function publicStatus(status: string): string {
  return status === 'received' ? 'awaiting_verification' : status;
}

export interface IntakeInput {
  email: string;
  type: RightsType;
  language: Lang;
  details?: string | undefined;
  ip: string;
  sourceId: string;
}

const SELF = 'self_service';

/** `download`: for a completed access or portability request, the token of its personal link (the one emailed). */
export interface VerifyAnswer {
  id: string;
  status: string;
  download?: { token: string; expiresAt: string };
}

export class RightsIntake {
  readonly #repo: RightsRepo;

  constructor(
    private readonly deps: RightsDeps,
    private readonly rights: RightsService,
  ) {
    this.#repo = new RightsRepo(deps.db);
  }

  #now(): number {
    return (this.deps.now ?? Date.now)();
  }

  /** A keyed hash of the client's address (IPv6 by /64 would be better than /48 for a single home, but /48 stops rotation). */
  #bucket(scope: string, value: string): string {
    return `${scope}:${this.deps.ring.blindIndex.index(`rate:${scope}`, value).toString('base64url').slice(0, 24)}`;
  }

  async #limit(scope: keyof typeof SELF_SERVICE_LIMITS, value: string, message?: string): Promise<void> {
    const { max, windowMs } = SELF_SERVICE_LIMITS[scope];
    const hits = await this.#repo.hit(this.#bucket(scope, value), windowMs, this.#now());
    if (hits > max) throw new RateLimitedError(Math.ceil(windowMs / 1000), message);
  }

  #ipKey(ip: string): string {
    // IPv4 as is; IPv6 by network, so that one host cannot rotate through its addresses.
    return ip.includes(':') && !ip.startsWith('::ffff:') ? (truncateIp(ip) ?? ip) : ip.replace(/^::ffff:/, '');
  }

  #codeHash(id: string, code: string): Buffer {
    // Keyed (the blind-index key comes from the master key): a copy of the database alone cannot brute-force 10^6 codes.
    return this.deps.ring.blindIndex.index('rights-code', `${id}:${code}`);
  }

  /**
   * Answers the same way whether or not the address is known: the code goes to the address, and only its owner
   * learns anything. Over a per-address limit nothing is stored or sent, and the answer says so (429): the limit
   * is kept per address and client network, so requests from elsewhere cannot use up the owner's.
   */
  async submit(input: IntakeInput): Promise<{ id: string; status: string }> {
    const network = this.#ipKey(input.ip);
    await this.#limit('intakePerIp', network);
    const email = normalizeIdentity('email', input.email);
    if (!email) throw new InvalidEmailError();
    await this.#limit('intakePerEmailAndNetwork', `${email}\u0000${network}`, 'too many requests for this address from your network: try again in an hour');
    await this.#limit('intakePerEmail', email, 'too many requests for this address today: try again tomorrow');
    const now = this.#now();
    const id = uuidv7(now);
    const answer = { id, status: publicStatus('received') };
    const code = String(randomInt(0, 10 ** VERIFICATION.codeDigits)).padStart(VERIFICATION.codeDigits, '0');
    const row: RightsRequestsTable = {
      id,
      type: input.type,
      status: 'received',
      channel: SELF,
      language: input.language,
      identity_kind: 'email',
      identity_index: this.deps.ring.blindIndex.index('email', email),
      subject_id: null,
      contact_enc: await sealForRequest(this.deps.ring, id, 'contact', email),
      params_enc: input.details ? await sealForRequest(this.deps.ring, id, 'params', { details: input.details }) : null,
      options: '{}',
      outcome: '{}',
      status_reason: null,
      waiting: null,
      created_by: `source:${input.sourceId}`,
      received_at: now,
      due_at: dueDate(now),
      verified_at: null,
      extended_at: null,
      extension_months: null,
      extension_reason: null,
      closed_at: null,
      updated_at: now,
      code_hash: this.#codeHash(id, code),
      code_expires_at: now + VERIFICATION.codeTtlMs,
      attempts: 0,
      download_hash: null,
    };
    await this.deps.db.transaction(async (trx) => {
      await new RightsRepo(trx).insert(row);
      await step(trx, this.deps, row, 'received', 'received', row.created_by, { audit: { details: { identityKind: 'email' } } });
    });
    try {
      // Named by its request, so the outbox copy goes when the request closes.
      await this.deps.mailer.send({ ...verificationMessage(email, input.language, this.deps.cfg.config.controller.name, input.type, code, Math.round(VERIFICATION.codeTtlMs / 60_000)), requestId: id });
    } catch (err) {
      this.deps.logger.error({ requestId: id, err: errorCode(err) }, 'could not send a verification code');
      await this.#close(id, 'mail_failed');
      throw new MailUnavailableError();
    }
    return answer;
  }

  /** Rejects an unconfirmed request and crypto-shreds its contact address. */
  async #close(id: string, reason: string): Promise<void> {
    await this.deps.db.transaction(async (trx) => {
      const req = await new RightsRepo(trx).lock(id);
      if (req?.status === 'received') await step(trx, this.deps, req, 'rejected', 'rejected', SELF, { reason, patch: { code_hash: null, contact_enc: null, params_enc: null } });
    });
    await destroyRequestKey(this.deps.ring, id);
  }

  /** Confirms the code; the request is carried out only now. */
  async verify(id: string, code: string, ip: string): Promise<VerifyAnswer> {
    await this.#limit('verifyPerIp', this.#ipKey(ip));
    const now = this.#now();
    // Counted before it is checked, atomically in the database: parallel guesses on several instances all count.
    const row = /^[0-9a-f-]{36}$/.test(id) ? await this.#repo.countAttempt(id, now) : undefined;
    if (!row || row.channel !== SELF) throw new VerificationFailedError(null);
    const expected = row.code_hash ? Buffer.from(row.code_hash) : null;
    const given = this.#codeHash(id, code);
    const matches = expected !== null && expected.length === given.length && timingSafeEqual(expected, given);
    const outcome = verifyAttempt({ status: row.status as RightsStatus, attempts: row.attempts - 1, codeExpiresAt: row.code_expires_at === null ? null : Number(row.code_expires_at) }, matches, now);
    switch (outcome.result) {
      case 'verified': {
        const verified = await this.deps.db.transaction(async (trx) => {
          const req = await new RightsRepo(trx).lock(id);
          if (!req || req.status !== 'received') return req;
          return step(trx, this.deps, req, 'verified', 'verified', SELF, { reason: 'email_code', patch: { verified_at: now } });
        });
        if (!verified || verified.status !== 'verified') return { id, status: publicStatus(verified?.status ?? 'rejected') };
        const done = await this.rights.process(id, SELF);
        const download = await this.rights.notifyPerson(done);
        // The code proved the mailbox as the emailed link does: the page that asked may open the package at once.
        return download ? { id, status: publicStatus(done.status), download: { token: download.token, expiresAt: new Date(download.expiresAt).toISOString() } } : { id, status: publicStatus(done.status) };
      }
      case 'not_pending':
        // A repeated confirmation with the right code (a double click) is answered with the current status.
        if (matches && row.status !== 'rejected') return { id, status: publicStatus(row.status) };
        throw new VerificationFailedError(null);
      case 'wrong_code':
        await this.deps.audit.append(this.deps.db, [{ actor: SELF, action: 'rights.verification.failed', outcome: 'denied', details: { requestId: id, attemptsLeft: outcome.attemptsLeft } }]);
        throw new VerificationFailedError(outcome.attemptsLeft);
      case 'locked':
        await this.#close(id, 'too_many_attempts');
        throw new RateLimitedError(0);
      case 'expired':
        await this.#close(id, 'verification_expired');
        throw new VerificationFailedError(0);
    }
  }

  /** The personal link sent by email: the token is the credential (stored as a hash). */
  async download(id: string, token: string, format: ExportFormat, ip: string, lang?: Lang, page?: Omit<AccessPageOptions, 'request'>): Promise<{ contentType: string; body: string; filename: string }> {
    await this.#limit('downloadPerIp', this.#ipKey(ip));
    const row = /^[0-9a-f-]{36}$/.test(id) ? await this.#repo.get(id) : undefined;
    const given = createHash('sha256').update(token).digest();
    const expected = row?.download_hash ? Buffer.from(row.download_hash) : null;
    if (!row || !expected || expected.length !== given.length || !timingSafeEqual(expected, given)) throw new DownloadNotFoundError();
    return this.rights.exportPackage(id, format, lang, SELF, page);
  }

  /** Unconfirmed requests whose code expired are rejected and their contact address crypto-shredded. */
  async expireUnverified(limit = 500): Promise<number> {
    const rows = await this.#repo.unverifiedBefore(this.#now(), limit);
    for (const r of rows) await this.#close(r.id, 'verification_expired');
    return rows.length;
  }
}
