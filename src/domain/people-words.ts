// Internal keys in words (it/en) for the pages people read: identity kinds, statuses, methods, field names, values and dates. Pure.
import type { Labels, Localized, PrivacyConfig } from './privacy-config-types.ts';

export type Lang = 'it' | 'en';

type Words = Record<string, Localized>;

/** How a person is recognised. */
export const IDENTITY_KIND_WORDS: Words = {
  userId: { it: 'Codice cliente', en: 'Customer ID' },
  anonymousId: { it: 'Identificativo anonimo del browser o dell’app', en: 'Anonymous browser or app ID' },
  email: { it: 'Indirizzo email', en: 'Email address' },
  phone: { it: 'Numero di telefono', en: 'Phone number' },
};

/** How an identifier was linked to the person (src/domain/identity.ts, IdentityAssertion). */
export const ASSERTION_WORDS: Words = {
  server: { it: 'comunicato dai sistemi del negozio', en: 'sent by the shop’s own systems' },
  verified_hash: { it: 'confermato dal tuo accesso al sito', en: 'confirmed by your login on the site' },
  anonymous: { it: 'assegnato dal tuo browser, senza accesso', en: 'given by your browser, without a login' },
  rights_request: { it: 'indicato da te in una richiesta', en: 'given by you in a request' },
  legacy: { it: 'registrato prima che ne tenessimo traccia', en: 'recorded before we kept track of it' },
};

export const CONSENT_STATUS_WORDS: Words = {
  granted: { it: 'dato', en: 'given' },
  denied: { it: 'negato', en: 'refused' },
  withdrawn: { it: 'revocato', en: 'withdrawn' },
};

export const CONSENT_METHOD_WORDS: Words = {
  banner: { it: 'banner dei cookie', en: 'cookie banner' },
  preference_center: { it: 'centro privacy', en: 'privacy center' },
  in_context: { it: 'richiesta nella pagina', en: 'request on the page' },
  api: { it: 'sistemi del negozio', en: 'the shop’s systems' },
  event_context: { it: 'impostazioni inviate dal sito', en: 'settings sent by the site' },
  gpc: { it: 'segnale Global Privacy Control del browser', en: 'your browser’s Global Privacy Control signal' },
  tcf: { it: 'piattaforma di gestione del consenso (IAB TCF)', en: 'consent management platform (IAB TCF)' },
};

export const EVENT_TYPE_WORDS: Words = {
  track: { it: 'Azione', en: 'Action' },
  page: { it: 'Pagina visitata', en: 'Page visited' },
  screen: { it: 'Schermata dell’app vista', en: 'App screen viewed' },
  group: { it: 'Azienda o gruppo', en: 'Company or group' },
};

/** A rights request's status as the person is told it (the public status `awaiting_verification` included). */
export const REQUEST_STATUS_WORDS: Words = {
  awaiting_verification: { it: 'in attesa della conferma con il codice', en: 'waiting for confirmation with the code' },
  received: { it: 'ricevuta', en: 'received' },
  verified: { it: 'confermata', en: 'confirmed' },
  in_progress: { it: 'in corso', en: 'in progress' },
  completed: { it: 'completata', en: 'completed' },
  rejected: { it: 'respinta', en: 'rejected' },
};

export const REQUEST_TYPE_WORDS: Words = {
  access: { it: 'accesso ai dati', en: 'access to your data' },
  portability: { it: 'portabilità dei dati', en: 'data portability' },
  rectification: { it: 'rettifica', en: 'rectification' },
  erasure: { it: 'cancellazione', en: 'erasure' },
  restriction: { it: 'limitazione del trattamento', en: 'restriction of processing' },
  objection: { it: 'opposizione', en: 'objection' },
};

/** The names Fiducia gives the sources it creates itself (src/services/access/access.ts); others are the operator's. */
export const SOURCE_NAME_WORDS: Words = {
  default: { it: 'sistemi del negozio', en: 'the shop’s systems' },
  'web pages': { it: 'pagine web del negozio', en: 'the shop’s web pages' },
};

/** The word for `key`, or the key itself when it has none (a value the configuration or a newer version added). */
export function word(words: Words, key: string, lang: Lang): string {
  return Object.hasOwn(words, key) ? words[key]![lang] : key;
}

/** The human names the configuration gives, with fallbacks: a name without a label is shown as it was sent. */
export class Namer {
  readonly #categories: ReadonlyMap<string, Localized>;
  readonly #purposes: ReadonlyMap<string, Localized>;
  readonly #segments: ReadonlyMap<string, Localized>;
  readonly #labels: Labels;

  constructor(
    config: Pick<PrivacyConfig, 'categories' | 'purposes'> & Partial<Pick<PrivacyConfig, 'labels' | 'segments'>>,
    readonly lang: Lang,
  ) {
    this.#categories = new Map(config.categories.map((c) => [c.key, c.name]));
    this.#purposes = new Map(config.purposes.map((p) => [p.key, p.name]));
    this.#segments = new Map((config.segments ?? []).map((s) => [s.key, s.name]));
    this.#labels = config.labels ?? { traits: {}, events: {}, properties: {} };
  }

  #pick(map: ReadonlyMap<string, Localized> | Record<string, Localized>, key: string): string {
    const hit = map instanceof Map ? map.get(key) : Object.hasOwn(map, key) ? (map as Record<string, Localized>)[key] : undefined;
    return hit ? hit[this.lang] : key;
  }

  category(key: string): string {
    return this.#pick(this.#categories, key);
  }
  purpose(key: string): string {
    return this.#pick(this.#purposes, key);
  }
  purposes(keys: readonly string[]): string {
    return keys.map((k) => this.purpose(k)).join(', ');
  }
  source(name: string | null | undefined): string {
    return name ? word(SOURCE_NAME_WORDS, name, this.lang) : '—';
  }
  segment(key: string): string {
    return this.#pick(this.#segments, key);
  }
  trait(name: string): string {
    return this.#pick(this.#labels.traits, name);
  }
  event(name: string): string {
    return this.#pick(this.#labels.events, name);
  }
  property(name: string): string {
    return this.#pick(this.#labels.properties, name);
  }

  /** A value in words: yes/no, numbers in the language's notation, lists and objects with their labels. */
  value(v: unknown, depth = 0): string {
    if (v === null || v === undefined || v === '') return '—';
    if (typeof v === 'boolean') return v ? (this.lang === 'it' ? 'sì' : 'yes') : 'no';
    if (typeof v === 'number') return new Intl.NumberFormat(this.lang === 'it' ? 'it-IT' : 'en-GB', { maximumFractionDigits: 6 }).format(v);
    if (typeof v === 'string') return v;
    // Deeper than a list of objects (e.g. `products`), the rest is written as sent.
    if (depth > 2) return JSON.stringify(v);
    if (Array.isArray(v)) return v.map((x) => this.value(x, depth + 1)).join(depth === 0 ? '; ' : ', ');
    return this.fields(v as Record<string, unknown>, depth + 1);
  }

  /** `Label: value` pairs of an object (event properties, a product), in the order sent. */
  fields(o: Record<string, unknown>, depth = 0): string {
    return Object.entries(o)
      .map(([k, x]) => `${this.property(k)}: ${this.value(x, depth)}`)
      .join(depth === 0 ? ' · ' : ', ');
  }

  /** A date and time in the language's words, in UTC (said so). */
  date(iso: string | null | undefined): string {
    if (!iso) return '—';
    const d = new Date(iso);
    if (Number.isNaN(d.getTime())) return iso;
    return new Intl.DateTimeFormat(this.lang === 'it' ? 'it-IT' : 'en-GB', {
      day: 'numeric',
      month: 'long',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      timeZone: 'UTC',
      timeZoneName: 'short',
    }).format(d);
  }
}
