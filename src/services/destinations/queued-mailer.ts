// Rights-request mail through the delivery outbox when SMTP is set: each message becomes a `deliveries` row (the
// built-in destination `@mail`), sent by the delivery worker with the same retries, backoff and dead letter as any
// destination's. The message (address and text) is encrypted under a key of its own, destroyed once it is sent.
import { encryptJson } from '../../crypto/envelope.ts';
import { uuidv7 } from '../../domain/ids.ts';
import { DeliveryRepo, pendingDelivery } from '../../store/delivery-repo.ts';
import type { DataScope } from '../../store/scope.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { MailMessage, Mailer } from '../rights/mailer.ts';

/** The outbox's own destination for mail: not a configurable id (those start with a letter). */
export const MAIL_DESTINATION = '@mail';
export const mailKeyId = (deliveryId: string): string => `mail:${deliveryId}`;

export class QueuedMailer implements Mailer {
  constructor(
    private readonly db: DataScope,
    private readonly ring: KeyRing,
    private readonly onQueued: () => void = () => undefined,
    private readonly now: () => number = Date.now,
  ) {}

  async send(msg: MailMessage): Promise<void> {
    const at = this.now();
    const id = uuidv7(at);
    const keyId = mailKeyId(id);
    const key = (await this.ring.createKeys([keyId])).get(keyId)!;
    await new DeliveryRepo(this.db).insert([
      pendingDelivery({
        id,
        destination_id: MAIL_DESTINATION,
        // Mail is about a request, not a person's profile: one queue per request keeps its messages in order (a
        // message about no request names a queue of its own, never a subject id: it is not data sent about a person).
        subject_id: msg.queue ?? msg.requestId ?? 'none',
        kind: 'mail',
        ref: JSON.stringify({ kind: msg.kind }),
        secret_enc: encryptJson(key.key, key.version, keyId, 'mail', { to: msg.to, subject: msg.subject, text: msg.text }),
      }, at),
    ]);
    this.onQueued();
  }
}
