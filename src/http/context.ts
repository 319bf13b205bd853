// What route modules receive from the composition root.
import type { CompiledConfig } from '../domain/privacy-config.ts';
import type { AccessService } from '../services/access.ts';
import type { ConsentService } from '../services/consent.ts';
import type { IngestService } from '../services/ingest.ts';
import type { Metrics } from '../services/metrics.ts';

export interface HttpContext {
  cfg: CompiledConfig;
  access: AccessService;
  ingest: IngestService;
  consent: ConsentService;
  metrics: Metrics;
  /** Liveness of the storage: throws when a database does not answer. */
  ping(): Promise<void>;
}
