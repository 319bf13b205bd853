// The public transparency report: figures rounded so that nobody can be singled out, and the report in one language.
import { ANALYST_MINIMUM_COUNT } from './aggregate-disclosure.ts';
import type { PrivacyConfig } from './privacy-config-types.ts';
import { RIGHTS_TYPES, type RightsType } from './rights.ts';
import { noticePurposes, type Lang } from './ropa.ts';
import { countryName } from './transfers.ts';

/** Below this a count is shown as "fewer than": the same threshold as segment counts shown to analysts. */
export const PUBLIC_MINIMUM_COUNT = ANALYST_MINIMUM_COUNT;
/** Counts at or above the minimum are rounded to the nearest multiple of this. */
export const PUBLIC_ROUNDING = 5;

/** A count as the public sees it: about a multiple of five, or fewer than the minimum. Never the exact small number. */
export type PublicCount = { about: number } | { fewerThan: number };

export function publicCount(n: number): PublicCount {
  if (!(n >= PUBLIC_MINIMUM_COUNT)) return { fewerThan: PUBLIC_MINIMUM_COUNT };
  return { about: Math.max(PUBLIC_MINIMUM_COUNT, Math.round(n / PUBLIC_ROUNDING) * PUBLIC_ROUNDING) };
}

/** A whole percentage, or null when the denominator is below the minimum (a rate over few people says too much). */
export function publicRate(part: number, whole: number): number | null {
  if (!(whole >= PUBLIC_MINIMUM_COUNT)) return null;
  return Math.round((100 * part) / whole);
}

/** The median in whole hours, or null when fewer answers than the minimum make it up. */
export function publicMedianHours(answered: number, medianMs: number | null): number | null {
  if (medianMs === null || !(answered >= PUBLIC_MINIMUM_COUNT)) return null;
  return Math.round(medianMs / 3_600_000);
}

/** The raw figures, exact, as the store counts them: never shown as they are. */
export interface RawFigures {
  rights: { type: string; received: number; answered: number; medianMs: number | null }[];
  rightsTotal: { received: number; answered: number; medianMs: number | null };
  consents: { purpose: string; decided: number; granted: number }[];
  notifiedBreaches: number;
}

/** The running system's measures and the latest signed checkpoint (no personal data in any of it). */
export interface SystemEvidence {
  keyVersions: number;
  lastKeyRotation: number | null;
  lastVerify: { at: number; ok: boolean } | null;
  checkpoint: {
    origin: string;
    treeSize: number;
    rootHash: string;
    timestamp: number;
    keyId: string;
    signature: string;
    note: string;
  } | null;
  publicKey: string;
  algorithm: 'Ed25519';
}

export interface RightsLine {
  type: RightsType;
  received: PublicCount;
  answered: PublicCount;
  medianAnswerHours: number | null;
}

export interface TransparencyReport {
  lang: Lang;
  generatedAt: string;
  controller: string;
  noticeVersion: string;
  minimumCount: number;
  rounding: number;
  purposes: {
    key: string;
    name: string;
    description: string;
    legalBasis: string;
    consentRequired: boolean;
    dataCategories: string[];
    retention: string;
    recipients: { name: string; kind: string; country: string }[];
  }[];
  rights: { byType: RightsLine[]; total: Omit<RightsLine, 'type'> };
  consents: { purpose: string; name: string; decided: PublicCount; grantedPercent: number | null }[];
  breaches: { anyNotified: boolean; notified: PublicCount };
  measures: SystemEvidence;
}

function rightsLines(raw: RawFigures): TransparencyReport['rights'] {
  const byType = RIGHTS_TYPES.map((type): RightsLine => {
    const row = raw.rights.find((r) => r.type === type);
    return {
      type,
      received: publicCount(row?.received ?? 0),
      answered: publicCount(row?.answered ?? 0),
      medianAnswerHours: publicMedianHours(row?.answered ?? 0, row?.medianMs ?? null),
    };
  });
  const t = raw.rightsTotal;
  return { byType, total: { received: publicCount(t.received), answered: publicCount(t.answered), medianAnswerHours: publicMedianHours(t.answered, t.medianMs) } };
}

/** The report in one language: purposes by their configured names, every count through `publicCount`. */
export function transparencyReport(cfg: PrivacyConfig, raw: RawFigures, evidence: SystemEvidence, lang: Lang, generatedAt: number): TransparencyReport {
  const purposes = noticePurposes(cfg, lang).map((p) => ({
    key: p.key,
    name: p.name,
    description: p.description,
    legalBasis: p.legalBasis,
    consentRequired: p.consentRequired,
    dataCategories: p.dataCategories,
    retention: p.retention,
    recipients: p.recipients.map((r) => ({ name: r.name, kind: r.kind, country: countryName(r.country, lang) })),
  }));
  const consents = cfg.purposes
    .filter((p) => p.legalBasis === 'consent')
    .map((p) => {
      const row = raw.consents.find((c) => c.purpose === p.key);
      const decided = row?.decided ?? 0;
      return { purpose: p.key, name: p.name[lang], decided: publicCount(decided), grantedPercent: publicRate(row?.granted ?? 0, decided) };
    });
  return {
    lang,
    generatedAt: new Date(generatedAt).toISOString(),
    controller: cfg.controller.name,
    noticeVersion: cfg.notice.current,
    minimumCount: PUBLIC_MINIMUM_COUNT,
    rounding: PUBLIC_ROUNDING,
    purposes,
    rights: rightsLines(raw),
    consents,
    breaches: { anyNotified: raw.notifiedBreaches > 0, notified: publicCount(raw.notifiedBreaches) },
    measures: evidence,
  };
}
