// Recording consent choices: validates them against the configuration and writes them to the ledger through the ingestion writer.
import type { ConsentProof } from '../../domain/consent-proof.ts';
import type { ConsentStatus } from '../../domain/consent.ts';
import { FiduciaError } from '../../domain/errors.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import { tcfChoices } from '../../domain/tcf.ts';
import type { ConsentRepo } from '../../store/consent-repo.ts';
import { consentReceipt, type ConsentReceipt } from './consent-receipts.ts';
import type { ConsentResult, SourceRef } from '../ingest/ingest-flush.ts';
import type { IngestService } from '../ingest/ingest.ts';

export class ConsentInputError extends FiduciaError {
  constructor(
    code:
      | 'FIDUCIA_UNKNOWN_PURPOSE'
      | 'FIDUCIA_PURPOSE_NOT_CONSENTABLE'
      | 'FIDUCIA_UNKNOWN_NOTICE_VERSION'
      | 'FIDUCIA_MISSING_IDENTITY'
      | 'FIDUCIA_INVALID_TC_STRING'
      | 'FIDUCIA_VALIDATION',
    message: string,
  ) {
    super(code, message);
    this.name = 'ConsentInputError';
  }
}

export interface ConsentInput {
  source: SourceRef;
  /** Only an asserted userId: a browser source's must come with a valid `userHash` (checked at the boundary). */
  userId: string | null;
  anonymousId: string | null;
  /** May be omitted when `tcString` is given. */
  purposes?: Record<string, boolean> | undefined;
  /** IAB TCF v2.2 TC string, mapped onto purposes by the configuration's `tcf` section (method `tcf`). */
  tcString?: string | undefined;
  noticeVersion: string;
  method: 'banner' | 'preference_center' | 'api' | 'tcf' | 'in_context';
  /** `Sec-GPC: 1`: an objection to every sale/share purpose, whatever the body says. */
  gpc: boolean;
  /** The grants are explicit consent (Art. 9(2)(a)), as special categories need. */
  explicit?: boolean | undefined;
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
    private readonly consents: ConsentRepo,
  ) {}

  /** What one POST /v1/consent recorded (see consent-receipts.ts), or null. */
  receipt(receiptId: string): Promise<ConsentReceipt | null> {
    return consentReceipt(this.consents, receiptId);
  }

  async record(input: ConsentInput): Promise<ConsentOutcome> {
    if (!input.userId && !input.anonymousId) {
      throw new ConsentInputError('FIDUCIA_MISSING_IDENTITY', 'consent needs a userId or an anonymousId');
    }
    if (!this.cfg.config.notice.versions.some((v) => v.version === input.noticeVersion)) {
      throw new ConsentInputError('FIDUCIA_UNKNOWN_NOTICE_VERSION', `unknown privacy-notice version "${input.noticeVersion}"`);
    }
    if (input.purposes === undefined && input.tcString === undefined) {
      throw new ConsentInputError('FIDUCIA_VALIDATION', 'give purposes, a tcString, or both');
    }
    // Each purpose is recorded once per request, with the method that decided it; all rows share one receipt.
    const choices = new Map<string, { purpose: string; granted: boolean; method: string }>();
    for (const [key, granted] of Object.entries(input.purposes ?? {})) {
      const purpose = this.cfg.purpose(key);
      if (!purpose) throw new ConsentInputError('FIDUCIA_UNKNOWN_PURPOSE', `unknown purpose "${key}"`);
      if (purpose.legalBasis !== 'consent') {
        throw new ConsentInputError('FIDUCIA_PURPOSE_NOT_CONSENTABLE', `purpose "${key}" is based on ${purpose.legalBasis}, not consent`);
      }
      choices.set(key, { purpose: key, granted, method: input.method });
    }
    if (input.tcString !== undefined) {
      const mapping = this.cfg.config.tcf;
      if (!mapping) throw new ConsentInputError('FIDUCIA_INVALID_TC_STRING', 'TC strings are not accepted: the privacy configuration has no tcf section');
      const decoded = tcfChoices(input.tcString, mapping);
      if (!decoded.ok) throw new ConsentInputError('FIDUCIA_INVALID_TC_STRING', `invalid TC string: ${decoded.reason}`);
      for (const [key, granted] of Object.entries(decoded.choices)) {
        // Both signals for one purpose: a denial in either wins.
        const explicitChoice = choices.get(key);
        if (!explicitChoice) choices.set(key, { purpose: key, granted, method: 'tcf' });
        else if (explicitChoice.granted && !granted) choices.set(key, { purpose: key, granted: false, method: 'tcf' });
      }
    }
    if (input.gpc) {
      // The GPC signal is recorded as such, so the ledger (and the receipt) shows why sale/share is off.
      for (const p of this.cfg.consentPurposes()) if (p.saleOrShare) choices.set(p.key, { purpose: p.key, granted: false, method: 'gpc' });
    }
    const result = await this.writer.submit<ConsentResult>({
      kind: 'consent',
      source: input.source,
      userId: input.userId,
      anonymousId: input.anonymousId,
      noticeVersion: input.noticeVersion,
      receivedAt: Date.now(),
      proof: input.proof,
      method: input.method,
      explicit: input.explicit === true,
      choices: [...choices.values()],
    });
    return { receiptId: result.receiptId, noticeVersion: input.noticeVersion, consents: result.consents };
  }
}
