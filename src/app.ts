// The composition root: builds storage, keys, services and the HTTP app from options, and tears them down in order.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { CompiledConfig } from './domain/privacy-config.ts';
import { buildHttpApp } from './http/app.ts';
import { AuthFailureLog } from './http/auth-failures.ts';
import { resolveTrustProxy } from './http/trust-proxy.ts';
import { ConsoleUsers } from './services/console/console-users.ts';
import { AccessService, type Bootstrap } from './services/access/access.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from './services/config/config-loader.ts';
import { ConsentService } from './services/consent/consent.ts';
import { PagesSource } from './services/access/pages.ts';
import { IngestService } from './services/ingest/ingest.ts';
import type { KeyRing } from './services/keys/keyring.ts';
import { Metrics } from './services/metrics.ts';
import { PlaintextCache } from './services/profiles/plaintext-cache.ts';
import { VisitorCredentials } from './services/profiles/visitor-credentials.ts';
import { ProfileService } from './services/profiles/profiles.ts';
import { PolicyEngine } from './domain/policy.ts';
import { AuditLog } from './services/audit/audit-log.ts';
import { auditIngestObserver } from './services/audit/audit-observers.ts';
import { BreachNotices } from './services/breaches/breach-notices.ts';
import { BreachService } from './services/breaches/breaches.ts';
import { backgroundJobs } from './jobs/background-jobs.ts';
import { JobScheduler } from './services/jobs/scheduler.ts';
import { RetentionSweep } from './services/retention/retention-sweep.ts';
import { DeliveryWorker } from './services/destinations/delivery-worker.ts';
import { DestinationNotices } from './services/destinations/destination-notices.ts';
import { DestinationOutbox } from './services/destinations/outbox.ts';
import { DestinationService } from './services/destinations/destinations.ts';
import { OutboundClient } from './services/destinations/outbound.ts';
import { QueuedMailer } from './services/destinations/queued-mailer.ts';
import { DEFAULT_MAIL_FROM, SmtpMailer } from './services/rights/mailer.ts';
import { SegmentService } from './services/segments/segments.ts';
import { ExfiltrationService } from './services/exfiltration/exfiltration.ts';
import { LiveDebugger } from './services/debugger/live-debugger.ts';
import { OverviewService } from './services/overview/overview.ts';
import { RopaService } from './services/config/ropa.ts';
import { TransparencyService } from './services/transparency/transparency.ts';
import type { RightsIntake } from './services/rights/rights-intake.ts';
import { buildRightsServices } from './services/rights/rights-services.ts';
import type { RightsService } from './services/rights/rights.ts';
import { AccessRepo } from './store/access-repo.ts';
import { BlindIndexer } from './crypto/blind-index.ts';
import { ConsentRepo } from './store/consent-repo.ts';
import type { Databases } from './store/database.ts';
import { defaultPublicUrl, openCore, urlOfAddress, type FiduciaOptions } from './core.ts';

export { openCore, optionsFromEnv, type FiduciaOptions } from './core.ts';

export interface Fiducia {
  app: FastifyInstance;
  cfg: CompiledConfig;
  dbs: Databases;
  ring: KeyRing;
  access: AccessService;
  ingest: IngestService;
  consent: ConsentService;
  /** The tamper-evident audit log (implements the audit port). */
  audit: AuditLog;
  /** The record of processing (Art. 30) and the notice's purpose table. */
  ropa: RopaService;
  /** The use rule compiled from the configuration, and the purpose-bound profile reads built on it. */
  policy: PolicyEngine;
  profiles: ProfileService;
  /** Trait values profile reads keep decrypted (src/services/profiles/plaintext-cache.ts). */
  readCache: PlaintextCache;
  /** Segments and computed traits (also the ingestion observer that keeps them current). */
  segments: SegmentService;
  /** Data-subject rights requests, their self-service intake, and the sweep (run it by hand in tests). */
  rights: RightsService;
  rightsIntake: RightsIntake;
  sweepRights(): Promise<unknown>;
  /** The retention sweep (docs/retention.md); the `retention` job runs it. */
  retention: RetentionSweep;
  /** The background jobs (docs/jobs.md): leased through the database, each runnable once with `jobs.runOnce(name)`. */
  jobs: JobScheduler;
  /** The destinations' delivery worker (docs/destinations.md): `drain()` sends everything due now. */
  deliveries: DeliveryWorker;
  destinations: DestinationService;
  /** The breach register (Arts. 33–34) and the notice to the people concerned. */
  breaches: BreachService;
  breachNotices: BreachNotices;
  /** The public transparency page's figures (cached a minute; `invalidate()` drops them). */
  transparency: TransparencyService;
  metrics: Metrics;
  /** Exfiltration detection (docs/exfiltration.md): `flush()` merges the pending windows and evaluates them now. */
  exfiltration: ExfiltrationService;
  /** The live debugger (docs/debugger.md): `flush()` writes this process's pending lines now. */
  debugger: LiveDebugger;
  /** Refused tokens, counted per window and network; `flush()` writes the pending `auth.failed` summaries. */
  authFailures: AuthFailureLog;
  /** Console users and their sessions (docs/console.md). */
  console: ConsoleUsers;
  bootstrap: Bootstrap;
  /** The write key of the privacy center and demo pages, and whether /demo is served. */
  pages: PagesSource;
  masterKeyCreated: boolean;
  logger: Logger;
  /** Stops taking requests, finishes in-flight commits, closes the databases. */
  close(): Promise<void>;
}

/** Personal values never reach the log: headers that carry secrets or identities are censored. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info', destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers.cookie',
        'req.headers["x-forwarded-for"]',
        'req.remoteAddress',
        'req.body',
        'res.body',
        '*.email',
        '*.phone',
        '*.userId',
        '*.anonymousId',
        '*.traits',
        '*.properties',
      ],
      censor: '[redacted]',
    },
  };
  // A destination (tests capture the log in memory) gets the same redaction as stdout.
  return destination ? pino(options, destination) : pino(options);
}

/** Milliseconds between retention sweeps: default 15 minutes; 0 leaves scheduling to other processes. */
export function retentionSweepMs(minutes: number | undefined): number {
  if (minutes === undefined) return 15 * 60_000;
  if (!Number.isFinite(minutes) || minutes < 0) throw new Error('FIDUCIA_RETENTION_SWEEP_MINUTES must be a number of minutes, 0 or more');
  return Math.round(minutes * 60_000);
}

/** Each destination's secret from the variable it names; an unset or empty one stops the start (nothing is opened yet). */
export function destinationSecrets(cfg: CompiledConfig, env: Readonly<Record<string, string | undefined>>): Map<string, string> {
  const out = new Map<string, string>();
  for (const d of cfg.config.destinations) {
    const value = env[d.secretEnv];
    if (!value) throw new Error(`destination "${d.id}": the environment variable ${d.secretEnv} (its secret) is not set`);
    out.set(d.id, value);
  }
  return out;
}

/** The exfiltration alert webhook's signing secret, when one is configured; an unset variable stops the start. */
export function alertWebhookSecret(cfg: CompiledConfig, env: Readonly<Record<string, string | undefined>>): string | undefined {
  const hook = cfg.config.detection?.webhook;
  if (!hook) return undefined;
  const value = env[hook.secretEnv];
  if (!value) throw new Error(`detection.webhook: the environment variable ${hook.secretEnv} (its signing secret) is not set`);
  return value;
}

export async function createFiducia(opts: FiduciaOptions): Promise<Fiducia> {
  // Long on purpose: the composition root, one flat sequence that builds each part once, in dependency order.
  // Checked before anything is opened: a refused value leaves nothing to close.
  const trustProxy = resolveTrustProxy(opts.trustProxy);
  const queueMs = opts.ingestAdmission?.maxQueueMs;
  if (queueMs !== undefined && !(Number.isSafeInteger(queueMs) && queueMs > 0)) throw new Error('FIDUCIA_INGEST_MAX_QUEUE_MS must be a whole number of milliseconds, more than 0');
  const leaseMs = opts.deliveries?.leaseMs;
  if (leaseMs !== undefined && !(Number.isSafeInteger(leaseMs) && leaseMs > 0)) throw new Error('FIDUCIA_DELIVERY_LEASE_MS must be a whole number of milliseconds, more than 0');
  const logger = opts.logger ?? createLogger();
  const cfg = loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
  const secrets = destinationSecrets(cfg, opts.destinationSecrets ?? process.env);
  const alertSecret = alertWebhookSecret(cfg, opts.destinationSecrets ?? process.env);
  const { dbs, ring, audit, masterKeyCreated } = await openCore(opts);
  const metrics = new Metrics(true);
  const authFailures = new AuthFailureLog({
    write: (entries) => audit.record(entries),
    metrics,
    onWriteError: (err, failures) => logger.error({ err, failures }, 'auth.failed summary could not be written'),
  });
  // Sealing browser sources' verification secrets: a key derived from the master key, apart from every data key.
  const access = new AccessService(new AccessRepo(dbs.store, dbs.reader), ring.blindIndex.index('fiducia-source-secrets', 'v1'), { port: audit, db: dbs.store });
  const bootstrap = await access.bootstrap(opts.adminToken, opts.writeKey);
  const consoleUsers = new ConsoleUsers(dbs.store, audit, opts.console);
  await audit.recordConfig(cfg.hash, { purposes: cfg.config.purposes.length, noticeVersion: cfg.config.notice.current });
  const plaintext = new PlaintextCache(opts.readCacheSubjects ?? 10_000).start();
  ring.onDestroy((subjectId) => plaintext.forget(subjectId));
  const segments = new SegmentService(dbs.store, { cfg, ring, logger, now: opts.segmentsClock, plaintext });
  await segments.init();
  const policy = new PolicyEngine(cfg);
  const sender = new OutboundClient({ lookup: opts.deliveries?.lookup, maxSockets: opts.deliveries?.concurrency ?? 16 });
  const delivery = opts.deliveries ?? {};
  const detection = cfg.config.detection;
  const exfiltration = new ExfiltrationService({
    db: dbs.store, audit, access, console: consoleUsers, metrics, logger, sender,
    // A key of its own, derived like the other keyed hashes: the stored windows hold hashes nobody can match without it.
    blindIndex: new BlindIndexer(ring.blindIndex.index('fiducia-exfiltration-windows', 'v1')),
    settings: detection,
    webhookSecret: alertSecret,
    now: opts.exfiltration?.now,
    flushMs: opts.exfiltration?.flushMs,
    maxPrincipals: opts.exfiltration?.maxPrincipals,
  });
  // With SMTP set, rights-request mail goes through the delivery outbox (retries, dead letters) unless a mailer is given.
  const smtp = !opts.mailer && opts.smtpUrl ? new SmtpMailer(opts.smtpUrl, opts.mailFrom ?? DEFAULT_MAIL_FROM, logger) : undefined;
  const deliveries = new DeliveryWorker({ db: dbs.store, cfg, policy, ring, audit, sender, secrets, logger, metrics, smtp, ...delivery });
  const outbox = new DestinationOutbox(cfg, policy, delivery.now);
  const liveDebugger = new LiveDebugger({ db: dbs.store, access, metrics, logger, settings: opts.debugger, now: opts.debugger?.now, lines: opts.debugger?.enabled !== false });
  const ingest = new IngestService(dbs.store, {
    cfg,
    ring,
    metrics,
    observers: [auditIngestObserver(audit), segments, outbox],
    onCommitted: outbox.active ? () => deliveries.wake() : undefined,
    // Always: with the debugger off (no lines kept) the overview's daily counts are still taken from the same captures.
    onMessages: (captured) => liveDebugger.offer(captured),
  }, opts.ingestAdmission);
  const consent = new ConsentService(cfg, ingest, new ConsentRepo(dbs.store));
  const pages = new PagesSource(access, opts.demo ?? dbs.embedded);
  const profiles = new ProfileService({ db: dbs.store, reader: dbs.reader, ring, policy, audit, segments, plaintext });
  const visitors = new VisitorCredentials({
    db: dbs.store,
    profiles,
    audit,
    purposes: (opts.visitors?.purposes ?? ['personalization']).filter((p) => cfg.purpose(p)),
    ttlMs: opts.visitors?.ttlMs,
    now: opts.visitors?.now,
  });
  const ropa = new RopaService(cfg, dbs, audit);
  const { deps: rightsDeps, rights, intake: rightsIntake, sweep: runSweep } = buildRightsServices({
    db: dbs.store, ring, cfg, audit, segments, logger, mailer: opts.mailer ?? (smtp && new QueuedMailer(dbs.store, ring, () => deliveries.wake(), delivery.now)), smtpUrl: opts.smtpUrl, mailFrom: opts.mailFrom, dataDir: opts.dataDir, publicUrl: opts.publicUrl ?? defaultPublicUrl(),
    destinations: new DestinationNotices(cfg, ring, delivery.now),
  });
  const destinations = new DestinationService(dbs.store, cfg, audit, delivery.now, () => deliveries.wake());
  const breaches = new BreachService({ db: dbs.store, cfg, audit, now: opts.breachesClock });
  // The notice to the people concerned goes through the rights-request mailer: queued for SMTP, or the outbox folder.
  const breachNotices = new BreachNotices(breaches, { ring, mailer: rightsDeps.mailer });
  const transparency = new TransparencyService({ db: dbs.store, cfg, audit, ropa });
  const retention = new RetentionSweep({ db: dbs.store, ring, cfg, audit, segments, plaintext, logger, now: opts.retentionClock });
  const jobs = new JobScheduler(dbs.store, { logger, metrics, leaseMs: opts.jobLeaseMs, now: opts.jobsClock });
  jobs.register(
    ...backgroundJobs(
      { audit, segments, sweepRights: runSweep, sweepRetention: (o) => retention.run(o), logger },
      {
        auditCheckpointMs: (opts.auditCheckpointSeconds ?? 60) * 1000,
        segmentRefreshMs: opts.segmentRefreshMs ?? 3_600_000,
        rightsSweepMs: opts.rightsSweepMs ?? 300_000,
        retentionSweepMs: retentionSweepMs(opts.retentionSweepMinutes),
      },
    ),
  );
  const app = await buildHttpApp(
    {
      cfg,
      access,
      ingest,
      consent,
      audit,
      ropa,
      metrics,
      authFailures,
      exfiltration,
      debugger: liveDebugger,
      overview: new OverviewService({ db: dbs.store, cfg, flush: () => liveDebugger.flush() }),
      profiles,
      visitors,
      segments,
      rights,
      rightsIntake,
      jobs,
      destinations,
      breaches,
      breachNotices,
      transparency,
      pages,
      publicUrl: opts.publicUrl,
      console: consoleUsers,
      // CSRF tokens are HMACs bound to the session under a key derived from the master key: every process agrees.
      csrfKey: ring.blindIndex.index('fiducia-console-csrf', 'v1'),
      ping: () => dbs.ping(),
    },
    logger,
    { trustProxy },
  );
  // Without FIDUCIA_PUBLIC_URL, links in emails point where the server really listens (PORT=0 included).
  if (!opts.publicUrl) {
    app.addHook('onListen', async () => {
      const address = app.server.address();
      if (address && typeof address === 'object') rightsDeps.publicUrl = urlOfAddress(address.address, address.port);
    });
  }
  await jobs.start();
  exfiltration.start();
  liveDebugger.start();
  if (delivery.enabled !== false) deliveries.start();
  let closing: Promise<void> | null = null;
  return {
    app,
    cfg,
    dbs,
    ring,
    access,
    ingest,
    consent,
    audit,
    ropa,
    policy,
    profiles,
    readCache: plaintext,
    segments,
    rights,
    rightsIntake,
    sweepRights: runSweep,
    retention,
    jobs,
    deliveries,
    destinations,
    breaches,
    breachNotices,
    transparency,
    metrics,
    exfiltration,
    debugger: liveDebugger,
    authFailures,
    console: consoleUsers,
    bootstrap,
    pages,
    masterKeyCreated,
    logger,
    close() {
      closing ??= (async () => {
        await app.close();
        await authFailures.close();
        await ingest.close();
        await liveDebugger.close();
        await deliveries.close();
        await exfiltration.close();
        sender.close();
        await jobs.close();
        await segments.close();
        await profiles.close();
        plaintext.close();
        // A last checkpoint of the head (a rewrite while stopped is caught at the next verify).
        await audit.checkpoint().catch((err: unknown) => logger.error({ err: err instanceof Error ? err.message : String(err) }, 'audit checkpoint failed'));
        await dbs.close();
      })();
      return closing;
    },
  };
}

