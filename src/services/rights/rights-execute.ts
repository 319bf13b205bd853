// Carrying out each type of request inside its transaction: packages, erasure, rectification, restriction, objection.
import type { DataScope } from '../../store/scope.ts';
import { encryptJson } from '../../crypto/envelope.ts';
import { decideCategory } from '../../domain/collection.ts';
import { basisHolds, type ConsentStatus } from '../../domain/consent.ts';
import { normalizeIdentity, type IdentityKind } from '../../domain/identity.ts';
import { buildAccessPackage, buildPortabilityPackage, type Profiling } from '../../domain/rights-package.ts';
import { PACKAGE_TTL_MS, objectionOutcome, type ObjectionOutcome } from '../../domain/rights.ts';
import { ErasureRepo } from '../../store/erasure-repo.ts';
import { ObjectionRepo } from '../../store/objection-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import { RightsRepo } from '../../store/rights-repo.ts';
import type { RightsRequestsTable } from '../../store/schema.ts';
import type { StoredSubjectState } from '../../store/subject-state-repo.ts';
import { tellRecipients } from './recipient-notifier.ts';
import { readSubjectData } from './rights-data.ts';
import { errorCode, purgeErased, requestKeyId, sealPackage, step, type RightsDeps } from './rights-steps.ts';
import { InvariantError } from '../../domain/errors.ts';

export interface ExecuteParams {
  /** Rectification: trait name → corrected value (null removes the trait). */
  traits?: Record<string, unknown> | undefined;
  /** Objection: purpose keys. */
  purposes?: string[] | undefined;
}

export interface Executed {
  row: RightsRequestsTable;
  /** Work that must follow the commit (key destruction), in order. */
  afterCommit: (() => Promise<void>)[];
}

type Trx = DataScope;
const now = (deps: RightsDeps) => (deps.now ?? Date.now)();

export async function buildPackage(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, state: StoredSubjectState | null, actor: string, profiling?: Profiling): Promise<Executed> {
  const at = now(deps);
  const { data, unreadable } = await readSubjectData(trx, deps.ring, state);
  data.profiling = profiling;
  const pkg = req.type === 'access' ? buildAccessPackage(deps.cfg, data, at) : buildPortabilityPackage(deps.cfg, data, at);
  const blob = await sealPackage(deps.ring, req.id, state?.subjectId ?? null, pkg);
  const expiresAt = at + PACKAGE_TTL_MS;
  await new RightsRepo(trx).putPackage({ request_id: req.id, subject_id: state?.subjectId ?? null, kind: req.type, package_enc: blob, size: blob.length, created_at: at, expires_at: expiresAt });
  const counts = { identities: data.identities.length, traits: data.traits.length, events: data.events.length, consents: data.consents.length, unreadable };
  // The read of personal data itself is on record: which fields, how many rows, for which request.
  await deps.audit.append(trx, [
    {
      actor,
      action: 'rights.package.built',
      subjectId: state?.subjectId ?? null,
      fields: [...data.identities.map((i) => `identity:${i.kind}`), ...data.traits.map((t) => `trait:${t.name}`), ...(data.events.length > 0 ? ['events'] : [])],
      counts,
      outcome: 'ok',
      details: { requestId: req.id, kind: req.type, basis: req.type === 'access' ? 'gdpr_art_15' : 'gdpr_art_20' },
    },
  ]);
  const outcome = { subjectFound: state !== null, ...counts, expiresAt: new Date(expiresAt).toISOString() };
  const row = await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify(outcome) }, audit: { counts } });
  return { row, afterCommit: [] };
}

export async function erase(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, state: StoredSubjectState | null, actor: string, suppress: boolean): Promise<Executed> {
  const at = now(deps);
  const erasure = new ErasureRepo(trx);
  const suppressRows = suppress && req.identity_kind && req.identity_index ? [{ kind: req.identity_kind, blind_index: Buffer.from(req.identity_index), request_id: req.id, created_at: at }] : [];
  if (!state || state.erasedAt !== null) {
    await erasure.suppress(suppressRows);
    const outcome = { subjectFound: false, suppressed: suppressRows.length };
    return { row: await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify(outcome), waiting: null } }), afterCommit: [] };
  }
  const subjectId = state.subjectId;
  // Locks the subject against concurrent ingestion and merges (PostgreSQL) until the rows are gone.
  await new ProfileRepo(trx).lockSubjects([subjectId], 'update');
  const repo = new RightsRepo(trx);
  const hold = await repo.activeHold(subjectId);
  if (hold) {
    const row = await step(trx, deps, req, 'in_progress', 'waiting', actor, { reason: 'legal_hold', patch: { waiting: 'legal_hold' }, audit: { details: { holdId: hold.id } } });
    return { row, afterCommit: [] };
  }
  for (const i of await erasure.identityIndexes(subjectId)) {
    if (suppress) suppressRows.push({ kind: i.kind, blind_index: Buffer.from(i.blind_index), request_id: req.id, created_at: at });
  }
  const purposes = new Set<string>();
  for (const list of await erasure.purposeLists(subjectId)) for (const p of JSON.parse(list) as string[]) purposes.add(p);
  const merged = await erasure.mergedInto(subjectId);
  const packages = (await erasure.packageRequests(subjectId)).filter((id) => id !== req.id);
  // Before the rows go: a destination's notice carries the identifiers it knew the person by (encrypted, see
  // src/services/destinations/destination-notices.ts).
  await tellRecipients(trx, deps.notifier, deps.cfg, { requestId: req.id, subjectId, action: 'erasure', fields: [] }, purposes);
  const counts = await erasure.deleteSubjectRows(subjectId, merged, at);
  await deps.segments?.forget(trx, [subjectId, ...merged]);
  await erasure.suppress(suppressRows);
  await deps.audit.append(trx, [
    { actor, action: 'rights.erasure', subjectId, counts: { ...counts, suppressed: suppressRows.length }, outcome: 'ok', details: { requestId: req.id } },
  ]);
  const outcome = { subjectFound: true, ...counts, suppressed: suppressRows.length, keysDestroyed: false };
  const row = await step(trx, deps, req, 'in_progress', 'rows_deleted', actor, { patch: { outcome: JSON.stringify(outcome), waiting: 'key_destruction' }, audit: { counts: { ...counts } } });
  // The keys live in the keystore (another database), destroyed before this transaction commits: should the commit
  // fail, what is left is already unreadable and a new request deletes it. If the keystore fails, the rows still go
  // and the key destruction is retried after the commit, then by the sweep.
  const keyIds = [subjectId, ...merged, ...packages.map(requestKeyId)];
  const destroy = async () => {
    for (const id of keyIds) await deps.ring.destroy(id);
  };
  // The request completes after the commit (rights.ts `#run`), once the keystore holds no copy of the keys: on
  // PostgreSQL the deleted key rows cannot be vacuumed while this transaction is open.
  const purge = () => purgeErased(deps, keyIds);
  try {
    await destroy();
  } catch (err) {
    deps.logger.error({ requestId: req.id, err: errorCode(err) }, 'could not destroy the keys of an erased subject: will retry');
    return { row, afterCommit: [destroy, purge] };
  }
  return { row, afterCommit: [purge] };
}

/** The second half of an erasure, once the keys are destroyed and purged from the keystore. */
export async function finishErasure(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, actor: string): Promise<RightsRequestsTable> {
  // The sweep's retry destroys the keys again just before this (its own transaction began after that): purge them.
  if (req.subject_id) await deps.ring.purge([req.subject_id, ...(await new ErasureRepo(trx).mergedInto(req.subject_id))]);
  const outcome = { ...(JSON.parse(req.outcome) as Record<string, unknown>), keysDestroyed: true };
  return step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify(outcome), waiting: null } });
}

function validNowFor(deps: RightsDeps, state: StoredSubjectState): (key: string) => boolean {
  const ledger = new Map(state.consents.map((c) => [c.purpose, { ...c, status: c.status as ConsentStatus }]));
  const objections = new Set(state.objections);
  return (key) => {
    const p = deps.cfg.purpose(key);
    return p !== undefined && !objections.has(key) && basisHolds(p, ledger.get(key), (v) => deps.cfg.noticeVersionValid(v)).holds;
  };
}

export async function rectify(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, state: StoredSubjectState | null, actor: string, traits: Record<string, unknown>): Promise<Executed> {
  const subjectId = state?.subjectId;
  const key = subjectId && state.erasedAt === null ? (await deps.ring.currentKeys([subjectId])).get(subjectId) : undefined;
  if (!subjectId || !key) {
    return { row: await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify({ subjectFound: false }) } }), afterCommit: [] };
  }
  const at = now(deps);
  const profiles = new ProfileRepo(trx);
  await profiles.lockSubjects([subjectId], 'update');
  const existing = new Map((await profiles.traitsOf(subjectId)).map((t) => [t.name, t]));
  const updated: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  const refused: Record<string, string> = {};
  const purposes = new Set<string>();
  const validNow = validNowFor(deps, state);
  const source = requestKeyId(req.id);
  for (const [name, value] of Object.entries(traits)) {
    const prev = existing.get(name);
    const category = prev?.category ?? deps.cfg.classifyTrait(name);
    if (!category) {
      refused[name] = 'unknown_trait';
      continue;
    }
    let traitPurposes: string[];
    if (prev) traitPurposes = JSON.parse(prev.purposes) as string[];
    else {
      const d = decideCategory(deps.cfg, category, validNow);
      if (!d.keep) {
        refused[name] = d.reason;
        continue;
      }
      traitPurposes = d.purposes;
    }
    if (name === 'email' || name === 'phone') {
      const problem = await relinkIdentity(trx, deps, subjectId, name, value, key);
      if (problem) {
        refused[name] = problem;
        continue;
      }
    }
    if (value === null) {
      if (!prev) continue;
      await profiles.deleteTrait(subjectId, name);
      removed.push(name);
    } else {
      const value_enc = encryptJson(key.key, key.version, subjectId, `trait:${name}`, value);
      // Direct write, not the last-write-wins upsert: a correction replaces the value whatever its time.
      await profiles.replaceTrait({ subject_id: subjectId, name, category, value_enc, purposes: JSON.stringify(traitPurposes), source_id: source, updated_at: at });
      (prev ? updated : added).push(name);
    }
    for (const p of traitPurposes) purposes.add(p);
  }
  const changed = [...updated, ...added, ...removed];
  if (changed.length > 0) {
    await tellRecipients(trx, deps.notifier, deps.cfg, { requestId: req.id, subjectId, action: 'rectification', fields: changed.map((n) => `trait:${n}`) }, purposes);
    await deps.audit.append(trx, [
      { actor, action: 'rights.rectification', subjectId, fields: changed.map((n) => `trait:${n}`), counts: { updated: updated.length, added: added.length, removed: removed.length }, outcome: 'ok', details: { requestId: req.id } },
    ]);
  }
  const outcome = { subjectFound: true, updated, added, removed, refused };
  const row =
    changed.length > 0 || Object.keys(refused).length === 0
      ? await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify(outcome) } })
      : await step(trx, deps, req, 'rejected', 'rejected', actor, { reason: 'not_applicable', patch: { outcome: JSON.stringify(outcome) } });
  return { row, afterCommit: [] };
}

/** A corrected email or phone also replaces the identity it linked (old blind index out, new one in). */
async function relinkIdentity(trx: Trx, deps: RightsDeps, subjectId: string, kind: IdentityKind, value: unknown, key: { key: Buffer; version: number }): Promise<string | null> {
  const profiles = new ProfileRepo(trx);
  const old = await profiles.identityIndexesOf(subjectId, kind);
  if (value === null) {
    await profiles.deleteIdentitiesOf(subjectId, kind);
    return null;
  }
  const normalized = normalizeIdentity(kind, value);
  if (!normalized) return 'invalid_identity';
  const bi = deps.ring.blindIndex.index(kind, normalized);
  const holder = await profiles.identityHolder(kind, bi);
  if (holder !== undefined && holder !== subjectId) return 'identity_in_use';
  if (old.length > 0) await profiles.deleteIdentitiesOf(subjectId, kind);
  await profiles.insertIdentities([
    { kind, blind_index: bi, subject_id: subjectId, value_enc: encryptJson(key.key, key.version, subjectId, `identity:${kind}`, normalized), created_at: now(deps), asserted: 'rights_request' },
  ]);
  return null;
}

async function subjectPurposes(trx: Trx, subjectId: string): Promise<Set<string>> {
  const out = new Set<string>();
  for (const list of await new ErasureRepo(trx).purposeLists(subjectId)) for (const p of JSON.parse(list) as string[]) out.add(p);
  return out;
}

export async function restrict(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, state: StoredSubjectState | null, actor: string): Promise<Executed> {
  if (!state || state.erasedAt !== null) {
    return { row: await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify({ subjectFound: false }) } }), afterCommit: [] };
  }
  const subjectId = state.subjectId;
  await new ProfileRepo(trx).restrict(subjectId, now(deps));
  await tellRecipients(trx, deps.notifier, deps.cfg, { requestId: req.id, subjectId, action: 'restriction', fields: [] }, await subjectPurposes(trx, subjectId));
  await deps.audit.append(trx, [{ actor, action: 'rights.restriction', subjectId, outcome: 'ok', details: { requestId: req.id, restricted: true } }]);
  const row = await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify({ subjectFound: true, restricted: true }) } });
  return { row, afterCommit: [] };
}

/** Art. 18(3): lifting is recorded on the request that asked for the restriction, and recipients are told. */
export async function liftRestriction(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, actor: string, reason: string): Promise<RightsRequestsTable> {
  const subjectId = req.subject_id;
  if (!subjectId) throw new InvariantError('a restriction to lift names no subject');
  await new ProfileRepo(trx).liftRestriction(subjectId);
  await tellRecipients(trx, deps.notifier, deps.cfg, { requestId: req.id, subjectId, action: 'restriction_lifted', fields: [] }, await subjectPurposes(trx, subjectId));
  await deps.audit.append(trx, [{ actor, action: 'rights.restriction.lifted', subjectId, outcome: 'ok', details: { requestId: req.id } }]);
  const outcome = { ...(JSON.parse(req.outcome) as Record<string, unknown>), restricted: false, liftedAt: new Date(now(deps)).toISOString(), liftReason: reason };
  return step(trx, deps, req, req.status as 'completed', 'restriction_lifted', actor, { patch: { outcome: JSON.stringify(outcome) } });
}

export async function object(trx: Trx, deps: RightsDeps, req: RightsRequestsTable, state: StoredSubjectState | null, actor: string, purposeKeys: readonly string[]): Promise<Executed> {
  const results: Record<string, ObjectionOutcome | 'unknown_purpose'> = {};
  for (const key of purposeKeys) {
    const p = deps.cfg.purpose(key);
    results[key] = p ? objectionOutcome(p, deps.directMarketing) : 'unknown_purpose';
  }
  const stopped = Object.entries(results).filter(([, o]) => o.startsWith('stopped')).map(([k]) => k);
  if (!state || state.erasedAt !== null) {
    return { row: await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome: JSON.stringify({ subjectFound: false, purposes: results }) } }), afterCommit: [] };
  }
  const subjectId = state.subjectId;
  const at = now(deps);
  const objections = new ObjectionRepo(trx);
  for (const key of stopped) await objections.object(subjectId, key, at, req.id);
  if (stopped.length > 0) {
    await tellRecipients(trx, deps.notifier, deps.cfg, { requestId: req.id, subjectId, action: 'objection', fields: [] }, stopped);
    await deps.audit.append(trx, [{ actor, action: 'rights.objection', subjectId, outcome: 'ok', details: { requestId: req.id, purposes: stopped.join(',') } }]);
  }
  const outcome = JSON.stringify({ subjectFound: true, purposes: results });
  const row =
    stopped.length > 0
      ? await step(trx, deps, req, 'completed', 'completed', actor, { patch: { outcome } })
      : await step(trx, deps, req, 'rejected', 'rejected', actor, { reason: 'not_applicable', patch: { outcome } });
  return { row, afterCommit: [] };
}
