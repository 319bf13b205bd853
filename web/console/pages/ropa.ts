// The record of processing (Art. 30) and the data map: each purpose's data categories, the recipients they reach and
// the countries those are in, with every transfer outside the EEA and the basis it rests on. From GET /api/v1/ropa,
// with the words of the notice's purpose table (GET /api/v1/ropa/purposes) in the page's language.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { dateTime, facts, h, number, sectionWith, table } from '../ui.ts';

/** A section of this page (its own class, for the page's stylesheet). */
const card = sectionWith('ropa-card');

type Localized = Partial<Record<Lang, string>>;

interface Recipient {
  name: string;
  label?: Localized;
  kind: 'processor' | 'third_party';
  country: string;
  destination?: { id: string; kind: string };
  categories?: string[];
}

interface Transfer {
  purpose: string;
  recipient: string;
  country: string;
  basis: string | null;
  reference?: string;
  safeguard: string;
}

interface Activity {
  purpose: string;
  name: Localized;
  legalBasis: string;
  legalBasisArticle: string;
  dataCategories: { key: string; name: Localized; special: boolean }[];
  recipients: Recipient[];
  transfers: Transfer[];
  retentionDays: number;
}

interface Ropa {
  generatedAt: string;
  configHash: string;
  noticeVersion: string;
  controller: { name: string; contact: string; country: string; dpo?: string };
  activities: Activity[];
  transfers: Transfer[];
  security: {
    encryption: { kekVersion: number; kekVersions: number; lastKeyRotation: string | null };
    audit: { entries: number; lastVerify: { at: string; ok: boolean } | null };
    engine: 'sqlite' | 'postgres';
  };
}

/** The notice's purpose table: the same purposes, already in the page's language. */
interface NoticePurpose {
  key: string;
  legalBasis: string;
  legalBasisArticle: string;
  retention: string;
  transfers: { recipient: string; country: string; countryName: string; safeguard: string }[];
}

const TEXT = {
  en: {
    record: 'Record of processing activities (Art. 30 GDPR)',
    controller: 'Controller',
    contact: 'Contact',
    dpo: 'Data protection officer',
    country: 'Country',
    notice: 'Privacy notice version',
    generated: 'Generated',
    configHash: 'Configuration fingerprint',
    openHtml: 'Open the record as a page (HTML, English)',
    csv: 'Download the record (CSV)',
    activities: 'Processing activities',
    purpose: 'Purpose',
    basis: 'Legal basis',
    categories: 'Data categories',
    recipients: 'Recipients',
    transfers: 'Transfers outside the EEA',
    retention: 'Retention',
    none: 'none',
    map: 'Data map',
    mapIntro: 'For each purpose: the data categories it processes, who receives them, and in which country. Transfers outside the EEA name the basis they rest on.',
    special: 'special category (Art. 9)',
    noRecipients: 'No recipients: the data stays with the controller.',
    inCountry: (c: string) => `In ${c}`,
    eea: 'inside the EEA',
    outside: 'outside the EEA',
    transferBasis: (s: string) => `Transfer outside the EEA: ${s}`,
    onlyCategories: (list: string) => `Receives only: ${list}`,
    destination: 'configured destination',
    kind: { processor: 'processor', third_party: 'independent controller' },
    transferCaption: 'Transfers outside the EEA (Chapter V GDPR)',
    recipient: 'Recipient',
    noTransfers: 'No data leaves the EEA.',
    security: 'Security measures (Art. 32)',
    kek: 'Key-encryption key in use',
    kekValue: (v: number, n: number) => `version ${v} (${n} in all)`,
    rotation: 'Last key rotation',
    auditEntries: 'Audit log entries',
    lastVerify: 'Last audit verification',
    verifyOk: 'passed',
    verifyBad: 'FAILED',
    storage: 'Storage',
    engines: { sqlite: 'SQLite', postgres: 'PostgreSQL' },
  },
  it: {
    record: 'Registro delle attività di trattamento (art. 30 GDPR)',
    controller: 'Titolare',
    contact: 'Contatto',
    dpo: 'Responsabile della protezione dei dati',
    country: 'Paese',
    notice: 'Versione dell’informativa',
    generated: 'Generato',
    configHash: 'Impronta della configurazione',
    openHtml: 'Apri il registro come pagina (HTML, in italiano)',
    csv: 'Scarica il registro (CSV)',
    activities: 'Attività di trattamento',
    purpose: 'Finalità',
    basis: 'Base giuridica',
    categories: 'Categorie di dati',
    recipients: 'Destinatari',
    transfers: 'Trasferimenti fuori dal SEE',
    retention: 'Conservazione',
    none: 'nessuno',
    map: 'Mappa dei dati',
    mapIntro: 'Per ogni finalità: le categorie di dati trattate, chi le riceve e in quale paese. I trasferimenti fuori dal SEE indicano la base su cui si fondano.',
    special: 'categoria particolare (art. 9)',
    noRecipients: 'Nessun destinatario: i dati restano presso il titolare.',
    inCountry: (c: string) => `Paese: ${c}`,
    eea: 'nel SEE',
    outside: 'fuori dal SEE',
    transferBasis: (s: string) => `Trasferimento fuori dal SEE: ${s}`,
    onlyCategories: (list: string) => `Riceve solo: ${list}`,
    destination: 'destinazione configurata',
    kind: { processor: 'responsabile del trattamento', third_party: 'titolare autonomo' },
    transferCaption: 'Trasferimenti fuori dal SEE (capo V GDPR)',
    recipient: 'Destinatario',
    noTransfers: 'Nessun dato lascia il SEE.',
    security: 'Misure di sicurezza (art. 32)',
    kek: 'Chiave di cifratura delle chiavi in uso',
    kekValue: (v: number, n: number) => `versione ${v} (${n} in tutto)`,
    rotation: 'Ultima rotazione delle chiavi',
    auditEntries: 'Voci del registro di audit',
    lastVerify: 'Ultima verifica del registro di audit',
    verifyOk: 'superata',
    verifyBad: 'NON superata',
    storage: 'Archiviazione',
    engines: { sqlite: 'SQLite', postgres: 'PostgreSQL' },
  },
} as const;

type Words = (typeof TEXT)[Lang];

const named = (x: Localized, lang: Lang, fallback: string): string => x[lang] ?? x[lang === 'it' ? 'en' : 'it'] ?? fallback;
const recipientName = (r: Pick<Recipient, 'name' | 'label'>, lang: Lang): string => r.label?.[lang] ?? r.name;

function countryName(code: string, lang: Lang): string {
  try {
    return new Intl.DisplayNames([lang], { type: 'region' }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** What the data map needs of one recipient: its transfer (if it leaves the EEA) in the page's words. */
function transferOf(a: Activity, r: Recipient, notice: NoticePurpose | undefined, lang: Lang): string | null {
  const t = a.transfers.find((x) => x.recipient === r.name && x.country === r.country);
  if (!t) return null;
  const words = notice?.transfers.find((x) => x.country === r.country && x.recipient === recipientName(r, lang));
  return words?.safeguard ?? t.safeguard;
}

/** A destination's narrowing (keys or prefixes) as the names of the purpose's categories it covers. */
function narrowed(a: Activity, r: Recipient, lang: Lang): string | null {
  if (!r.categories) return null;
  const keys = r.categories;
  const names = a.dataCategories.filter((c) => keys.some((k) => c.key === k || c.key.startsWith(`${k}.`))).map((c) => named(c.name, lang, c.key));
  return names.length > 0 ? names.join(', ') : null;
}

function recipientItem(a: Activity, r: Recipient, notice: NoticePurpose | undefined, lang: Lang, T: Words): HTMLElement {
  const transfer = transferOf(a, r, notice, lang);
  const country = `${countryName(r.country, lang)} (${r.country}) — ${transfer === null ? T.eea : T.outside}`;
  const details: HTMLElement[] = [h('li', {}, T.inCountry(country))];
  if (transfer !== null) details.push(h('li', { class: 'transfer' }, T.transferBasis(transfer)));
  const only = narrowed(a, r, lang);
  if (only !== null) details.push(h('li', {}, T.onlyCategories(only)));
  const kind = r.destination ? `${T.kind[r.kind]}, ${T.destination}` : T.kind[r.kind];
  return h('li', {}, h('strong', {}, recipientName(r, lang)), ` — ${kind}`, h('ul', {}, ...details));
}

function purposeMap(a: Activity, notice: NoticePurpose | undefined, lang: Lang, T: Words): HTMLElement {
  const id = `map-${a.purpose}`;
  const categories = a.dataCategories.map((c) => h('li', {}, named(c.name, lang, c.key), c.special ? ` — ${T.special}` : ''));
  const recipients =
    a.recipients.length === 0 ? h('p', {}, T.noRecipients) : h('ul', {}, ...a.recipients.map((r) => recipientItem(a, r, notice, lang, T)));
  return h(
    'section',
    { class: 'ropa-purpose', 'aria-labelledby': id },
    h('h3', { id }, named(a.name, lang, a.purpose)),
    h('p', { class: 'hint' }, `${T.basis}: ${notice ? `${notice.legalBasis} (${notice.legalBasisArticle})` : a.legalBasisArticle}`),
    h(
      'ul',
      { class: 'ropa-map' },
      h('li', {}, h('span', { class: 'ropa-label' }, `${T.categories} (${a.dataCategories.length})`), h('ul', {}, ...categories)),
      h('li', {}, h('span', { class: 'ropa-label' }, `${T.recipients} (${a.recipients.length})`), recipients),
    ),
  );
}

function recordSection(ropa: Ropa, notices: Map<string, NoticePurpose>, lang: Lang, T: Words): HTMLElement {
  const c = ropa.controller;
  const links = h(
    'p',
    { class: 'ropa-links' },
    h('a', { href: `/api/v1/ropa?format=html&lang=${lang}`, target: '_blank', rel: 'noopener' }, T.openHtml),
    ' · ',
    h('a', { href: `/api/v1/ropa?format=csv&lang=${lang}`, download: 'record-of-processing.csv' }, T.csv),
  );
  const rows = ropa.activities.map((a) => {
    const n = notices.get(a.purpose);
    return [
      named(a.name, lang, a.purpose),
      n ? `${n.legalBasis} (${n.legalBasisArticle})` : a.legalBasisArticle,
      number(lang, a.dataCategories.length),
      a.recipients.length === 0 ? T.none : a.recipients.map((r) => recipientName(r, lang)).join(', '),
      a.transfers.length === 0 ? T.none : a.transfers.map((t) => countryName(t.country, lang)).join(', '),
      n?.retention ?? String(a.retentionDays),
    ];
  });
  return card(
    T.record,
    facts([
      [T.controller, c.name],
      [T.contact, c.contact],
      [T.dpo, c.dpo],
      [T.country, countryName(c.country, lang)],
      [T.notice, ropa.noticeVersion],
      [T.generated, dateTime(lang, ropa.generatedAt)],
      [T.configHash, h('code', {}, ropa.configHash.slice(0, 16))],
    ]),
    links,
    table(T.activities, [T.purpose, T.basis, T.categories, T.recipients, T.transfers, T.retention], rows),
  );
}

function transfersSection(ropa: Ropa, notices: Map<string, NoticePurpose>, lang: Lang, T: Words): HTMLElement {
  const rows = ropa.activities.flatMap((a) =>
    a.recipients
      .map((r) => [r, transferOf(a, r, notices.get(a.purpose), lang)] as const)
      .filter(([, t]) => t !== null)
      .map(([r, t]) => [named(a.name, lang, a.purpose), recipientName(r, lang), `${countryName(r.country, lang)} (${r.country})`, t]),
  );
  return card(T.transfers, table(T.transferCaption, [T.purpose, T.recipient, T.country, T.basis], rows, T.noTransfers));
}

function securitySection(ropa: Ropa, lang: Lang, T: Words): HTMLElement {
  const s = ropa.security;
  const v = s.audit.lastVerify;
  return card(
    T.security,
    facts([
      [T.kek, T.kekValue(s.encryption.kekVersion, s.encryption.kekVersions)],
      [T.rotation, dateTime(lang, s.encryption.lastKeyRotation)],
      [T.auditEntries, number(lang, s.audit.entries)],
      [T.lastVerify, v ? `${dateTime(lang, v.at)} — ${v.ok ? T.verifyOk : T.verifyBad}` : null],
      [T.storage, T.engines[s.engine]],
    ]),
  );
}

async function render(main: HTMLElement, ctx: PageContext): Promise<void> {
  const T = TEXT[ctx.lang];
  const [ropa, notice] = await Promise.all([
    ctx.api.get<Ropa>('/api/v1/ropa'),
    ctx.api.get<{ purposes: NoticePurpose[] }>('/api/v1/ropa/purposes', { lang: ctx.lang }),
  ]);
  if (ctx.signal.aborted) return;
  const notices = new Map(notice.purposes.map((p) => [p.key, p]));
  const map = card(T.map, h('p', {}, T.mapIntro), ...ropa.activities.map((a) => purposeMap(a, notices.get(a.purpose), ctx.lang, T)));
  map.id = 'data-map';
  main.append(recordSection(ropa, notices, ctx.lang, T), map, transfersSection(ropa, notices, ctx.lang, T), securitySection(ropa, ctx.lang, T));
}

export const ropaPage: ConsolePage = {
  id: 'ropa',
  title: { en: 'Record of processing', it: 'Registro dei trattamenti' },
  // GET /api/v1/ropa answers dpo and admin only.
  roles: ['admin', 'dpo'],
  render,
};
