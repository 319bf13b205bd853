// Recording consent choices: validates them against the configuration and writes them to the ledger through the ingestion writer.
import type { ConsentProof } from '../domain/consent-proof.ts';
import type { ConsentStatus } from '../domain/consent.ts';
import type { CompiledConfig } from '../domain/privacy-config.ts';
import type { ConsentResult } from './ingest-flush.ts';
import type { IngestService } from './ingest.ts';

export class ConsentInputError extends Error {
  constructor(
    readonly code: 'FIDUCIA_UNKNOWN_PURPOSE' | 'FIDUCIA_PURPOSE_NOT_CONSENTABLE' | 'FIDUCIA_UNKNOWN_NOTICE_VERSION' | 'FIDUCIA_MISSING_IDENTITY',
    message: string,
  ) {
    super(message);
    this.name = 'ConsentInputError';
  }
}

export interface ConsentInput {
  sourceId: string;
  userId: string | null;
  anonymousId: string | null;
  purposes: Record<string, boolean>;
  noticeVersion: string;
  method: 'banner' | 'preference_center' | 'api' | 'tcf';
  /** `Sec-GPC: 1`: an objection to every sale/share purpose, whatever the body says. */
  gpc: boolean;
  proof: ConsentProof;
}

export interface ConsentOutcome {
  receiptId: string;
  noticeVersion: string;
  consents: Record<string, ConsentStatus>;
}

export class ConsentService {
  constructor(
    private readonly cfg: CompiledConfig,
    private readonly writer: IngestService,
  ) {}

  async record(input: ConsentInput): Promise<ConsentOutcome> {
    if (!input.userId && !input.anonymousId) {
      throw new ConsentInputError('FIDUCIA_MISSING_IDENTITY', 'consent needs a userId or an anonymousId');
    }
    if (!this.cfg.config.notice.versions.some((v) => v.version === input.noticeVersion)) {
      throw new ConsentInputError('FIDUCIA_UNKNOWN_NOTICE_VERSION', `unknown privacy-notice version "${input.noticeVersion}"`);
    }
    const choices: { purpose: string; granted: boolean }[] = [];
    for (const [key, granted] of Object.entries(input.purposes)) {
      const purpose = this.cfg.purpose(key);
      if (!purpose) throw new ConsentInputError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${key}"`);
      if (purpose.legalBasis !== 'consent') {
        throw new ConsentInputError('FIDUCIA_PURPOSE_NOT_CONSENTABLE', `purpose "${key}" is based on ${purpose.legalBasis}, not consent`);
      }
      choices.push({ purpose: key, granted: granted && !(input.gpc && purpose.saleOrShare) });
    }
    const op = {
      kind: 'consent' as const,
      source: { id: input.sourceId },
      userId: input.userId,
      anonymousId: input.anonymousId,
      noticeVersion: input.noticeVersion,
      receivedAt: Date.now(),
      proof: input.proof,
    };
    const result = await this.writer.submit<ConsentResult>({ ...op, method: input.method, choices });
    if (input.gpc) {
      // The GPC signal is recorded as such, so the ledger shows why sale/share is off.
      const gpcChoices = this.cfg.consentPurposes().filter((p) => p.saleOrShare).map((p) => ({ purpose: p.key, granted: false }));
      if (gpcChoices.length > 0) {
        const gpc = await this.writer.submit<ConsentResult>({ ...op, method: 'gpc', choices: gpcChoices });
        return { receiptId: result.receiptId, noticeVersion: input.noticeVersion, consents: gpc.consents };
      }
    }
    return { receiptId: result.receiptId, noticeVersion: input.noticeVersion, consents: result.consents };
  }
}
