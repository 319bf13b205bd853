// The storage and keys every command needs, without the HTTP server: the CLI's maintenance commands load this alone,
// so they start fast; src/app.ts builds the whole server on top of it.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Logger } from 'pino';
import { AuditLog } from './services/audit/audit-log.ts';
import { loadAuditSigner } from './services/audit/audit-signer.ts';
import { KeyRing, loadMasterKey } from './services/keys/keyring.ts';
import type { Mailer } from './services/rights/mailer.ts';
import { missingStore, openDatabases, type Databases, type StoreOptions } from './store/database.ts';
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
  /** How long a background job's lease holds without renewal (default one minute; docs/jobs.md). */
  jobLeaseMs?: number | undefined;
  /** The clock of job due times and leases (tests move it); default `Date.now`. */
  jobsClock?: (() => number) | undefined;
  /** Rights requests: the mailer (tests inject one); otherwise SMTP at `FIDUCIA_SMTP_URL`, or `<dataDir>/outbox/`. */
  mailer?: Mailer | undefined;
  smtpUrl?: string | undefined;
  /** Sender of verification and outcome emails (`FIDUCIA_MAIL_FROM`). */
  mailFrom?: string | undefined;
  /**
   * This server's URL as people reach it, for links in emails (`FIDUCIA_PUBLIC_URL`). Unset: the address the server
   * listens on once it listens (`HOST`/`PORT` before that, see `defaultPublicUrl`).
   */
  publicUrl?: string | undefined;
  /** Milliseconds between rights-request sweeps (package expiry, unconfirmed requests; default 5 minutes, 0 disables). */
  rightsSweepMs?: number | undefined;
  /** Minutes between retention sweeps (`FIDUCIA_RETENTION_SWEEP_MINUTES`, default 15; 0: not scheduled by this process). */
  retentionSweepMinutes?: number | undefined;
  /** The clock retention periods are measured against (tests move it forward); default `Date.now`. */
  retentionClock?: (() => number) | undefined;
  /** The breach register's clock: the 72 hours and the times it records (tests move it); default `Date.now`. */
  breachesClock?: (() => number) | undefined;
  /** Visitor credentials: their clock (tests move it), lifetime (default 10 minutes) and the purposes open to self-reads (default personalization). */
  visitors?: { now?: (() => number) | undefined; ttlMs?: number | undefined; purposes?: readonly string[] | undefined } | undefined;
  /** Exfiltration detection's clock and merge interval (tests pin them); docs/exfiltration.md. */
  exfiltration?: { now?: (() => number) | undefined; flushMs?: number | undefined; maxPrincipals?: number | undefined } | undefined;
  /** Console sessions' clock and lifetimes (tests move the clock); default 30 minutes idle, 12 hours in all (docs/console.md). */
  console?: { now?: (() => number) | undefined; idleMs?: number | undefined; absoluteMs?: number | undefined } | undefined;
  /**
   * The live debugger (docs/debugger.md): lines kept per source, sampling rate, write interval (tests shorten them);
   * `enabled: false` (`FIDUCIA_DEBUGGER=0`) keeps no lines (the overview's daily counts are still taken).
   */
  debugger?: { enabled?: boolean; keep?: number; perSecond?: number; flushMs?: number; now?: () => number } | undefined;
  /**
   * Where destinations' secrets are read (each destination names its variable, `secretEnv`); default `process.env`.
   * A destination whose variable is unset stops the start.
   */
  destinationSecrets?: Readonly<Record<string, string | undefined>> | undefined;
  /** The delivery worker's settings (tests shorten them); see docs/destinations.md. */
  deliveries?: DeliverySettings | undefined;
  /**
   * Proxies whose `X-Forwarded-For` entries are believed (`FIDUCIA_TRUST_PROXY`): a hop count (`1`: the client is the
   * address our one proxy added) or proxy addresses/CIDRs; "all" is refused at start. Default: none, the socket peer.
   */
  trustProxy?: string | number | readonly string[] | undefined;
  /**
   * Backpressure (`FIDUCIA_INGEST_MAX_QUEUE_MS`): batches are refused with 429 and Retry-After once the queued messages
   * would take longer than this to commit at the measured rate; see docs/performance.md.
   */
  ingestAdmission?: { maxQueueMs?: number; minQueued?: number } | undefined;
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
    retentionSweepMinutes: env.FIDUCIA_RETENTION_SWEEP_MINUTES ? Number(env.FIDUCIA_RETENTION_SWEEP_MINUTES) : undefined,
    deliveries: deliveriesFromEnv(env),
    debugger: env.FIDUCIA_DEBUGGER === '0' ? { enabled: false } : undefined,
    readCacheSubjects: env.FIDUCIA_READ_CACHE_SUBJECTS ? Number(env.FIDUCIA_READ_CACHE_SUBJECTS) : undefined,
    // Kept as text and checked by createFiducia, so that a bad value stops `start` but not maintenance commands.
    trustProxy: env.FIDUCIA_TRUST_PROXY || undefined,
    // NaN included: checked by createFiducia.
    ingestAdmission: env.FIDUCIA_INGEST_MAX_QUEUE_MS ? { maxQueueMs: Number(env.FIDUCIA_INGEST_MAX_QUEUE_MS) } : undefined,
  };
}

/**
 * `FIDUCIA_DELIVERIES=0`: this process does not send. `FIDUCIA_DELIVERY_LEASE_MS`: how long a claimed row waits before
 * another process may take it again, so how late the rows of a process that died are sent; keep it above the time of a
 * round (batch ÷ concurrency × request timeout, 40 s by default), or a slow send may be claimed again while in flight.
 */
function deliveriesFromEnv(env: NodeJS.ProcessEnv): DeliverySettings | undefined {
  const enabled = env.FIDUCIA_DELIVERIES !== '0';
  // Kept as a number, NaN included, and checked by createFiducia (see trustProxy).
  const leaseMs = env.FIDUCIA_DELIVERY_LEASE_MS ? Number(env.FIDUCIA_DELIVERY_LEASE_MS) : undefined;
  return enabled && leaseMs === undefined ? undefined : { enabled, leaseMs };
}

/** `http://host:port` for a listening address; a wildcard address (`0.0.0.0`, `::`) is reached as `localhost`. */
export function urlOfAddress(host: string, port: number): string {
  const name = host === '' || host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}

/** The public URL when `FIDUCIA_PUBLIC_URL` is unset and no server listens in this process: where `start` would listen. */
export function defaultPublicUrl(env: NodeJS.ProcessEnv = process.env): string {
  return urlOfAddress(env.HOST ?? '127.0.0.1', Number(env.PORT ?? 8787));
}

/** Storage, migrated, plus the keyring: what the CLI's maintenance commands need. */
export async function openCore(opts: FiduciaOptions): Promise<{ dbs: Databases; ring: KeyRing; audit: AuditLog; masterKeyCreated: boolean }> {
  const dbs = await openDatabases(opts);
  try {
    await dbs.migrate();
    const master = loadMasterKey(opts.dataDir, opts.masterKey);
    const ring = await KeyRing.open(master.key, new KeystoreRepo(dbs.keyStore));
    // The checkpoint-signing key sits in the keystore, wrapped by a key derived from the master key.
    const audit = new AuditLog(dbs.store, { signer: await loadAuditSigner(dbs.keyStore, master.key), blindIndex: ring.blindIndex });
    return { dbs, ring, audit, masterKeyCreated: master.created };
  } catch (err) {
    await dbs.close();
    throw err;
  }
}

/** A command that reads or maintains existing data was pointed where there is none (or no key for it): nothing was created. */
export class NoFiduciaDataError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NoFiduciaDataError';
  }
}

/**
 * `openCore` for commands that work on existing data (audit, keys, segments, jobs, ropa): where there is no store, or
 * no master key beside an existing store, it says so instead of creating a new, empty one.
 */
export async function openExistingCore(opts: FiduciaOptions): ReturnType<typeof openCore> {
  const missing = await missingStore(opts);
  const where = opts.databaseUrl ? 'DATABASE_URL (and FIDUCIA_DB_SCHEMA, FIDUCIA_KEYS_SCHEMA)' : 'FIDUCIA_DATA_DIR';
  if (missing) throw new NoFiduciaDataError(`${missing}; nothing was created. Set ${where} to the store the server uses (\`fiducia start\` or \`fiducia migrate\` makes a new one).`);
  if (!opts.masterKey && !existsSync(join(opts.dataDir, 'master.key'))) {
    throw new NoFiduciaDataError(`no master key: ${join(opts.dataDir, 'master.key')} not found and FIDUCIA_MASTER_KEY unset; nothing was created (the data opens only with the key it was written with).`);
  }
  return openCore(opts);
}

/** The destinations' delivery worker as configured (defaults in src/services/destinations/delivery-worker.ts). */
export interface DeliverySettings {
  /** Whether this process sends (default true; several processes may, each row goes to one at a time). */
  enabled?: boolean | undefined;
  pollMs?: number | undefined;
  leaseMs?: number | undefined;
  batch?: number | undefined;
  concurrency?: number | undefined;
  timeoutMs?: number | undefined;
  retry?: { baseMs: number; maxMs: number; maxAttempts: number } | undefined;
  now?: (() => number) | undefined;
  /** Resolves destination host names (default: the system resolver); every answer still goes through the address check. */
  lookup?: ((hostname: string) => Promise<readonly { address: string; family: number }[]>) | undefined;
}
