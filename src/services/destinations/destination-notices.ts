// Art. 19 for destinations: a rectification, erasure, restriction (or its lifting) or objection is queued for every
// destination that was sent the person's data, in the transaction of the rights step, and delivered like any message
// (signed, retried, tracked until the receiver acknowledges it). The receiver needs to know whom it concerns after the
// person is erased here: the identifiers go encrypted under a key of the notice's own, destroyed once it is delivered.
import { ciphertextKeyVersion, decryptJson, encryptJson } from '../../crypto/envelope.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { DeliveryRepo, pendingDelivery } from '../../store/delivery-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { DeliveriesTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { RecipientChange } from '../rights/recipient-notifier.ts';
import { noticeKeyId } from './delivery-worker.ts';

export class DestinationNotices {
  constructor(
    private readonly cfg: CompiledConfig,
    private readonly ring: KeyRing,
    private readonly now: () => number = Date.now,
  ) {}

  async propagate(trx: DataScope, change: RecipientChange): Promise<void> {
    if (this.cfg.config.destinations.length === 0) return;
    const reached = await new DeliveryRepo(trx).reachedDestinations([change.subjectId]);
    // An objection concerns the destinations of the purposes objected to; the other changes every destination reached.
    const targets = reached
      .map((r) => this.cfg.destination(r.destination_id))
      .filter((d) => d !== undefined)
      .filter((d) => change.action !== 'objection' || d.purposes.some((p) => change.purposes.includes(p)));
    if (targets.length === 0) return;
    const ids = await this.#identifiers(trx, change.subjectId);
    const at = this.now();
    const rows: DeliveriesTable[] = [];
    for (const d of targets) {
      const id = uuidv7(at);
      let secret: Buffer | null = null;
      if (ids.userIds.length + ids.anonymousIds.length > 0) {
        const keyId = noticeKeyId(id);
        const key = (await this.ring.createKeys([keyId])).get(keyId)!;
        secret = encryptJson(key.key, key.version, keyId, 'notice', ids);
      }
      const purposes = d.purposes.filter((p) => change.purposes.includes(p));
      rows.push(pendingDelivery({
        id,
        destination_id: d.id,
        subject_id: change.subjectId,
        kind: 'notice',
        ref: JSON.stringify({ action: change.action, fields: change.fields, purposes, requestId: change.requestId, at }),
        secret_enc: secret,
      }, at));
    }
    await new DeliveryRepo(trx).insert(rows);
  }

  /** The person's userId and anonymousIds, decrypted with its key (still there: the rights step runs before erasure). */
  async #identifiers(trx: DataScope, subjectId: string): Promise<{ userIds: string[]; anonymousIds: string[] }> {
    const out = { userIds: [] as string[], anonymousIds: [] as string[] };
    for (const i of await new ProfileRepo(trx).identitiesOf(subjectId)) {
      if (i.kind !== 'userId' && i.kind !== 'anonymousId') continue;
      const key = await this.ring.keyVersion(subjectId, ciphertextKeyVersion(i.value_enc));
      if (!key) continue;
      const v = decryptJson(key, subjectId, `identity:${i.kind}`, i.value_enc);
      if (typeof v === 'string') (i.kind === 'userId' ? out.userIds : out.anonymousIds).push(v);
    }
    return out;
  }
}
