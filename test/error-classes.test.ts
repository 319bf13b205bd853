// Every error class in src/ that extends FiduciaError, found by importing the modules, carries a code from the catalogue.
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ERROR_STATUS, FiduciaError } from '../src/domain/errors.ts';

const SRC = fileURLToPath(new URL('../src/', import.meta.url));
/** Modules that do their work on import: the worker refuses to load outside a worker thread, the CLI parses argv. */
const SKIP = [/^cli\//, /^audit-leaf-worker\.ts$/, /^services\/audit\/audit-leaf-worker\.ts$/];

/** Arguments to build one instance of each subclass; a new subclass fails the test until it is listed here. */
const SAMPLE_ARGS: Record<string, unknown[]> = {
  InvariantError: ['broken'],
  DatabaseBusyError: [],
  UnknownDestinationError: ['crm'],
  RateLimitedError: [30],
  IngestOverloadedError: [2],
  VerificationFailedError: [2],
  InvalidEmailError: [],
  DownloadNotFoundError: [],
  MailUnavailableError: [],
  SegmentDefinitionError: [[{ path: 'rule', message: 'bad' }]],
  SegmentConflictError: ['taken'],
  UnknownSegmentError: ['k'],
  RightsStateError: ['not now'],
  RightsNotFoundError: [],
  PackageExpiredError: [],
  ShuttingDownError: [],
  ConsentInputError: ['FIDUCIA_UNKNOWN_PURPOSE', 'unknown purpose'],
  MissingKeyError: ['subject'],
  UnknownIdentityError: [],
  ReadRefusedError: ['caller_not_allowed'],
  AuditInputError: ['refused'],
  AuditLogDamagedError: ['audit entry 1 is missing'],
  ProofRangeError: ['out of range'],
  WebBuildError: ['esbuild produced no widget.js'],
  BreachNotFoundError: [],
  BreachStateError: ['closed'],
  BreachInputError: ['FIDUCIA_DELAY_REASON_REQUIRED', 'late'],
  TokenSuspendedError: ['0190aaaa-0000-7000-8000-000000000000'],
};

function sourceFiles(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const rel = prefix + e.name;
    if (e.isDirectory()) return sourceFiles(`${dir}${e.name}/`, `${rel}/`);
    return e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !SKIP.some((re) => re.test(rel)) ? [rel] : [];
  });
}

async function subclasses(): Promise<Map<string, { file: string; cls: new (...args: never[]) => FiduciaError }>> {
  const found = new Map<string, { file: string; cls: new (...args: never[]) => FiduciaError }>();
  for (const file of sourceFiles(SRC)) {
    const mod = (await import(pathToFileURL(SRC + file).href)) as Record<string, unknown>;
    for (const value of Object.values(mod)) {
      if (typeof value !== 'function' || value === FiduciaError || !(value.prototype instanceof FiduciaError)) continue;
      found.set(value.name, { file, cls: value as new (...args: never[]) => FiduciaError });
    }
  }
  return found;
}

describe('error classes', () => {
  it('each FiduciaError subclass in src/ has a code from the catalogue and its status', async () => {
    const found = await subclasses();
    assert.ok(found.size >= Object.keys(SAMPLE_ARGS).length, `found ${found.size} subclasses: ${[...found.keys()].join(', ')}`);
    for (const [name, { file, cls }] of found) {
      const args = SAMPLE_ARGS[name];
      assert.ok(args, `${name} (src/${file}) extends FiduciaError: add sample constructor arguments for it to SAMPLE_ARGS`);
      const err = new cls(...(args as never[]));
      assert.ok(Object.hasOwn(ERROR_STATUS, err.code), `${name} has code ${String(err.code)}, which is not in the catalogue`);
      assert.equal(err.status, ERROR_STATUS[err.code], `${name}'s status is its code's`);
      assert.equal(err.name, name, `${name} names itself (logs show the class)`);
    }
    for (const name of Object.keys(SAMPLE_ARGS)) assert.ok(found.has(name), `${name} is listed but no module in src/ exports it as a FiduciaError`);
  });

  it('RateLimitedError asks for Retry-After only when it promises a time', async () => {
    const { RateLimitedError } = await import('../src/services/rights/rights-intake.ts');
    assert.deepEqual(new RateLimitedError(30).headers(), { 'retry-after': '30' });
    assert.deepEqual(new RateLimitedError(0).headers(), {});
  });
});
