// The public transparency page's figures: counted by the store at most once per cache period, whoever asks and how often.
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { Lang } from '../../domain/ropa.ts';
import { transparencyReport, type RawFigures, type SystemEvidence, type TransparencyReport } from '../../domain/transparency.ts';
import type { DataScope } from '../../store/scope.ts';
import { TransparencyRepo } from '../../store/transparency-repo.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { RopaService } from '../config/ropa.ts';

/** How long computed figures are served before the database is asked again. */
export const TRANSPARENCY_CACHE_MS = 60_000;

export interface TransparencyDeps {
  db: DataScope;
  cfg: CompiledConfig;
  audit: AuditLog;
  ropa: RopaService;
  cacheMs?: number | undefined;
  now?: (() => number) | undefined;
}

interface Snapshot {
  at: number;
  raw: RawFigures;
  evidence: SystemEvidence;
}

export class TransparencyService {
  readonly #deps: TransparencyDeps;
  readonly #cacheMs: number;
  readonly #now: () => number;
  #snapshot: { expires: number; value: Promise<Snapshot> } | undefined;

  constructor(deps: TransparencyDeps) {
    this.#deps = deps;
    this.#cacheMs = deps.cacheMs ?? TRANSPARENCY_CACHE_MS;
    this.#now = deps.now ?? Date.now;
  }

  /** The report in one language, from figures at most one cache period old. */
  async report(lang: Lang): Promise<TransparencyReport> {
    const s = await this.#current();
    return transparencyReport(this.#deps.cfg.config, s.raw, s.evidence, lang, s.at);
  }

  /** Forgets the cached figures (tests, and after an operator's change that should show at once). */
  invalidate(): void {
    this.#snapshot = undefined;
  }

  #current(): Promise<Snapshot> {
    const now = this.#now();
    if (this.#snapshot && this.#snapshot.expires > now) return this.#snapshot.value;
    // Concurrent requests share one computation; a failed one is not kept, so the next request tries again.
    const value = this.#compute(now);
    const entry = { expires: now + this.#cacheMs, value };
    this.#snapshot = entry;
    value.catch(() => {
      if (this.#snapshot === entry) this.#snapshot = undefined;
    });
    return value;
  }

  async #compute(at: number): Promise<Snapshot> {
    const repo = new TransparencyRepo(this.#deps.db);
    const byType = await repo.rightsByType();
    const rights = [];
    for (const row of byType) rights.push({ ...row, medianMs: (await repo.answerTimes(row.type)).medianMs });
    const total = await repo.answerTimes();
    const received = byType.reduce((n, r) => n + r.received, 0);
    const consentPurposes = this.#deps.cfg.config.purposes.filter((p) => p.legalBasis === 'consent').map((p) => p.key);
    const raw: RawFigures = {
      rights,
      rightsTotal: { received, answered: total.answered, medianMs: total.medianMs },
      consents: await repo.consentDecisions(consentPurposes),
      notifiedBreaches: await repo.notifiedBreaches(),
    };
    return { at, raw, evidence: await this.#evidence() };
  }

  async #evidence(): Promise<SystemEvidence> {
    const { audit } = this.#deps;
    const facts = await this.#deps.ropa.facts();
    // The newest stored checkpoint (the timer makes one a minute); only without any is one signed and stored here.
    const cp = (await audit.latestCheckpoint()) ?? (await audit.checkpoint());
    return {
      keyVersions: facts.encryption.kekVersions,
      lastKeyRotation: facts.encryption.lastKeyRotation,
      lastVerify: facts.audit.lastVerify ? { at: facts.audit.lastVerify.at, ok: facts.audit.lastVerify.ok } : null,
      checkpoint: {
        origin: cp.origin,
        treeSize: cp.treeSize,
        rootHash: cp.rootHash.toString('base64'),
        timestamp: cp.timestamp,
        keyId: cp.keyId,
        signature: cp.signature.toString('base64'),
        note: cp.note,
      },
      publicKey: audit.signer.publicKey.toString('base64'),
      algorithm: 'Ed25519',
    };
  }
}
