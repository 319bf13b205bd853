// Housekeeping of rights requests: expired packages and unconfirmed requests are crypto-shredded, interrupted erasures finished.
import { isFinal, type RightsStatus } from '../../domain/rights.ts';
import type { DataScope } from '../../store/scope.ts';
import { oldestOpenDataTransaction } from '../../store/keystore-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { RightsIntake } from './rights-intake.ts';
import { destroyRequestKey, errorCode, parseJson, type RightsDeps } from './rights-steps.ts';
import type { RightsService } from './rights.ts';

export interface SweepReport {
  packagesExpired: number;
  unverifiedRejected: number;
  erasuresFinished: number;
  requestKeysDestroyed: number;
  /** Mail copies (outbox files) deleted: of closed requests, and about no known request, once older than a day. */
  mailDeleted: number;
  /** Subject keys whose subject never committed (a process stopped between the two commits), deleted. */
  orphanKeysDeleted: number;
  /** Whether the keystore now holds no copy of the keys this process destroyed (merge losers, request keys). */
  keystorePurged: boolean;
}

const SYSTEM = 'system';
/** Rate-limit windows older than this are dropped (the longest window is an hour). */
const RATE_WINDOW_KEEP_MS = 24 * 3600_000;
/**
 * Mail written after its request closed (the outcome) is kept this long for whoever delivers the outbox by hand, then
 * deleted; so is mail that names no request. Mail written before the close went with it (rights-steps.ts `step`).
 */
export const MAIL_KEEP_MS = 24 * 3600_000;

export async function sweepRights(deps: RightsDeps, rights: RightsService, intake: RightsIntake): Promise<SweepReport> {
  const now = (deps.now ?? Date.now)();
  const repo = new RightsRepo(deps.db);
  const report: SweepReport = { packagesExpired: 0, unverifiedRejected: 0, erasuresFinished: 0, requestKeysDestroyed: 0, mailDeleted: 0, orphanKeysDeleted: 0, keystorePurged: false };

  for (const id of await repo.expiredPackages(now, 500)) {
    await deps.db.transaction(async (trx) => {
      const pkg = await new RightsRepo(trx).getPackage(id);
      await new RightsRepo(trx).deletePackage(id);
      await new RightsRepo(trx).update(id, { contact_enc: null, params_enc: null, download_hash: null });
      await deps.audit.append(trx, [{ actor: SYSTEM, action: 'rights.package.expired', subjectId: pkg?.subject_id ?? null, outcome: 'ok', details: { requestId: id } }]);
    });
    await destroyRequestKey(deps.ring, id);
    report.packagesExpired++;
  }

  report.unverifiedRejected = await intake.expireUnverified();

  // An erasure whose keys could not be destroyed right after its commit (crash, keystore down) is finished here.
  const stuck = await repo.awaitingKeyDestruction(100);
  for (const id of stuck) {
    try {
      await rights.process(id, SYSTEM);
      report.erasuresFinished++;
    } catch (err) {
      deps.logger.error({ requestId: id, err: errorCode(err) }, 'could not finish an erasure');
    }
  }

  // Closed requests no longer need the contact address or the corrections they carried (restrictions in force excepted).
  for (const { id } of await repo.closedWithPersonalParts(500)) {
    const req = await repo.get(id);
    if (!req) continue;
    if (req.type === 'restriction' && req.status === 'completed' && parseJson<{ restricted?: boolean }>(req.outcome, {}).restricted === true) continue;
    await repo.update(id, { contact_enc: null, params_enc: null });
    await destroyRequestKey(deps.ring, id);
    report.requestKeysDestroyed++;
  }

  await repo.pruneRateLimits(now - RATE_WINDOW_KEEP_MS);
  report.mailDeleted = await sweepMail(deps, now);

  try {
    report.orphanKeysDeleted = (await sweepOrphanKeys(deps)).deleted;
  } catch (err) {
    deps.logger.warn({ err: errorCode(err) }, 'orphan keys could not be swept now: next sweep');
  }

  // Keys destroyed outside an erasure (merge losers, request keys above) leave the keystore's files and pages too.
  try {
    await deps.ring.purge();
    report.keystorePurged = true;
  } catch (err) {
    deps.logger.warn({ err: errorCode(err) }, 'the keystore could not be purged of destroyed keys now: next sweep');
  }
  return report;
}

/** Deletes the mail copies of closed requests (and of none) written more than `MAIL_KEEP_MS` ago. */
async function sweepMail(deps: RightsDeps, now: number): Promise<number> {
  if (!deps.mailer.held || !deps.mailer.forget) return 0;
  const before = now - MAIL_KEEP_MS;
  const old = new Set<string | null>();
  for (const m of await deps.mailer.held()) if (m.writtenAt < before) old.add(m.requestId);
  if (old.size === 0) return 0;
  const ids = [...old].filter((id): id is string => id !== null);
  const open = new Set<string>();
  for (let i = 0; i < ids.length; i += 500) {
    const rows = await new RightsRepo(deps.db).statuses(ids.slice(i, i + 500));
    for (const r of rows) if (!isFinal(r.status as RightsStatus)) open.add(r.id);
  }
  // An open request's mail stays until it closes (a rectification waiting for staff can take longer than a day).
  return deps.mailer.forget([...old].filter((id) => id === null || !open.has(id)), before);
}

/**
 * Deletes data keys whose subject the data database does not hold, once they are older than any transaction that
 * could still commit one (KeyRing.sweepOrphans). Run by every rights sweep; tests pass `minAgeMs`.
 */
export function sweepOrphanKeys(deps: { db: DataScope; ring: KeyRing }, opts: { minAgeMs?: number } = {}): Promise<{ deleted: number; checkedUntil: number }> {
  const profiles = new ProfileRepo(deps.db);
  return deps.ring.sweepOrphans({
    exists: async (ids) => new Set((await profiles.subjects(ids)).map((s) => s.id)),
    oldestOpenTransaction: () => oldestOpenDataTransaction(deps.db),
    ...(opts.minAgeMs !== undefined ? { minAgeMs: opts.minAgeMs } : {}),
  });
}
