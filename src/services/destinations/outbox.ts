// Queues what each destination is owed, in the group commit that stores it: an event row per stored event, an identify
// row per person whose traits changed, for every destination whose purposes could ever use that category. Whether it
// is sent, and which fields, is decided when it is sent (src/services/destinations/delivery-worker.ts).
import { DestinationView } from '../../domain/destination-payload.ts';
import { uuidv7 } from '../../domain/ids.ts';
import type { PolicyEngine } from '../../domain/policy.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { Destination } from '../../domain/privacy-config-types.ts';
import { UNCLASSIFIED } from '../../domain/privacy-config-types.ts';
import { DeliveryRepo, pendingDelivery } from '../../store/delivery-repo.ts';
import type { DeliveriesTable } from '../../store/schema.ts';
import type { DataScope } from '../../store/scope.ts';
import type { FlushSummary, IngestObserver } from '../ingest/ingest-flush.ts';

export class DestinationOutbox implements IngestObserver {
  readonly #destinations: readonly Destination[];
  /** destination id → category → whether it could ever be sent there (the taxonomy is small; unknown names are bounded below). */
  readonly #coverage = new Map<string, Map<string, boolean>>();

  constructor(
    private readonly cfg: CompiledConfig,
    private readonly policy: PolicyEngine,
    private readonly now: () => number = Date.now,
  ) {
    this.#destinations = cfg.config.destinations;
  }

  get active(): boolean {
    return this.#destinations.length > 0;
  }

  async onCommitting(trx: DataScope, summary: FlushSummary): Promise<void> {
    if (this.#destinations.length === 0) return;
    const now = this.now();
    const rows: DeliveriesTable[] = [];
    const row = (d: Destination, subjectId: string, kind: DeliveriesTable['kind'], ref: string): DeliveriesTable =>
      pendingDelivery({ id: uuidv7(now), destination_id: d.id, subject_id: subjectId, kind, ref, secret_enc: null }, now);
    // Traits first: in one group, a person's identify usually comes before the events it explains.
    for (const [subjectId, s] of summary.subjects) {
      if (s.traits.length === 0) continue;
      for (const d of this.#destinations) {
        const names = s.traits.filter((n) => this.#could(d, this.cfg.classifyTrait(n) ?? UNCLASSIFIED));
        if (names.length > 0) rows.push(row(d, subjectId, 'identify', JSON.stringify(names.sort())));
      }
    }
    for (const e of summary.written ?? []) {
      for (const d of this.#destinations) if (this.#could(d, e.category)) rows.push(row(d, e.subjectId, 'event', e.id));
    }
    await new DeliveryRepo(trx).insert(rows);
  }

  #could(d: Destination, category: string): boolean {
    let byCategory = this.#coverage.get(d.id);
    if (!byCategory) this.#coverage.set(d.id, (byCategory = new Map()));
    const known = byCategory.get(category);
    if (known !== undefined) return known;
    const could = DestinationView.couldReceive(this.policy, d, category);
    // Categories come from the configuration's taxonomy (and `unclassified`): the cache stays that small.
    if (byCategory.size < 10_000) byCategory.set(category, could);
    return could;
  }
}
