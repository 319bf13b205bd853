// What route modules receive from the composition root.
import type { CompiledConfig } from '../domain/privacy-config.ts';
import type { AccessService } from '../services/access/access.ts';
import type { ConsoleUsers } from '../services/console/console-users.ts';
import type { AuditLog } from '../services/audit/audit-log.ts';
import type { BreachNotices } from '../services/breaches/breach-notices.ts';
import type { BreachService } from '../services/breaches/breaches.ts';
import type { AuthFailureRecorder } from './auth-failures.ts';
import type { RopaService } from '../services/config/ropa.ts';
import type { ConsentService } from '../services/consent/consent.ts';
import type { IngestService } from '../services/ingest/ingest.ts';
import type { JobScheduler } from '../services/jobs/scheduler.ts';
import type { DestinationService } from '../services/destinations/destinations.ts';
import type { Metrics } from '../services/metrics.ts';
import type { ExfiltrationService } from '../services/exfiltration/exfiltration.ts';
import type { LiveDebugger } from '../services/debugger/live-debugger.ts';
import type { OverviewService } from '../services/overview/overview.ts';
import type { PagesSource } from '../services/access/pages.ts';
import type { ProfileService } from '../services/profiles/profiles.ts';
import type { VisitorCredentials } from '../services/profiles/visitor-credentials.ts';
import type { RightsIntake } from '../services/rights/rights-intake.ts';
import type { RightsService } from '../services/rights/rights.ts';
import type { SegmentService } from '../services/segments/segments.ts';
import type { TransparencyService } from '../services/transparency/transparency.ts';

export interface HttpContext {
  cfg: CompiledConfig;
  access: AccessService;
  ingest: IngestService;
  consent: ConsentService;
  /** The audit log: `ctx.audit.record(entries)` for entries that stand alone (refusals, counts, deletions). */
  audit: AuditLog;
  /** Record of processing (Art. 30) and the notice's purpose table. */
  ropa: RopaService;
  metrics: Metrics;
  /** Exfiltration detection: reads with no audit entry per subject (segment pages) report here; subjects read listed back. */
  exfiltration: ExfiltrationService;
  /** Each source's live debugger: its latest messages as field names and reason codes (`/api/v1/sources/:id/debugger`). */
  debugger: LiveDebugger;
  /** The console's overview: aggregate figures only (`/api/v1/overview`). */
  overview: OverviewService;
  /** Refused tokens, counted per window and network and audited in summary (see auth-failures.ts). */
  authFailures: AuthFailureRecorder;
  /** Purpose-bound profile reads (policy engine, decryption after the decision, one audit entry per read). */
  profiles: ProfileService;
  /** Visitors' credentials for their own profile (`/v1/me/…`). */
  visitors: VisitorCredentials;
  /** Segments and computed traits: definitions, memberships (`membershipsIn(rows, purpose)`), counts. */
  segments: SegmentService;
  /** Data-subject rights requests (staff API) and their self-service intake (privacy center). */
  rights: RightsService;
  rightsIntake: RightsIntake;
  /** The background jobs: their last runs and leases (`GET /api/v1/jobs`). */
  jobs: JobScheduler;
  /** Destinations and their outboxes (`/api/v1/destinations`). */
  destinations: DestinationService;
  /** The breach register (Arts. 33–34) and the notice to the people concerned (`/api/v1/breaches`). */
  breaches: BreachService;
  breachNotices: BreachNotices;
  /** The public transparency page's figures, cached (`/transparency`). */
  transparency: TransparencyService;
  /** Fiducia's own pages (privacy center, demo shop): their write key and whether /demo is on. */
  pages?: PagesSource | undefined;
  /** FIDUCIA_PUBLIC_URL, when set: where SDK settings tell browsers to send (otherwise the address each request reached). */
  publicUrl?: string | undefined;
  /** Console users and sessions (src/http/console-session.ts, routes/console-auth.ts); without it no cookie is honoured. */
  console?: ConsoleUsers | undefined;
  /** The key CSRF tokens are bound to sessions with (required with `console`). */
  csrfKey?: Buffer | undefined;
  /** Liveness of the storage: throws when a database does not answer. */
  ping(): Promise<void>;
}
