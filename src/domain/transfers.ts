// Transfers outside the EEA (GDPR Chapter V): which countries need a safeguard, which safeguards can carry a transfer, and their names in words.
import type { Localized, TransferBasis, TransferDerogation, TransferSafeguard } from './privacy-config-types.ts';

export type Lang = 'it' | 'en';

/** The 27 EU member states and the other EEA states (Iceland, Liechtenstein, Norway): sending data there is no Chapter V transfer. */
export const EEA_COUNTRIES: ReadonlySet<string> = new Set(
  'AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE IS LI NO'.split(' '),
);

/** The day the adequacy list below was last compared with the European Commission's list (see docs/privacy-configuration.md). */
export const ADEQUACY_LIST_CHECKED = '2026-12-07';

export interface AdequacyDecision {
  /** ISO 3166-1 alpha-2. */
  country: string;
  /** The Commission decision in force. */
  decision: string;
  /** Set when the decision covers only part of the country's organisations. */
  scope?: Localized;
}

/**
 * Countries and territories with a Commission adequacy decision in force (Art. 45). The United States is not here: its
 * decision (EU) 2023/1795 covers only organisations certified under the EU-US Data Privacy Framework, which is a basis of its own.
 */
export const ADEQUACY_DECISIONS: readonly AdequacyDecision[] = [
  { country: 'AD', decision: 'Decision 2010/625/EU' },
  { country: 'AR', decision: 'Decision 2003/490/EC' },
  { country: 'BR', decision: 'Implementing Decision (EU) 2026/179' },
  {
    country: 'CA',
    decision: 'Decision 2002/2/EC',
    scope: { it: 'solo organizzazioni commerciali soggette al PIPEDA', en: 'commercial organisations subject to PIPEDA only' },
  },
  { country: 'CH', decision: 'Decision 2000/518/EC' },
  { country: 'FO', decision: 'Decision 2010/146/EU' },
  { country: 'GB', decision: 'Implementing Decision (EU) 2021/1772, renewed in December 2025' },
  { country: 'GG', decision: 'Decision 2003/821/EC' },
  { country: 'IL', decision: 'Decision 2011/61/EU' },
  { country: 'IM', decision: 'Decision 2004/411/EC' },
  { country: 'JE', decision: 'Decision 2008/393/EC' },
  {
    country: 'JP',
    decision: 'Implementing Decision (EU) 2019/419',
    scope: { it: 'solo operatori privati soggetti all’APPI e alle sue regole supplementari', en: 'private-sector operators under the APPI and its supplementary rules only' },
  },
  { country: 'KR', decision: 'Implementing Decision (EU) 2022/254' },
  { country: 'NZ', decision: 'Decision 2013/65/EU' },
  { country: 'UY', decision: 'Decision 2012/484/EU' },
];

/** The adequacy decision for organisations certified under the EU-US Data Privacy Framework (basis `data_privacy_framework`). */
export const DATA_PRIVACY_FRAMEWORK_DECISION = 'Implementing Decision (EU) 2023/1795';

const ADEQUATE: ReadonlyMap<string, AdequacyDecision> = new Map(ADEQUACY_DECISIONS.map((d) => [d.country, d]));

/** Codes people write that are not ISO 3166-1 alpha-2: the checks would otherwise judge a country that does not exist. */
const NOT_ISO: Readonly<Record<string, string>> = { UK: 'GB', EL: 'GR' };

export function isEea(country: string): boolean {
  return EEA_COUNTRIES.has(country);
}

/** The adequacy decision covering `country` as a whole (none for the US: see `data_privacy_framework`). */
export function adequacyDecision(country: string): AdequacyDecision | undefined {
  return ADEQUATE.get(country);
}

/** The ISO code meant by a common non-ISO spelling (`UK` → `GB`, `EL` → `GR`), if `country` is one. */
export function isoCodeFor(country: string): string | undefined {
  return Object.hasOwn(NOT_ISO, country) ? NOT_ISO[country] : undefined;
}

export interface TransferDecision {
  /** Sending data to `country` leaves the EEA. */
  outsideEea: boolean;
  /** No adequacy decision covers the country as a whole: an Art. 46 safeguard or an Art. 49 derogation must be named. */
  needsSafeguard: boolean;
  /** The safeguard as configured, or implied by an adequacy decision; undefined inside the EEA or when missing. */
  safeguard: TransferSafeguard | undefined;
  allow: boolean;
  /** Why not, in words a configuration author understands; set when `allow` is false. */
  reason?: string;
}

const BASIS_ALTERNATIVES = 'standard_contractual_clauses, binding_corporate_rules, or derogation with a derogation';

/** Whether data may go to a recipient in `country` under `safeguard` (absent when the configuration names none). Pure. */
export function checkTransfer(country: string, safeguard: TransferSafeguard | undefined): TransferDecision {
  const outsideEea = !isEea(country);
  const decision = adequacyDecision(country);
  const needsSafeguard = outsideEea && decision === undefined;
  const deny = (reason: string): TransferDecision => ({ outsideEea, needsSafeguard, safeguard, allow: false, reason });
  const iso = isoCodeFor(country);
  if (iso !== undefined) return deny(`"${country}" is not an ISO 3166-1 alpha-2 code; write "${iso}"`);
  if (safeguard !== undefined) {
    const shape = safeguardShapeError(safeguard);
    if (shape !== undefined) return deny(shape);
  }
  if (!outsideEea) {
    // A safeguard stated for an EEA country would put a transfer in the record of processing that does not happen.
    return safeguard === undefined
      ? { outsideEea, needsSafeguard, safeguard, allow: true }
      : deny(`${country} is in the EEA, so there is no transfer outside it; remove transfer`);
  }
  if (safeguard === undefined) {
    if (decision !== undefined) return { outsideEea, needsSafeguard, safeguard: { basis: 'adequacy' }, allow: true };
    if (country === 'US') {
      return deny(
        'US: the adequacy decision covers only organisations certified under the EU-US Data Privacy Framework; ' +
          `set basis data_privacy_framework for a certified recipient, otherwise ${BASIS_ALTERNATIVES}`,
      );
    }
    return deny(`${country} is outside the EEA and has no adequacy decision; a transfer needs basis ${BASIS_ALTERNATIVES}`);
  }
  if (safeguard.basis === 'adequacy' && decision === undefined) {
    return deny(
      country === 'US'
        ? 'US has no adequacy decision of its own; use basis data_privacy_framework for an organisation certified under the EU-US Data Privacy Framework'
        : `${country} has no adequacy decision in force; use ${BASIS_ALTERNATIVES}`,
    );
  }
  if (safeguard.basis === 'data_privacy_framework' && country !== 'US') {
    return deny(`the EU-US Data Privacy Framework covers recipients in the US only, not ${country}`);
  }
  return { outsideEea, needsSafeguard, safeguard, allow: true };
}

/** A derogation is named with basis `derogation` and only then. */
function safeguardShapeError(s: TransferSafeguard): string | undefined {
  if (s.basis === 'derogation' && s.derogation === undefined) {
    return 'basis derogation needs derogation: explicit_consent, contract, public_interest, legal_claims or vital_interests (Art. 49(1))';
  }
  if (s.basis !== 'derogation' && s.derogation !== undefined) return `derogation applies only with basis derogation, not ${s.basis}`;
  return undefined;
}

// ---- in words, for people (notice, privacy center, access package) and for the record of processing ----

export const TRANSFER_BASIS_TEXT: Record<TransferBasis, { article: Localized } & Localized> = {
  adequacy: {
    article: { it: 'art. 45 GDPR', en: 'Art. 45 GDPR' },
    it: 'decisione di adeguatezza della Commissione europea',
    en: 'European Commission adequacy decision',
  },
  data_privacy_framework: {
    article: { it: 'art. 45 GDPR', en: 'Art. 45 GDPR' },
    it: 'destinatario certificato secondo il Data Privacy Framework UE-USA, coperto da una decisione di adeguatezza',
    en: 'recipient certified under the EU-US Data Privacy Framework, covered by an adequacy decision',
  },
  standard_contractual_clauses: {
    article: { it: 'art. 46(2)(c) GDPR', en: 'Art. 46(2)(c) GDPR' },
    it: 'clausole contrattuali tipo adottate dalla Commissione europea',
    en: 'standard contractual clauses adopted by the European Commission',
  },
  binding_corporate_rules: {
    article: { it: 'artt. 46(2)(b) e 47 GDPR', en: 'Arts. 46(2)(b) and 47 GDPR' },
    it: 'norme vincolanti d’impresa approvate da un’autorità di controllo',
    en: 'binding corporate rules approved by a supervisory authority',
  },
  derogation: {
    article: { it: 'art. 49(1) GDPR', en: 'Art. 49(1) GDPR' },
    it: 'deroga per una situazione specifica',
    en: 'derogation for a specific situation',
  },
};

export const TRANSFER_DEROGATION_TEXT: Record<TransferDerogation, { article: Localized } & Localized> = {
  explicit_consent: { article: { it: 'art. 49(1)(a)', en: 'Art. 49(1)(a)' }, it: 'il tuo consenso esplicito al trasferimento', en: 'your explicit consent to the transfer' },
  contract: {
    article: { it: 'art. 49(1)(b)-(c)', en: 'Art. 49(1)(b)-(c)' },
    it: 'necessario per un contratto con te o nel tuo interesse',
    en: 'necessary for a contract with you or in your interest',
  },
  public_interest: { article: { it: 'art. 49(1)(d)', en: 'Art. 49(1)(d)' }, it: 'importanti motivi di interesse pubblico', en: 'important reasons of public interest' },
  legal_claims: {
    article: { it: 'art. 49(1)(e)', en: 'Art. 49(1)(e)' },
    it: 'accertare, esercitare o difendere un diritto in sede giudiziaria',
    en: 'establishing, exercising or defending legal claims',
  },
  vital_interests: {
    article: { it: 'art. 49(1)(f)', en: 'Art. 49(1)(f)' },
    it: 'tutelare interessi vitali tuoi o di altre persone',
    en: 'protecting your vital interests or those of others',
  },
};

const regionNames: Partial<Record<Lang, Intl.DisplayNames>> = {};

/** The country's name in `lang` (`US` → "Stati Uniti"), or the code when the runtime does not know it. */
export function countryName(code: string, lang: Lang): string {
  const names = (regionNames[lang] ??= new Intl.DisplayNames([lang], { type: 'region', fallback: 'code' }));
  try {
    return names.of(code) ?? code;
  } catch {
    return code; // not a well-formed region code
  }
}

/** The basis in words with its article, e.g. "standard contractual clauses adopted by the European Commission (Art. 46(2)(c) GDPR)". */
export function safeguardText(s: TransferSafeguard, lang: Lang, country?: string): string {
  const basis = TRANSFER_BASIS_TEXT[s.basis];
  let text = `${basis[lang]} (${basis.article[lang]})`;
  if (s.basis === 'derogation' && s.derogation !== undefined) {
    const d = TRANSFER_DEROGATION_TEXT[s.derogation];
    text = `${basis[lang]}: ${d[lang]} (${d.article[lang]} GDPR)`;
  }
  const scope = s.basis === 'adequacy' && country !== undefined ? adequacyDecision(country)?.scope : undefined;
  if (scope !== undefined) text += ` — ${scope[lang]}`;
  if (s.reference !== undefined) text += lang === 'it' ? `; riferimento: ${s.reference}` : `; reference: ${s.reference}`;
  return text;
}

/** One sentence naming a transfer and its basis, e.g. "Stati Uniti (US): clausole contrattuali tipo … (art. 46(2)(c) GDPR)". */
export function transferSentence(country: string, s: TransferSafeguard, lang: Lang): string {
  return `${countryName(country, lang)} (${country}): ${safeguardText(s, lang, country)}`;
}
