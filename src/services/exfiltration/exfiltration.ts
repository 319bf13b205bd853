// Exfiltration detection (docs/exfiltration.md): the audit log's reads feed the per-principal windows, a crossed
// threshold raises the alert (and suspends where configured), and the subjects a principal read are listed back from
// the audit log.
import type { Logger } from 'pino';
import type { BlindIndexer } from '../../crypto/blind-index.ts';
import { DEFAULT_DETECTION, type DetectionSettings } from '../../domain/privacy-config-detection.ts';
import type { DataScope } from '../../store/scope.ts';
import type { AccessService } from '../access/access.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEntryInput } from '../audit/audit-port.ts';
import type { ConsoleUsers } from '../console/console-users.ts';
import type { OutboundClient } from '../destinations/outbound.ts';
import type { Metrics } from '../metrics.ts';
import { DisclosureMonitor } from './disclosure-monitor.ts';
import { ExfiltrationAlerts } from './exfiltration-alerts.ts';
import { DISCLOSING_ACTIONS, subjectsRead, type SubjectsReadPage } from './subjects-read.ts';

export interface ExfiltrationDeps {
  db: DataScope;
  audit: AuditLog;
  access: AccessService;
  /** Console users (principal `user:<id>`), suspended like tokens where the configuration says so. */
  console?: ConsoleUsers | undefined;
  metrics: Metrics;
  logger: Logger;
  sender: OutboundClient;
  /** Derives the keyed hashes the windows hold (a key of its own, from the master key). */
  blindIndex: BlindIndexer;
  settings?: DetectionSettings | undefined;
  webhookSecret?: string | undefined;
  now?: (() => number) | undefined;
  flushMs?: number | undefined;
  maxPrincipals?: number | undefined;
}

export class ExfiltrationService {
  readonly settings: DetectionSettings;
  readonly #monitor: DisclosureMonitor;
  readonly #alerts: ExfiltrationAlerts;
  readonly #disclosing = new Set(DISCLOSING_ACTIONS);

  constructor(private readonly deps: ExfiltrationDeps) {
    this.settings = deps.settings ?? DEFAULT_DETECTION;
    this.#alerts = new ExfiltrationAlerts({ settings: this.settings, access: deps.access, console: deps.console, audit: deps.audit, metrics: deps.metrics, logger: deps.logger, sender: deps.sender, webhookSecret: deps.webhookSecret });
    this.#monitor = new DisclosureMonitor({
      db: deps.db,
      settings: this.settings,
      keyOf: (subjectId) => deps.blindIndex.index('exfiltration-window', subjectId).readUIntBE(0, 6),
      onCrossing: async (c) => void (await this.#alerts.raise(c)),
      onError: (err) => deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'exfiltration detection failed'),
      now: deps.now,
      flushMs: deps.flushMs,
      maxPrincipals: deps.maxPrincipals,
    });
    // Every read the audit log records with a subject counts, whichever route made it.
    deps.audit.onAppended((entries) => this.#observe(entries));
  }

  start(): this {
    this.#monitor.start();
    return this;
  }

  /**
   * `principal` was shown these subjects (for disclosures the audit log does not name one by one, e.g. segment member
   * pages). The promise settles once a crossing this causes is handled; it never rejects (failures are logged).
   */
  disclosed(principal: string, subjectIds: readonly string[]): Promise<void> {
    return this.#guard(this.#monitor.disclosed(principal, subjectIds)) ?? Promise.resolve();
  }

  subjectsRead(principal: string, since: number, cursor: number | null, limit: number): Promise<SubjectsReadPage> {
    return subjectsRead(this.deps.db, principal, since, cursor, limit);
  }

  /** Merges every pending window now and waits for alerts' webhooks (tests, shutdown). */
  async flush(): Promise<void> {
    await this.#monitor.flush();
    await this.#alerts.settle();
  }

  async close(): Promise<void> {
    await this.#monitor.close();
    await this.#alerts.settle();
  }

  #observe(entries: readonly AuditEntryInput[]): Promise<void> | undefined {
    let waits: Promise<void>[] | undefined;
    for (const e of entries) {
      if (e.outcome !== 'ok' || !e.subjectId || !this.#disclosing.has(e.action)) continue;
      const p = this.#guard(this.#monitor.disclosed(e.actor, [e.subjectId]));
      if (p) (waits ??= []).push(p);
    }
    return waits && Promise.all(waits).then(() => undefined);
  }

  #guard(p: Promise<void> | undefined): Promise<void> | undefined {
    // The read itself is on record already; a detector failure is logged and retried by the next tick, not a failed read.
    return p?.catch((err: unknown) => this.deps.logger.error({ err: err instanceof Error ? err.message : String(err) }, 'exfiltration detection failed'));
  }
}
