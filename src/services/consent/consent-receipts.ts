// Consent receipts: what one POST /v1/consent recorded, for the visitor's own records (no personal data, no subject id).
import type { ConsentRepo } from '../../store/consent-repo.ts';

export interface ConsentReceipt {
  receiptId: string;
  noticeVersion: string;
  /** ISO 8601 time of the recording. */
  recordedAt: string;
  choices: { purpose: string; status: string; method: string }[];
}

/**
 * Receipt ids are UUIDv7: 48 bits of time, a 12-bit counter and 62 bits from the CSPRNG. Knowing the time of a
 * receipt still leaves 2^62 guesses per millisecond, and a receipt reveals no identity, so the id is the capability
 * (see docs/consent-widget.md). Anything that is not a UUID is not looked up.
 */
const RECEIPT_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export async function consentReceipt(consents: ConsentRepo, receiptId: string): Promise<ConsentReceipt | null> {
  if (!RECEIPT_ID.test(receiptId)) return null;
  const rows = await consents.byReceipt(receiptId);
  const first = rows[0];
  if (!first) return null;
  return {
    receiptId,
    noticeVersion: first.notice_version,
    recordedAt: new Date(Number(first.at)).toISOString(),
    choices: rows.map((r) => ({ purpose: r.purpose, status: r.status, method: r.method })),
  };
}
