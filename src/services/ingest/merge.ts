// Merging two stored subjects that turned out to be one person: rows move to the survivor, re-encrypted under its key.
import type { DataScope } from '../../store/scope.ts';
import { ciphertextKeyVersion, decryptField, encryptField } from '../../crypto/envelope.ts';
import { FiduciaError } from '../../domain/errors.ts';
import { ConsentRepo } from '../../store/consent-repo.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ObjectionRepo } from '../../store/objection-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import { SubjectStateRepo } from '../../store/subject-state-repo.ts';
import type { KeyRing } from '../keys/keyring.ts';

/** A subject without a data key: storage and keystore disagree (500; the message, with the subject id, is logged only). */
export class MissingKeyError extends FiduciaError {
  constructor(subjectId: string) {
    super('FIDUCIA_INTERNAL', `no data key for subject ${subjectId}`);
    this.name = 'MissingKeyError';
  }
}

/**
 * Traits: the most recent write wins. Events, identities and consent records all move.
 * The loser keeps a row pointing at the survivor; its key is destroyed by the caller after commit.
 */
export async function mergeStoredSubjects(
  trx: DataScope,
  ring: KeyRing,
  survivor: string,
  loser: string,
): Promise<void> {
  const target = (await ring.currentKeys([survivor])).get(survivor);
  if (!target) throw new MissingKeyError(survivor);
  const loserKeys = new Map<number, Buffer>();
  const move = async (field: string, blob: Uint8Array): Promise<Buffer> => {
    const version = ciphertextKeyVersion(blob);
    let key = loserKeys.get(version);
    if (!key) {
      key = await ring.keyVersion(loser, version);
      if (!key) throw new MissingKeyError(loser);
      loserKeys.set(version, key);
    }
    const plain = decryptField(key, loser, field, blob);
    return encryptField(target.key, target.version, survivor, field, plain);
  };

  const profiles = new ProfileRepo(trx);
  const survivorTraits = new Map((await profiles.traitsOf(survivor)).map((t) => [t.name, t.updated_at]));
  const moved = [];
  for (const t of await profiles.traitsOf(loser)) {
    const theirs = survivorTraits.get(t.name);
    if (theirs !== undefined && theirs >= t.updated_at) continue;
    moved.push({ ...t, subject_id: survivor, value_enc: await move(`trait:${t.name}`, t.value_enc) });
  }
  await profiles.deleteTraits(loser);
  await profiles.upsertTraits(moved);

  for (const i of await profiles.identitiesOf(loser)) {
    await profiles.reassignIdentity(i.kind, Buffer.from(i.blind_index), survivor, await move(`identity:${i.kind}`, i.value_enc));
  }

  const events = new EventRepo(trx);
  // Moved events leave the loser, so the first page is always the next one.
  for (let page = await events.eventsOf(loser, null, 500); page.length > 0; page = await events.eventsOf(loser, null, 500)) {
    const moved = [];
    for (const e of page) moved.push({ ...e, subject_id: survivor, payload_enc: await move(`event:${e.id}`, e.payload_enc) });
    await events.moveEvents(loser, moved);
  }

  await new ConsentRepo(trx).reassign(loser, survivor);
  await new ObjectionRepo(trx).reassign(loser, survivor);
  await new SubjectStateRepo(trx).reassign(loser, survivor);
  await profiles.markMerged(loser, survivor, Date.now());
}
