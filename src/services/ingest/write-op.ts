// What callers hand the ingestion writer (a batch of messages or a consent choice) and what each gets back.
import type { ConsentProof } from '../../domain/consent-proof.ts';
import type { ConsentStatus } from '../../domain/consent.ts';
import type { NormalizedMessage } from '../../domain/segment-message.ts';
import type { SourceKind } from '../../store/schema.ts';

export interface SourceRef {
  id: string;
  /**
   * A `browser` source's messages reach the flush with only asserted userIds (the route dropped the rest); their
   * email and phone are traits, never identities, and an alias's previousId can only be an anonymousId.
   */
  kind: SourceKind;
}

export interface MessagesOp {
  kind: 'messages';
  source: SourceRef;
  messages: NormalizedMessage[];
  receivedAt: number;
  proof: ConsentProof;
  /** `Sec-GPC: 1` on the request: an objection to sale/share purposes for every subject it touches. */
  gpc?: boolean | undefined;
  /** Per message: a browser source's userId the route dropped for want of a valid `userHash` (for the live debugger). */
  userIdUnverified?: readonly boolean[] | undefined;
}

export interface ConsentOp {
  kind: 'consent';
  source: SourceRef;
  userId: string | null;
  anonymousId: string | null;
  /** `method` per choice overrides the op's (e.g. `gpc`, `tcf` next to `banner` under one receipt). */
  choices: { purpose: string; granted: boolean; method?: string | undefined }[];
  noticeVersion: string;
  method: string;
  /** Grants are explicit consent (Art. 9(2)(a)): a separate, express statement, needed for special categories. */
  explicit?: boolean | undefined;
  receivedAt: number;
  proof: ConsentProof;
}

export type WriteOp = MessagesOp | ConsentOp;

export interface MessagesResult {
  kind: 'messages';
  stored: number;
  duplicates: number;
}

export interface ConsentResult {
  kind: 'consent';
  receiptId: string;
  subjectId: string;
  consents: Record<string, ConsentStatus>;
}

export type WriteResult = MessagesResult | ConsentResult;
