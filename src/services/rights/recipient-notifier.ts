// Art. 19: recipients of a subject's data are told about rectification, erasure and restriction (and objections). The hook for destinations.
import type { DataScope } from '../../store/scope.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { RightsRepo } from '../../store/rights-repo.ts';

export type RecipientAction = 'rectification' | 'erasure' | 'restriction' | 'restriction_lifted' | 'objection';

export interface RecipientNotice {
  requestId: string | null;
  subjectId: string;
  /** A recipient named in the privacy configuration (or, later, a destination id). */
  recipient: string;
  /** The purposes under which the recipient received the data. */
  purposes: string[];
  action: RecipientAction;
  /** Field names concerned (never values); empty means the whole profile. */
  fields: string[];
}

/**
 * The port: called inside the transaction of the rights step, so a notice exists if and only if the step
 * committed. The shipped implementation writes an outbox (`recipient_notifications`); the destinations
 * mechanism, when it exists, delivers from it (pending rows: `delivered_at IS NULL`) and marks them delivered.
 */
export interface RecipientNotifier {
  notify(trx: DataScope, notices: readonly RecipientNotice[]): Promise<void>;
  /**
   * The same change for the destinations that were sent the subject's data (src/services/destinations/): queued in
   * their delivery outbox, in the same transaction. `purposes` are those the change concerns.
   */
  propagate?(trx: DataScope, change: RecipientChange): Promise<void>;
}

/** One Art. 19 change about one subject, before it is addressed to recipients. */
export type RecipientChange = Omit<RecipientNotice, 'recipient'>;

/** Tells every recipient of the purposes (configured recipients and destinations) about a change, inside `trx`. */
export async function tellRecipients(
  trx: DataScope,
  notifier: RecipientNotifier,
  cfg: CompiledConfig,
  base: Omit<RecipientNotice, 'recipient' | 'purposes'>,
  purposes: Iterable<string>,
): Promise<void> {
  const list = [...purposes];
  await notifier.notify(trx, noticesFor(cfg, base, list));
  await notifier.propagate?.(trx, { ...base, purposes: [...new Set(list)].sort() });
}

export class OutboxRecipientNotifier implements RecipientNotifier {
  constructor(private readonly destinations?: Pick<RecipientNotifier, 'propagate'>) {}

  async propagate(trx: DataScope, change: RecipientChange): Promise<void> {
    await this.destinations?.propagate?.(trx, change);
  }

  async notify(trx: DataScope, notices: readonly RecipientNotice[]): Promise<void> {
    const now = Date.now();
    await new RightsRepo(trx).insertNotifications(
      notices.map((n) => ({
        id: uuidv7(now),
        request_id: n.requestId,
        subject_id: n.subjectId,
        recipient: n.recipient,
        purposes: JSON.stringify(n.purposes),
        action: n.action,
        fields: JSON.stringify(n.fields),
        created_at: now,
        delivered_at: null,
      })),
    );
  }
}

/**
 * The recipients who may have received a subject's data: those of the purposes its data was collected under.
 * One notice per recipient, listing those purposes.
 */
export function noticesFor(
  cfg: CompiledConfig,
  base: Omit<RecipientNotice, 'recipient' | 'purposes'>,
  purposes: Iterable<string>,
  only?: (purpose: string) => boolean,
): RecipientNotice[] {
  const byRecipient = new Map<string, Set<string>>();
  for (const key of purposes) {
    if (only && !only(key)) continue;
    for (const r of cfg.purpose(key)?.recipients ?? []) {
      let s = byRecipient.get(r.name);
      if (!s) byRecipient.set(r.name, (s = new Set()));
      s.add(key);
    }
  }
  return [...byRecipient].map(([recipient, ps]) => ({ ...base, recipient, purposes: [...ps].sort() }));
}
