// What every rights-request step shares: dependencies, the audited status transition, and the request's own encryption key.
import type { DataScope } from '../../store/scope.ts';
import type { Logger } from 'pino';
import { gunzipSync, gzipSync } from 'node:zlib';
import { ciphertextKeyVersion, decryptField, decryptJson, encryptField, encryptJson } from '../../crypto/envelope.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { canTransition, isFinal, type RightsStatus } from '../../domain/rights.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { RightsRequestsTable } from '../../store/schema.ts';
import type { AuditEntryInput, AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { Mailer } from './mailer.ts';
import type { Profiling } from '../../domain/rights-package.ts';
import type { RecipientNotifier } from './recipient-notifier.ts';

/** The segments service, as rights requests need it (export of profiling results, erasure of memberships). */
export interface SubjectSegmentsPort {
  exportFor(subjectId: string): Promise<Profiling>;
  /** Pass the erasure's transaction. */
  forget(db: DataScope, subjectIds: readonly string[]): Promise<void>;
}

export interface RightsDeps {
  db: DataScope;
  ring: KeyRing;
  cfg: CompiledConfig;
  audit: AuditPort;
  notifier: RecipientNotifier;
  mailer: Mailer;
  segments?: SubjectSegmentsPort | undefined;
  logger: Logger;
  /** Base URL of this server as people reach it (download links in emails). */
  publicUrl: string;
  /** Purposes, beyond `marketing`, `advertising` and sale/share ones, that count as direct marketing (Art. 21(3)). */
  directMarketing?: readonly string[] | undefined;
  now?: () => number;
}

/** A step that cannot happen in the request's state (409). */
export class RightsStateError extends FiduciaError {
  constructor(message: string) {
    super('FIDUCIA_REQUEST_STATE', message);
    this.name = 'RightsStateError';
  }
}

export class RightsNotFoundError extends FiduciaError {
  constructor() {
    super('FIDUCIA_NOT_FOUND', 'no such rights request');
    this.name = 'RightsNotFoundError';
  }
}

export interface StepOptions {
  reason?: string | null;
  patch?: Partial<Omit<RightsRequestsTable, 'id' | 'status'>>;
  audit?: Pick<AuditEntryInput, 'fields' | 'counts'> & { details?: AuditEntryInput['details'] };
}

/**
 * Moves a request to `to` (or records a step in the same state), writes its history row and its audit entry, all
 * in the caller's transaction. Returns the row as it now is.
 */
export async function step(
  trx: DataScope,
  deps: RightsDeps,
  req: RightsRequestsTable,
  to: RightsStatus,
  name: string,
  actor: string,
  opts: StepOptions = {},
): Promise<RightsRequestsTable> {
  const from = req.status as RightsStatus;
  // Same status: a recorded step (waiting, a restriction lifted after completion), not a transition.
  if (from !== to) {
    const d = canTransition(from, to);
    if (!d.ok) throw new RightsStateError(d.reason);
  }
  const now = (deps.now ?? Date.now)();
  const patch: Partial<RightsRequestsTable> = { ...opts.patch, status: to, updated_at: now };
  if (isFinal(to) && from !== to) patch.closed_at = now;
  // A closed request waits for nothing.
  if (isFinal(to) && !(opts.patch && 'waiting' in opts.patch)) patch.waiting = null;
  if (to === 'rejected' && opts.reason !== undefined) patch.status_reason = opts.reason;
  const repo = new RightsRepo(trx);
  await repo.update(req.id, patch);
  await repo.appendHistory({ id: uuidv7(now), request_id: req.id, at: now, status: to, step: name, reason: opts.reason ?? null, actor });
  const next = { ...req, ...patch } as RightsRequestsTable;
  if (isFinal(to) && from !== to) await forgetMail(trx, deps, next);
  await deps.audit.append(trx, [
    {
      actor,
      action: `rights.request.${name}`,
      subjectId: next.subject_id,
      fields: opts.audit?.fields ?? [],
      counts: opts.audit?.counts ?? {},
      outcome: to === 'rejected' ? 'denied' : 'ok',
      details: { requestId: req.id, type: req.type, channel: req.channel, status: to, reason: opts.reason ?? null, ...opts.audit?.details },
    },
  ]);
  return next;
}

/**
 * A closed request needs no copy of the mail sent about it (the code, the address, a link): the outbox's files go now.
 * A completed erasure also takes the mail of every request about the subject (and the subjects merged into it). Mail
 * sent after this (the outcome) goes with the rights sweep. Files are not transactional: should the step's
 * transaction roll back, the copies are gone all the same, which only an undelivered verification code would miss.
 */
async function forgetMail(trx: DataScope, deps: RightsDeps, req: RightsRequestsTable): Promise<void> {
  if (!deps.mailer.forget) return;
  const ids = [req.id];
  if (req.type === 'erasure' && req.status === 'completed' && req.subject_id) {
    const erasure = new ErasureRepo(trx);
    ids.push(...(await erasure.requestsAbout([req.subject_id, ...(await erasure.mergedInto(req.subject_id))])));
  }
  try {
    await deps.mailer.forget([...new Set(ids)]);
  } catch (err) {
    // The sweep tries again; a mail copy is no reason to fail the request's step.
    deps.logger.error({ requestId: req.id, err: errorCode(err) }, 'could not delete the mail copies of a closed request');
  }
}

/**
 * After an erasure's commit: the keystore must hold no copy of the destroyed keys before the request says
 * `keysDestroyed` (throws `KeystorePurgeError` otherwise: the request waits and the sweep retries). On SQLite the
 * data file's WAL is emptied too, best effort (see `ErasureRepo.truncateWal`).
 */
export async function purgeErased(deps: RightsDeps, keyIds: readonly string[]): Promise<void> {
  await deps.ring.purge(keyIds);
  if (!(await new ErasureRepo(deps.db).truncateWal())) deps.logger.info('the data WAL is in use: erased rows stay in its older frames until SQLite reuses them');
}

// ---- the request key: contact address, parameters and packages are encrypted under `rights:<id>` ----

export const requestKeyId = (requestId: string) => `rights:${requestId}`;

export async function sealForRequest(ring: KeyRing, requestId: string, field: string, value: unknown): Promise<Buffer> {
  const kid = requestKeyId(requestId);
  const k = (await ring.currentKeys([kid])).get(kid) ?? (await ring.createKeys([kid])).get(kid)!;
  return encryptJson(k.key, k.version, kid, field, value);
}

/** The decrypted value, or undefined once the request key is destroyed. */
export async function openForRequest(ring: KeyRing, requestId: string, field: string, blob: Uint8Array | null): Promise<unknown> {
  if (!blob) return undefined;
  const kid = requestKeyId(requestId);
  const k = (await ring.currentKeys([kid])).get(kid);
  return k ? decryptJson(k.key, kid, field, blob) : undefined;
}

/**
 * A package is sealed under the subject's own data key (AAD `package:<requestId>`), so erasing the person also
 * crypto-shreds every copy of their packages; with no subject (nothing held) the request key is used. Gzip first:
 * events compress well, and the row is written in the request's transaction.
 */
export async function sealPackage(ring: KeyRing, requestId: string, subjectId: string | null, pkg: unknown): Promise<Buffer> {
  const plain = gzipSync(Buffer.from(JSON.stringify(pkg), 'utf8'), { level: 1 });
  const subjectKey = subjectId ? (await ring.currentKeys([subjectId])).get(subjectId) : undefined;
  if (subjectId && subjectKey) return encryptField(subjectKey.key, subjectKey.version, subjectId, `package:${requestId}`, plain);
  const kid = requestKeyId(requestId);
  const k = (await ring.currentKeys([kid])).get(kid) ?? (await ring.createKeys([kid])).get(kid)!;
  return encryptField(k.key, k.version, kid, `package:${requestId}`, plain);
}

/** The package's JSON text, or undefined once its key is gone (the subject erased, or the request key destroyed). */
export async function openPackage(ring: KeyRing, requestId: string, subjectId: string | null, blob: Uint8Array): Promise<string | undefined> {
  const version = ciphertextKeyVersion(blob);
  for (const owner of [subjectId, requestKeyId(requestId)]) {
    if (!owner) continue;
    const key = await ring.keyVersion(owner, version);
    if (!key) continue;
    try {
      return gunzipSync(decryptField(key, owner, `package:${requestId}`, blob)).toString('utf8');
    } catch {
      // sealed under the other owner's key
    }
  }
  return undefined;
}

/** Crypto-shreds the request's contact address, parameters and package. */
export function destroyRequestKey(ring: KeyRing, requestId: string): Promise<number> {
  return ring.destroy(requestKeyId(requestId));
}

/** What is logged of an error: its code or name. Messages of mail and database errors can quote addresses. */
export function errorCode(err: unknown): string {
  // Our own errors by class: it says more than the catalogue code, which several classes share.
  if (err instanceof FiduciaError) return err.name;
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' || typeof code === 'number') return String(code);
  return err instanceof Error ? err.name : 'error';
}

export function parseJson<T>(text: string | null, fallback: T): T {
  if (!text) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}
