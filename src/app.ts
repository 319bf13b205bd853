// The composition root: builds storage, keys, services and the HTTP app from options, and tears them down in order.
import { resolve } from 'node:path';
import { sql } from 'kysely';
import { pino, type Logger } from 'pino';
import type { FastifyInstance } from 'fastify';
import type { CompiledConfig } from './domain/privacy-config.ts';
import { buildHttpApp } from './http/app.ts';
import { AccessService, type Bootstrap } from './services/access.ts';
import { DEFAULT_CONFIG_PATH, loadPrivacyConfig } from './services/config-loader.ts';
import { ConsentService } from './services/consent.ts';
import { IngestService } from './services/ingest.ts';
import { KeyRing, loadMasterKey } from './services/keyring.ts';
import { Metrics } from './services/metrics.ts';
import { AccessRepo } from './store/access-repo.ts';
import { openDatabases, type Databases, type StoreOptions } from './store/database.ts';
import { KeystoreRepo } from './store/keystore-repo.ts';

export interface FiduciaOptions extends StoreOptions {
  configPath?: string | undefined;
  /** Base64 master key (`FIDUCIA_MASTER_KEY`); otherwise `<dataDir>/master.key`. */
  masterKey?: string | undefined;
  adminToken?: string | undefined;
  writeKey?: string | undefined;
  logger?: Logger | undefined;
}

export interface Fiducia {
  app: FastifyInstance;
  cfg: CompiledConfig;
  dbs: Databases;
  ring: KeyRing;
  access: AccessService;
  ingest: IngestService;
  consent: ConsentService;
  metrics: Metrics;
  bootstrap: Bootstrap;
  masterKeyCreated: boolean;
  logger: Logger;
  /** Stops taking requests, finishes in-flight commits, closes the databases. */
  close(): Promise<void>;
}

/** Personal values never reach the log: headers that carry secrets or identities are censored. */
export function createLogger(level = process.env.LOG_LEVEL ?? 'info'): Logger {
  return pino({
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
  });
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
  };
}

/** Storage, migrated, plus the keyring: what the CLI's maintenance commands need. */
export async function openCore(opts: FiduciaOptions): Promise<{ dbs: Databases; ring: KeyRing; masterKeyCreated: boolean }> {
  const dbs = await openDatabases(opts);
  try {
    await dbs.migrate();
    const master = loadMasterKey(opts.dataDir, opts.masterKey);
    const ring = await KeyRing.open(master.key, new KeystoreRepo(dbs.keys));
    return { dbs, ring, masterKeyCreated: master.created };
  } catch (err) {
    await dbs.close();
    throw err;
  }
}

export async function createFiducia(opts: FiduciaOptions): Promise<Fiducia> {
  const logger = opts.logger ?? createLogger();
  const cfg = loadPrivacyConfig(opts.configPath ?? DEFAULT_CONFIG_PATH);
  const { dbs, ring, masterKeyCreated } = await openCore(opts);
  const metrics = new Metrics(true);
  const access = new AccessService(new AccessRepo(dbs.data));
  const bootstrap = await access.bootstrap(opts.adminToken, opts.writeKey);
  const ingest = new IngestService(dbs.data, { cfg, ring, metrics, rowLocks: dbs.rowLocks });
  const consent = new ConsentService(cfg, ingest);
  const app = await buildHttpApp(
    {
      cfg,
      access,
      ingest,
      consent,
      metrics,
      async ping() {
        await sql`select 1`.execute(dbs.data);
        await sql`select 1`.execute(dbs.keys);
      },
    },
    logger,
  );
  let closing: Promise<void> | null = null;
  return {
    app,
    cfg,
    dbs,
    ring,
    access,
    ingest,
    consent,
    metrics,
    bootstrap,
    masterKeyCreated,
    logger,
    close() {
      closing ??= (async () => {
        await app.close();
        await ingest.close();
        await dbs.close();
      })();
      return closing;
    },
  };
}

