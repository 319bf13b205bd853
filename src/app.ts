// The composition root: builds storage, keys, services and the HTTP app from options, and tears them down in order.
import { resolve } from 'node:path';
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { CompiledConfig } from './domain/privacy-config.ts';
import { buildHttpApp } from './http/app.ts';
import { AuthFailureLog } from './http/auth-failures.ts';
import { resolveTrustProxy } from './http/trust-proxy.ts';
import { AccessService, type Bootstrap } from './services/access/access.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from './services/config/config-loader.ts';
import { ConsentService } from './services/consent/consent.ts';
import { PagesSource } from './services/access/pages.ts';
import { IngestService } from './services/ingest/ingest.ts';
import { KeyRing, loadMasterKey } from './services/keys/keyring.ts';
import { Metrics } from './services/metrics.ts';
import { PlaintextCache } from './services/profiles/plaintext-cache.ts';
import { ProfileService } from './services/profiles/profiles.ts';
import { PolicyEngine } from './domain/policy.ts';
import { AuditLog } from './services/audit/audit-log.ts';
import { auditIngestObserver } from './services/audit/audit-observers.ts';
import { loadAuditSigner } from './services/audit/audit-signer.ts';
import { startCheckpointJob } from './jobs/audit-checkpoint.ts';
import { startSegmentRefreshJob } from './jobs/segment-refresh.ts';
import { SegmentService } from './services/segments/segments.ts';
import { RopaService } from './services/config/ropa.ts';
import { createMailer, type Mailer } from './services/rights/mailer.ts';
import { OutboxRecipientNotifier } from './services/rights/recipient-notifier.ts';
import { RightsIntake } from './services/rights/rights-intake.ts';
import { sweepRights } from './services/rights/rights-sweep.ts';
import { RightsService } from './services/rights/rights.ts';
import { startRightsSweepJob } from './jobs/rights-sweep.ts';
import { AccessRepo } from './store/access-repo.ts';
import { ConsentRepo } from './store/consent-repo.ts';
import { openDatabases, type Databases, type StoreOptions } from './store/database.ts';
import { KeystoreRepo } from './store/keystore-repo.ts';

export interface FiduciaOptions extends StoreOptions {
  configPath?: string | undefined;
  /** Base64 master key (`FIDUCIA_MASTER_KEY`); otherwise `<dataDir>/master.key`. */
  masterKey?: string | undefined;
  adminToken?: string | undefined;
  writeKey?: string | undefined;
  logger?: Logger | undefined;
  /** Seconds between signed audit checkpoints (`FIDUCIA_AUDIT_CHECKPOINT_SECONDS`, default 60; 0 disables the timer). */
  auditCheckpointSeconds?: number | undefined;
  /** Serve the demo shop at /demo (`FIDUCIA_DEMO=1`/`0`); default: on with SQLite (the quick start), off with PostgreSQL. */
  demo?: boolean | undefined;
  /** Time source of segment windows (tests pin it); default `Date.now`. */
  segmentsClock?: (() => number) | undefined;
  /** Milliseconds between checks for the daily segment refresh (default one hour; 0 disables the timer). */
  segmentRefreshMs?: number | undefined;
  /** Rights requests: the mailer (tests inject one); otherwise SMTP at `FIDUCIA_SMTP_URL`, or `<dataDir>/outbox/`. */
  mailer?: Mailer | undefined;
  smtpUrl?: string | undefined;
  /** Sender of verification and outcome emails (`FIDUCIA_MAIL_FROM`). */
  mailFrom?: string | undefined;
  /** This server's URL as people reach it, for download links (`FIDUCIA_PUBLIC_URL`, default http://127.0.0.1:8787). */
  publicUrl?: string | undefined;
  /** Milliseconds between rights-request sweeps (package expiry, unconfirmed requests; default 5 minutes, 0 disables). */
  rightsSweepMs?: number | undefined;
  /**
   * Proxies whose `X-Forwarded-For` entries are believed (`FIDUCIA_TRUST_PROXY`): a hop count (`1`: the client is the
   * address our one proxy added) or proxy addresses/CIDRs; "all" is refused at start. Default: none, the socket peer.
   */
  trustProxy?: string | number | readonly string[] | undefined;
}

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
  metrics: Metrics;
  /** Refused tokens, counted per window and network; `flush()` writes the pending `auth.failed` summaries. */
  authFailures: AuthFailureLog;
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

export function optionsFromEnv(env: NodeJS.ProcessEnv = process.env): FiduciaOptions {
  return {
    dataDir: resolve(env.FIDUCIA_DATA_DIR ?? './data'),
    databaseUrl: env.DATABASE_URL || undefined,
    keysDatabaseUrl: env.FIDUCIA_KEYS_DATABASE_URL || undefined,
    schema: env.FIDUCIA_DB_SCHEMA || undefined,
    keysSchema: env.FIDUCIA_KEYS_SCHEMA || undefined,
    configPath: env.FIDUCIA_CONFIG || undefined,
    masterKey: env.FIDUCIA_MASTER_KEY || undefined,
    adminToken: env.FIDUCIA_ADMIN_TOKEN || undefined,
    writeKey: env.FIDUCIA_WRITE_KEY || undefined,
    auditCheckpointSeconds: env.FIDUCIA_AUDIT_CHECKPOINT_SECONDS ? Number(env.FIDUCIA_AUDIT_CHECKPOINT_SECONDS) : undefined,
    demo: env.FIDUCIA_DEMO ? env.FIDUCIA_DEMO === '1' : undefined,
    smtpUrl: env.FIDUCIA_SMTP_URL || undefined,
    mailFrom: env.FIDUCIA_MAIL_FROM || undefined,
    publicUrl: env.FIDUCIA_PUBLIC_URL || undefined,
    readCacheSubjects: env.FIDUCIA_READ_CACHE_SUBJECTS ? Number(env.FIDUCIA_READ_CACHE_SUBJECTS) : undefined,
    // Kept as text and checked by createFiducia, so that a bad value stops `start` but not maintenance commands.
    trustProxy: env.FIDUCIA_TRUST_PROXY || undefined,
  };
}

/** Storage, migrated, plus the keyring: what the CLI's maintenance commands need. */
export async function openCore(opts: FiduciaOptions): Promise<{ dbs: Databases; ring: KeyRing; audit: AuditLog; masterKeyCreated: boolean }> {
  const dbs = await openDatabases(opts);
  try {
    await dbs.migrate();
    const master = loadMasterKey(opts.dataDir, opts.masterKey);
    const ring = await KeyRing.open(master.key, new KeystoreRepo(dbs.keys));
    // The checkpoint-signing key sits in the keystore, wrapped by a key derived from the master key.
    const audit = new AuditLog(dbs.data, { rowLocks: dbs.rowLocks, signer: await loadAuditSigner(dbs.keys, master.key), blindIndex: ring.blindIndex, raw: dbs.raw });
    return { dbs, ring, audit, masterKeyCreated: master.created };
  } catch (err) {
    await dbs.close();
    throw err;
  }
}

export async function createFiducia(opts: FiduciaOptions): Promise<Fiducia> {
  // Long on purpose: the composition root, one flat sequence that builds each part once, in dependency order.
  // Checked before anything is opened: a refused value leaves nothing to close.
  const trustProxy = resolveTrustProxy(opts.trustProxy);
  const logger = opts.logger ?? createLogger();
  const cfg = loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
  const { dbs, ring, audit, masterKeyCreated } = await openCore(opts);
  const metrics = new Metrics(true);
  const authFailures = new AuthFailureLog({
    write: (entries) => audit.record(entries),
    metrics,
    onWriteError: (err, failures) => logger.error({ err, failures }, 'auth.failed summary could not be written'),
  });
  // Sealing browser sources' verification secrets: a key derived from the master key, apart from every data key.
  const access = new AccessService(new AccessRepo(dbs.data, dbs.reader), ring.blindIndex.index('fiducia-source-secrets', 'v1'), { port: audit, db: dbs.data });
  const bootstrap = await access.bootstrap(opts.adminToken, opts.writeKey);
  await audit.recordConfig(cfg.hash, { purposes: cfg.config.purposes.length, noticeVersion: cfg.config.notice.current });
  const plaintext = new PlaintextCache(opts.readCacheSubjects ?? 10_000).start();
  ring.onDestroy((subjectId) => plaintext.forget(subjectId));
  const segments = new SegmentService(dbs.data, { cfg, ring, rowLocks: dbs.rowLocks, logger, now: opts.segmentsClock, plaintext });
  await segments.init();
  const ingest = new IngestService(dbs.data, { cfg, ring, metrics, rowLocks: dbs.rowLocks, observers: [auditIngestObserver(audit), segments] });
  const consent = new ConsentService(cfg, ingest, new ConsentRepo(dbs.data));
  const pages = new PagesSource(access, opts.demo ?? dbs.dialect === 'sqlite');
  const policy = new PolicyEngine(cfg);
  const profiles = new ProfileService({ db: dbs.data, reader: dbs.reader, ring, policy, audit, segments, plaintext });
  const ropa = new RopaService(cfg, dbs, audit);
  const rightsDeps = {
    db: dbs.data,
    ring,
    cfg,
    audit,
    segments,
    notifier: new OutboxRecipientNotifier(),
    mailer: opts.mailer ?? createMailer({ smtpUrl: opts.smtpUrl, from: opts.mailFrom, dataDir: opts.dataDir, logger }),
    rowLocks: dbs.rowLocks,
    logger,
    publicUrl: opts.publicUrl ?? 'http://127.0.0.1:8787',
  };
  const rights = new RightsService(rightsDeps);
  const rightsIntake = new RightsIntake(rightsDeps, rights);
  const runSweep = () => sweepRights(rightsDeps, rights, rightsIntake);
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
      profiles,
      segments,
      rights,
      rightsIntake,
      pages,
      ping: () => dbs.ping(),
    },
    logger,
    { trustProxy },
  );
  const checkpoints = startCheckpointJob(audit, (opts.auditCheckpointSeconds ?? 60) * 1000, logger);
  const segmentRefresh = startSegmentRefreshJob(segments, opts.segmentRefreshMs ?? 3_600_000, logger);
  const rightsSweep = startRightsSweepJob(runSweep, opts.rightsSweepMs ?? 300_000, logger);
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
    metrics,
    authFailures,
    bootstrap,
    pages,
    masterKeyCreated,
    logger,
    close() {
      closing ??= (async () => {
        await app.close();
        await authFailures.close();
        await ingest.close();
        await segmentRefresh.stop();
        await rightsSweep.stop();
        await segments.close();
        await profiles.close();
        plaintext.close();
        await checkpoints.stop(true);
        await dbs.close();
      })();
      return closing;
    },
  };
}

