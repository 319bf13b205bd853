// The demo's words in Italian and English, and the purposes' names as the privacy configuration gives them.
export const IT = document.documentElement.lang === 'it';
export const t = (en: string, itText: string): string => (IT ? itText : en);

export const CATEGORIES: Record<string, string> = IT
  ? { shoes: 'Scarpe', bags: 'Borse', outdoor: 'Outdoor', books: 'Libri' }
  : { shoes: 'Shoes', bags: 'Bags', outdoor: 'Outdoor', books: 'Books' };

export const categoryName = (key: string): string => CATEGORIES[key] ?? key;

type Localized = { it?: string; en?: string };
const purposeNames = new Map<string, string>();

/** Loads the purposes' names from GET /v1/consent/config (public); until then, and on failure, a word from the fallback. */
export async function loadPurposeNames(): Promise<void> {
  try {
    const r = await fetch('v1/consent/config');
    if (!r.ok) return;
    const body = (await r.json()) as { purposes?: { key: string; name?: Localized }[] };
    for (const p of body.purposes ?? []) {
      const name = IT ? p.name?.it : p.name?.en;
      if (typeof p.key === 'string' && name) purposeNames.set(p.key, name);
    }
  } catch {
    // Offline or blocked: the fallback words below keep the page readable.
  }
}

const FALLBACK: Record<string, [string, string]> = {
  analytics: ['Analytics', 'Statistiche'],
  personalization: ['Personalisation', 'Personalizzazione'],
  marketing: ['Direct marketing', 'Marketing diretto'],
  advertising: ['Personalised advertising', 'Pubblicità personalizzata'],
};

/** A purpose as a person reads it: its configured name, never its key. */
export function purposeName(key: string): string {
  const known = purposeNames.get(key);
  if (known) return known;
  const f = FALLBACK[key];
  return f ? t(f[0], f[1]) : t('another purpose', 'un’altra finalità');
}

/** The consent purposes the demo shows, in the order of the configuration's shipped shop. */
export const SHOWN_PURPOSES = ['analytics', 'personalization', 'marketing', 'advertising'] as const;

const REASONS: Record<string, [string, string]> = {
  no_consent: ['you have not chosen yet', 'non hai ancora scelto'],
  consent_denied: ['you said no', 'hai detto di no'],
  consent_withdrawn: ['you withdrew your consent', 'hai revocato il consenso'],
  notice_outdated: ['the notice changed since you chose', 'l’informativa è cambiata da quando hai scelto'],
  objection: ['you objected', 'ti sei opposto'],
  restricted: ['processing is restricted', 'il trattamento è limitato'],
  erased: ['your data was erased', 'i tuoi dati sono stati cancellati'],
  special_category_needs_explicit_consent: ['it needs explicit consent', 'serve un consenso esplicito'],
};

/** Why the engine withheld a field, in words. */
export function reasonText(code: string): string {
  const r = REASONS[code];
  return r ? t(r[0], r[1]) : t('not allowed for this purpose', 'non consentito per questa finalità');
}

const STATUS: Record<string, [string, string]> = {
  granted: ['given', 'dato'],
  denied: ['refused', 'negato'],
  withdrawn: ['withdrawn', 'revocato'],
};
export const statusText = (s: string): string => {
  const w = STATUS[s];
  return w ? t(w[0], w[1]) : s;
};
