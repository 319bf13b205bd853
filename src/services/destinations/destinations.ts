// Destinations as operators see them: what is configured (never the secret), how each one's outbox stands, its
// deliveries (codes and counts, never values) and the replay of dead letters.
import { FiduciaError } from '../../domain/errors.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { Destination } from '../../domain/privacy-config-types.ts';
import { DeliveryRepo, type DeliveryListing } from '../../store/delivery-repo.ts';
import type { DeliveryStatus } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AuditRecorder } from '../audit/audit-port.ts';

export class UnknownDestinationError extends FiduciaError {
  constructor(id: string) {
    super('FIDUCIA_NOT_FOUND', 'no destination has this id', { destination: id.slice(0, 64) });
    this.name = 'UnknownDestinationError';
  }
}

export interface DestinationSummary {
  id: string;
  kind: Destination['kind'];
  name: string;
  recipientKind: Destination['recipientKind'];
  purposes: string[];
  categories: string[] | null;
  /** The endpoint's origin only: a path or query may carry a token. */
  endpointOrigin: string;
  country: string;
  transfer: Destination['transfer'] | null;
  allowPrivateNetwork: boolean;
  /** Outbox rows by status. */
  deliveries: Record<DeliveryStatus, number>;
}

export class DestinationService {
  constructor(
    private readonly db: DataScope,
    private readonly cfg: CompiledConfig,
    private readonly audit: AuditRecorder,
    private readonly now: () => number = Date.now,
    /** Called after a replay, so the worker looks at once. */
    private readonly onReplay?: () => void,
  ) {}

  async list(): Promise<DestinationSummary[]> {
    const counts = await new DeliveryRepo(this.db).counts();
    return this.cfg.config.destinations.map((d) => {
      const deliveries: Record<DeliveryStatus, number> = { pending: 0, delivered: 0, skipped: 0, dead: 0 };
      for (const c of counts) if (c.destination_id === d.id) deliveries[c.status] = c.n;
      return {
        id: d.id,
        kind: d.kind,
        name: d.name,
        recipientKind: d.recipientKind,
        purposes: [...d.purposes],
        categories: d.categories ? [...d.categories] : null,
        endpointOrigin: new URL(d.endpoint).origin,
        country: d.country,
        transfer: d.transfer ?? null,
        allowPrivateNetwork: d.allowPrivateNetwork,
        deliveries,
      };
    });
  }

  async deliveries(id: string, q: { status?: DeliveryStatus | undefined; beforeId?: string | undefined; limit: number }): Promise<{ deliveries: DeliveryListing[]; next: string | null }> {
    this.#destination(id);
    const rows = await new DeliveryRepo(this.db).list(id, { ...q, limit: q.limit + 1 });
    const page = rows.slice(0, q.limit);
    return { deliveries: page, next: rows.length > q.limit && page.length > 0 ? page[page.length - 1]!.id : null };
  }

  /** Dead letters back in their queues (all of the destination's, or the ids given); audited. */
  async replay(id: string, ids: readonly string[] | undefined, actor: string): Promise<number> {
    this.#destination(id);
    const n = await this.db.transaction(async (trx) => new DeliveryRepo(trx).replay(id, this.now(), ids));
    await this.audit.record([{ actor, action: 'destination.replay', outcome: 'ok', counts: { replayed: n }, details: { destination: id } }]);
    if (n > 0) this.onReplay?.();
    return n;
  }

  #destination(id: string): Destination {
    const d = this.cfg.destination(id);
    if (!d) throw new UnknownDestinationError(id);
    return d;
  }
}
