// The access package as a readable, self-contained HTML page in Italian or English (Art. 12(1): clear and plain language). Pure.
import { escapeHtml } from './html.ts';
import {
  ASSERTION_WORDS,
  CONSENT_METHOD_WORDS,
  CONSENT_STATUS_WORDS,
  EVENT_TYPE_WORDS,
  IDENTITY_KIND_WORDS,
  Namer,
  REQUEST_STATUS_WORDS,
  REQUEST_TYPE_WORDS,
  word,
  type Lang,
} from './people-words.ts';
import type { PrivacyConfig } from './privacy-config-types.ts';
import type { AccessPackage } from './rights-package.ts';
import { basisArticle, LEGAL_BASIS_TEXT, RECIPIENT_KIND_WORDS, recipientName, retentionText } from './ropa.ts';
import { countryName } from './transfers.ts';


export type { Lang };

const T = {
  it: {
    title: 'I tuoi dati personali',
    intro: (c: string) => `Questa è la copia dei dati personali che ${c} conserva su di te (art. 15 GDPR): i dati, da dove vengono, perché li trattiamo, a chi li comunichiamo e per quanto tempo li conserviamo.`,
    request: 'La tua richiesta',
    requestLine: (type: string, status: string) => `Richiesta di ${type}: ${status}.`,
    generated: 'Copia preparata il',
    controller: 'Titolare del trattamento',
    contact: 'Contatto',
    dpo: 'Responsabile della protezione dei dati',
    none: 'Nessun dato.',
    noSubject: 'Non conserviamo dati personali collegati al tuo indirizzo email.',
    restricted: 'Il trattamento dei tuoi dati è limitato (art. 18): sono conservati ma non usati.',
    objections: 'Ti sei opposto a',
    identities: 'Come ti riconosciamo',
    kind: 'Tipo',
    value: 'Valore',
    asserted: 'Come è stato collegato a te',
    traits: 'I dati del tuo profilo',
    field: 'Dato',
    category: 'Tipo di dato',
    purposes: 'Perché lo trattiamo',
    source: 'Da dove viene',
    updated: 'Aggiornato il',
    profiling: 'Segmenti e profilazione',
    segment: 'Segmento o valore calcolato',
    purpose: 'Finalità',
    since: 'Dal',
    events: 'Le tue attività registrate',
    when: 'Quando',
    what: 'Che cosa',
    details: 'Dettagli',
    consents: 'Le tue scelte sul consenso',
    choice: 'Scelta',
    notice: 'Versione dell’informativa',
    method: 'Come',
    receipt: 'Ricevuta',
    purposeTable: 'Perché trattiamo i tuoi dati',
    basis: 'Base giuridica',
    data: 'Dati',
    retention: 'Per quanto tempo',
    recipients: 'A chi li comunichiamo',
    purposeFor: 'Per quali finalità',
    name: 'Nome',
    role: 'Ruolo',
    country: 'Paese',
    transfer: 'Trasferimento fuori dallo Spazio economico europeo',
    sources: 'Da dove vengono i tuoi dati',
    downloads: 'Scarica una copia',
    json: 'Scarica i dati in formato JSON (per trasferirli a un altro servizio)',
    back: 'Torna al centro privacy',
    rights: 'Puoi chiedere la rettifica o la cancellazione dei dati, la limitazione del trattamento od opporti; puoi proporre reclamo al Garante per la protezione dei dati personali (www.garanteprivacy.it).',
  },
  en: {
    title: 'Your personal data',
    intro: (c: string) => `This is a copy of the personal data ${c} holds about you (Art. 15 GDPR): the data, where it came from, why we process it, who we share it with and how long we keep it.`,
    request: 'Your request',
    requestLine: (type: string, status: string) => `Request for ${type}: ${status}.`,
    generated: 'Copy prepared on',
    controller: 'Controller',
    contact: 'Contact',
    dpo: 'Data protection officer',
    none: 'No data.',
    noSubject: 'We hold no personal data linked to your email address.',
    restricted: 'Processing of your data is restricted (Art. 18): it is stored but not used.',
    objections: 'You have objected to',
    identities: 'How we recognise you',
    kind: 'Kind',
    value: 'Value',
    asserted: 'How it was linked to you',
    traits: 'Your profile data',
    field: 'Field',
    category: 'Kind of data',
    purposes: 'Why we process it',
    source: 'Where it came from',
    updated: 'Updated on',
    profiling: 'Segments and profiling',
    segment: 'Segment or computed value',
    purpose: 'Purpose',
    since: 'Since',
    events: 'Your recorded activity',
    when: 'When',
    what: 'What',
    details: 'Details',
    consents: 'Your consent choices',
    choice: 'Choice',
    notice: 'Privacy notice version',
    method: 'How',
    receipt: 'Receipt',
    purposeTable: 'Why we process your data',
    basis: 'Legal basis',
    data: 'Data',
    retention: 'How long',
    recipients: 'Who we share it with',
    purposeFor: 'For which purposes',
    name: 'Name',
    role: 'Role',
    country: 'Country',
    transfer: 'Transfer outside the European Economic Area',
    sources: 'Where your data came from',
    downloads: 'Download a copy',
    json: 'Download the data as JSON (to take it to another service)',
    back: 'Back to the privacy center',
    rights: 'You may ask for rectification or erasure, restrict processing or object; you may lodge a complaint with a supervisory authority (in Italy, the Garante per la protezione dei dati personali, www.garanteprivacy.it).',
  },
} as const;

export interface AccessPageOptions {
  /** The request this copy answers, told in words. */
  request?: { type: string; status: string } | undefined;
  /** Links (relative) to the same package as a file. */
  downloads?: { json?: string | undefined } | undefined;
  /** Link (relative) back to the privacy center; the page's language is added to it. */
  privacyCenter?: string | undefined;
}

// On a phone each row becomes a card of "label: value" lines (the labels come from data-label); the ARIA roles keep
// the table's semantics, which some browsers drop when table parts are displayed as blocks.
const STYLE =
  'body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1a1a1a;background:#fafafa}main{max-width:72rem;margin:0 auto;padding:1rem}' +
  'h1{font-size:1.7rem}h2{margin-top:2rem;border-bottom:2px solid #d0d0d0}a{color:#0b57d0}a:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}' +
  'table{border-collapse:collapse;width:100%;background:#fff;margin:.5rem 0 1.5rem}th,td{border:1px solid #bbb;padding:.35rem .5rem;text-align:left;vertical-align:top;overflow-wrap:break-word}' +
  'th{background:#f0f0f0}.status{background:#fff;border:2px solid #1d1d1f;border-radius:.5rem;padding:.6rem 1rem;font-weight:600}' +
  'p,li{overflow-wrap:anywhere}' +
  '@media (max-width:48rem){table,tbody,tr,td{display:block}thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}' +
  'tr{border:1px solid #bbb;border-radius:.4rem;margin:0 0 .8rem;padding:.3rem .6rem}td{border:0;padding:.15rem 0;overflow-wrap:anywhere}' +
  'td::before{content:attr(data-label) ": ";font-weight:600}}';

type Row = readonly unknown[];

/** One table per section; on a phone its rows become cards (STYLE). */
function table(headers: readonly string[], rows: readonly Row[], empty: string): string {
  if (rows.length === 0) return `<p>${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th scope="col" role="columnheader">${escapeHtml(h)}</th>`).join('');
  const labels = headers.map((h) => escapeHtml(h));
  const body = rows.map((r) => `<tr role="row">${r.map((c, i) => `<td role="cell" data-label="${labels[i] ?? ''}">${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table role="table"><thead role="rowgroup"><tr role="row">${head}</tr></thead><tbody role="rowgroup">\n${body}\n</tbody></table>`;
}

/** The person's own data: identifiers, profile, profiling, activity and consent choices. */
function dataSections(pkg: AccessPackage, n: Namer, lang: Lang, section: (id: string, title: string, html: string) => void): void {
  const t = T[lang];
  section('identities', t.identities, table([t.kind, t.value, t.asserted], pkg.identities.map((i) => [word(IDENTITY_KIND_WORDS, i.kind, lang), n.value(i.value), word(ASSERTION_WORDS, i.asserted, lang)]), t.none));
  section(
    'traits',
    t.traits,
    table([t.field, t.value, t.category, t.purposes, t.source, t.updated], pkg.traits.map((x) => [n.trait(x.name), n.value(x.value), n.category(x.category), n.purposes(x.purposes), n.source(x.source), n.date(x.updatedAt)]), t.none),
  );
  const prof = pkg.subject.profiling;
  if (prof.segments.length + prof.computedTraits.length > 0) {
    const rows = [...prof.segments.map((s) => [n.segment(s.id), n.purpose(s.purpose), '', n.date(s.since)]), ...prof.computedTraits.map((c) => [n.segment(c.id), n.purpose(c.purpose), n.value(c.value), ''])];
    section('profiling', t.profiling, table([t.segment, t.purpose, t.value, t.since], rows, t.none));
  }
  const what = (e: AccessPackage['events'][number]) => (e.type === 'track' && e.event ? n.event(e.event) : `${word(EVENT_TYPE_WORDS, e.type, lang)}${e.event ? `: ${e.event}` : ''}`);
  const details = (p: unknown) => (p !== null && typeof p === 'object' && !Array.isArray(p) ? n.fields(p as Record<string, unknown>) : n.value(p));
  section(
    'events',
    t.events,
    table([t.when, t.what, t.details, t.category, t.purposes, t.source], pkg.events.map((e) => [n.date(e.timestamp), what(e), details(e.properties), n.category(e.category), n.purposes(e.purposes), n.source(e.source)]), t.none),
  );
  section(
    'consents',
    t.consents,
    table(
      [t.when, t.purpose, t.choice, t.notice, t.method, t.source, t.receipt],
      pkg.consents.map((x) => [n.date(x.at), n.purpose(x.purpose), word(CONSENT_STATUS_WORDS, x.status, lang), x.noticeVersion, word(CONSENT_METHOD_WORDS, x.method, lang), n.source(x.source), x.receiptId]),
      t.none,
    ),
  );
}

/** Why, for how long, with whom, and from where (Art. 15(1)(a)–(g)). */
function contextSections(pkg: AccessPackage, n: Namer, lang: Lang, section: (id: string, title: string, html: string) => void): void {
  const t = T[lang];
  section(
    'purposes',
    t.purposeTable,
    table(
      [t.purpose, t.basis, t.data, t.retention],
      pkg.purposes.map((p) => [`${p.name[lang]} — ${p.description[lang]}`, `${LEGAL_BASIS_TEXT[p.legalBasis][lang]} (${basisArticle(p.legalBasis, lang)})`, p.categories.map((c) => n.category(c)).join(', ') || '—', retentionText(p.retentionDays, lang)]),
      t.none,
    ),
  );
  section(
    'recipients',
    t.recipients,
    table(
      [t.name, t.role, t.country, t.purposeFor, t.transfer],
      pkg.recipients.map((r) => [recipientName(r, lang), word(RECIPIENT_KIND_WORDS, r.kind, lang), countryName(r.country, lang), n.purposes(r.purposes), r.transfer?.[lang] ?? '—']),
      t.none,
    ),
  );
  section('sources', t.sources, pkg.subject.sources.length === 0 ? `<p>${escapeHtml(t.none)}</p>` : `<ul>${pkg.subject.sources.map((s) => `<li>${escapeHtml(n.source(s.name))}</li>`).join('')}</ul>`);
}

export function renderAccessHtml(pkg: AccessPackage, config: Pick<PrivacyConfig, 'controller' | 'categories' | 'purposes'> & Partial<Pick<PrivacyConfig, 'labels' | 'segments'>>, lang: Lang, opts: AccessPageOptions = {}): string {
  const t = T[lang];
  const n = new Namer(config, lang);
  const c = config.controller;
  const sections: string[] = [];
  const section = (id: string, title: string, html: string) => sections.push(`<section aria-labelledby="${id}"><h2 id="${id}">${escapeHtml(title)}</h2>\n${html}\n</section>`);
  const notes: string[] = [];
  if (opts.request) notes.push(`<p class="status" role="status">${escapeHtml(t.requestLine(word(REQUEST_TYPE_WORDS, opts.request.type, lang), word(REQUEST_STATUS_WORDS, opts.request.status, lang)))}</p>`);
  if (pkg.subject.id === null) notes.push(`<p>${escapeHtml(t.noSubject)}</p>`);
  if (pkg.subject.restricted) notes.push(`<p><strong>${escapeHtml(t.restricted)}</strong></p>`);
  if (pkg.subject.objections.length > 0) notes.push(`<p>${escapeHtml(t.objections)}: ${escapeHtml(n.purposes(pkg.subject.objections))}</p>`);
  dataSections(pkg, n, lang, section);
  contextSections(pkg, n, lang, section);
  const links: string[] = [];
  if (opts.downloads?.json) links.push(`<li><a href="${escapeHtml(opts.downloads.json)}" download>${escapeHtml(t.json)}</a></li>`);
  if (links.length > 0) section('downloads', t.downloads, `<ul>${links.join('')}</ul>`);
  const back = opts.privacyCenter ? `<p><a href="${escapeHtml(`${opts.privacyCenter}?lang=${lang}`)}">${escapeHtml(t.back)}</a></p>` : '';

  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(t.title)} — ${escapeHtml(c.name)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>${escapeHtml(t.title)}</h1>
${notes.join('\n')}
<p>${escapeHtml(t.intro(c.name))}</p>
<p>${escapeHtml(t.controller)}: ${escapeHtml(c.name)} · ${escapeHtml(t.contact)}: ${escapeHtml(c.contact)}${c.dpo ? ` · ${escapeHtml(t.dpo)}: ${escapeHtml(c.dpo)}` : ''}</p>
<p>${escapeHtml(t.generated)} ${escapeHtml(n.date(pkg.subject.generatedAt))}</p>
${sections.join('\n')}
<p>${escapeHtml(t.rights)}</p>
${back}
</main>
</body>
</html>
`;
}
