// Renders the record of processing and the notice's purpose table as HTML (readable, self-contained) and CSV (one row per activity).
import { csvTable } from './csv.ts';
import { escapeHtml } from './html.ts';
import type { Localized } from './privacy-config-types.ts';
import {
  basisArticle,
  DATA_SUBJECTS,
  LEGAL_BASIS_TEXT,
  RECIPIENT_KIND_WORDS,
  recipientName,
  retentionText,
  type Lang,
  type NoticePurpose,
  type Ropa,
  type RopaActivity,
  type RopaRecipient,
  type Transfer,
} from './ropa.ts';
import { countryName, safeguardText, TRANSFER_BASIS_TEXT, TRANSFER_DEROGATION_TEXT } from './transfers.ts';

const STYLE =
  'body{font:15px/1.5 system-ui,sans-serif;margin:0;padding:1rem;color:#111}p{overflow-wrap:anywhere}.table{overflow-x:auto}.table table{min-width:56rem}' +
  '.table:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}table{border-collapse:collapse;width:100%;margin:1rem 0}' +
  'th,td{border:1px solid #bbb;padding:.4rem .5rem;vertical-align:top;text-align:left;overflow-wrap:break-word}th{background:#f1f1f1}' +
  'code{font-size:.85em;word-break:break-all}caption{text-align:left;font-weight:600}';

function page(title: string, lang: Lang, body: string): string {
  return `<!doctype html>\n<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body><main>${body}</main></body></html>\n`;
}

const list = (items: readonly string[]): string => (items.length === 0 ? '—' : `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`);
const dl = (rows: readonly [string, string][]): string => `<table>${rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;
/** A wide table in a focusable region that scrolls sideways on a narrow screen, instead of the page. */
const region = (labelledBy: string, html: string): string => `<div class="table" role="region" aria-labelledby="${labelledBy}" tabindex="0">${html}</div>`;

const RT = {
  it: {
    title: 'Registro delle attività di trattamento (art. 30 GDPR)',
    generated: (at: string, hash: string, notice: string) => `Generato il ${at} dalla configurazione ${hash} e dal sistema in funzione. Versione dell’informativa: ${notice}.`,
    controller: 'Titolare del trattamento', name: 'Nome', contact: 'Contatto', dpo: 'Responsabile della protezione dei dati', country: 'Paese',
    activities: 'Attività di trattamento', purpose: 'Finalità', basis: 'Base giuridica', subjects: 'Interessati', categories: 'Categorie di dati',
    recipients: 'Destinatari', transfersCol: 'Trasferimenti verso paesi terzi', retention: 'Conservazione', special: 'categoria particolare (art. 9)',
    transfers: 'Trasferimenti fuori dal SEE (capo V GDPR)', noTransfers: 'Nessuno: ogni destinatario tratta i dati all’interno del SEE.',
    recipient: 'Destinatario', delivery: 'Invio', automatic: 'automatico', derogation: 'Deroga', reference: 'Riferimento', decision: 'Decisione della Commissione',
    noBasis: 'nessuna base indicata', only: 'solo', destination: { webhook: 'invio automatico (webhook)', segment: 'invio automatico (API compatibile Segment)' } as Record<string, string>,
    security: 'Misure di sicurezza in vigore (art. 32)', none: '—', passed: 'superata', failed: 'NON SUPERATA',
    entriesAt: (n: number, at: string) => `${n} voci al ${at}`, verifyAt: (ok: string, at: string, n: number) => `${ok} il ${at} (${n} voci)`,
    audit: (n: number, root: string) => `${n} voci, radice ${root}`, versions: (v: number, n: number) => `${v} (${n} ${n === 1 ? 'versione' : 'versioni'})`,
  },
  en: {
    title: 'Record of processing activities (Art. 30 GDPR)',
    generated: (at: string, hash: string, notice: string) => `Generated ${at} from the configuration ${hash} and the running system. Notice version ${notice}.`,
    controller: 'Controller', name: 'Name', contact: 'Contact', dpo: 'Data protection officer', country: 'Country',
    activities: 'Processing activities', purpose: 'Purpose', basis: 'Legal basis', subjects: 'Data subjects', categories: 'Categories of data',
    recipients: 'Recipients', transfersCol: 'Third-country transfers', retention: 'Retention', special: 'special category (Art. 9)',
    transfers: 'Transfers outside the EEA (Chapter V GDPR)', noTransfers: 'None: every recipient processes the data inside the EEA.',
    recipient: 'Recipient', delivery: 'Delivery', automatic: 'automatic', derogation: 'Derogation', reference: 'Reference', decision: 'Commission decision',
    noBasis: 'none stated', only: 'only', destination: { webhook: 'automatic delivery (webhook)', segment: 'automatic delivery (Segment-compatible API)' } as Record<string, string>,
    security: 'Security measures in force (Art. 32)', none: '—', passed: 'passed', failed: 'FAILED',
    entriesAt: (n: number, at: string) => `${n} entries at ${at}`, verifyAt: (ok: string, at: string, n: number) => `${ok} at ${at} (${n} entries)`,
    audit: (n: number, root: string) => `${n} entries, root ${root}`, versions: (v: number, n: number) => `${v} (${n} ${n === 1 ? 'version' : 'versions'})`,
  },
} as const;

/** The measures of Art. 32 in words; the facts (versions, counts, hashes) come from the running system. */
const SECURITY: Record<Lang, Record<'encryption' | 'keyHierarchy' | 'blindIndexes' | 'sqlite' | 'postgres' | 'tokens' | 'audit', string> & { labels: readonly string[] }> = {
  it: {
    encryption: 'AES-256-GCM per campo, IV casuale di 96 bit, dati autenticati aggiuntivi che legano interessato e campo (formato di cifratura 1)',
    keyHierarchy: 'una chiave dati per interessato, cifrata (AES-256-GCM) da una chiave di cifratura delle chiavi (KEK) con versione, derivata con HKDF-SHA256 dalla chiave principale; la cancellazione distrugge la chiave dati',
    blindIndexes: 'gli identificativi si cercano con un indice cieco HMAC-SHA256 e non sono mai conservati in chiaro',
    sqlite: 'chiavi in un file SQLite separato (keys.db), chiave principale a parte',
    postgres: 'chiavi in uno schema o database PostgreSQL separato, chiave principale a parte',
    tokens: 'token di accesso conservati come hash SHA-256, ruoli amministratore/DPO/analista/servizio, token di servizio legati alle finalità; le write key possono solo inviare dati',
    audit: 'registro solo in aggiunta, albero di Merkle RFC 6962 (SHA-256), checkpoint firmati Ed25519 (C2SP tlog-checkpoint)',
    labels: ['Cifratura', 'Gerarchia delle chiavi', 'Identificativi', 'Separazione delle chiavi', 'Versione della KEK', 'Ultima rotazione delle chiavi', 'Controllo degli accessi', 'Token attivi per ruolo', 'Fonti (write key)', 'Registro di audit', 'Stato del registro', 'Chiave di firma del registro', 'Ultimo checkpoint firmato', 'Ultima verifica', 'Archiviazione'],
  },
  en: {
    encryption: 'AES-256-GCM per field, fresh 96-bit IV, additional authenticated data binding subject and field (ciphertext format 1)',
    keyHierarchy: 'one data key per subject, wrapped (AES-256-GCM) by a versioned key-encryption key (KEK) derived with HKDF-SHA256 from the master key; erasure destroys the data key',
    blindIndexes: 'identities are looked up by an HMAC-SHA256 blind index, never stored in clear',
    sqlite: 'keystore in its own SQLite file (keys.db), master key apart',
    postgres: 'keystore in its own PostgreSQL schema or database, master key apart',
    tokens: 'access tokens stored as SHA-256 hashes, roles administrator/DPO/analyst/service, service tokens bound to purposes; write keys can only send data',
    audit: 'append-only log, RFC 6962 Merkle tree (SHA-256), Ed25519-signed checkpoints (C2SP tlog-checkpoint)',
    labels: ['Encryption', 'Key hierarchy', 'Identities', 'Key separation', 'KEK version', 'Last key rotation', 'Access control', 'Active tokens by role', 'Sources (write keys)', 'Audit log', 'Audit head', 'Audit signing key', 'Last signed checkpoint', 'Last verification', 'Storage'],
  },
};

const ROLE_WORDS: Record<string, Localized> = {
  admin: { it: 'amministratore', en: 'administrator' },
  dpo: { it: 'DPO', en: 'DPO' },
  analyst: { it: 'analista', en: 'analyst' },
  service: { it: 'servizio', en: 'service' },
};

/** A category key or prefix as the names of the categories it covers. */
function categoryNames(a: RopaActivity, entries: readonly string[], lang: Lang): string {
  return a.dataCategories.filter((d) => entries.some((e) => d.key === e || d.key.startsWith(`${e}.`))).map((d) => d.name[lang]).join(', ');
}

/** "Name (processor, Germany)", and for a destination "Name (processor, India; automatic delivery (webhook); only Email address)". */
function recipientText(a: RopaActivity, x: RopaRecipient, lang: Lang): string {
  const t = RT[lang];
  let text = `${recipientName(x, lang)} (${RECIPIENT_KIND_WORDS[x.kind][lang]}, ${countryName(x.country, lang)}`;
  if (x.destination) text += `; ${t.destination[x.destination.kind] ?? x.destination.kind}`;
  if (x.categories) text += `; ${t.only} ${categoryNames(a, x.categories, lang)}`;
  return `${text})`;
}

function transferSafeguard(t: Transfer, lang: Lang): string {
  if (t.basis === null) return RT[lang].noBasis;
  return safeguardText({ basis: t.basis, ...(t.derogation ? { derogation: t.derogation } : {}), ...(t.reference ? { reference: t.reference } : {}) }, lang, t.country);
}

/** A Commission decision's name as Italian writes it ("Implementing Decision (EU) 2023/1795" → "Decisione di esecuzione (UE) 2023/1795"). */
function decisionName(name: string | undefined, lang: Lang): string | undefined {
  if (name === undefined || lang === 'en') return name;
  return name.replace('Implementing Decision', 'Decisione di esecuzione').replace(/^Decision\b/, 'Decisione').replace('(EU)', '(UE)').replace(/\/EU\b/, '/UE').replace(/\/EC\b/, '/CE').replace(', renewed in December', ', rinnovata nel dicembre');
}

function transfersTable(r: Ropa, lang: Lang): string {
  const t = RT[lang];
  if (r.transfers.length === 0) return `<p>${escapeHtml(t.noTransfers)}</p>`;
  const names = new Map(r.activities.map((a) => [a.purpose, a.name[lang]]));
  const labels = new Map(r.recipients.map((x) => [x.name, recipientName(x, lang)]));
  const cell = (v: string | undefined) => `<td>${v === undefined || v === '' ? '—' : escapeHtml(v)}</td>`;
  const rows = r.transfers.map(
    (x) =>
      `<tr>${cell(labels.get(x.recipient) ?? x.recipient)}${cell(x.destination === undefined ? undefined : t.automatic)}${cell(names.get(x.purpose) ?? x.purpose)}${cell(countryName(x.country, lang))}` +
      cell(x.basis === null ? t.noBasis : `${TRANSFER_BASIS_TEXT[x.basis][lang]} (${TRANSFER_BASIS_TEXT[x.basis].article[lang]})`) +
      cell(x.derogation && `${TRANSFER_DEROGATION_TEXT[x.derogation][lang]} (${TRANSFER_DEROGATION_TEXT[x.derogation].article[lang]} GDPR)`) +
      `${cell(x.reference)}${cell(decisionName(x.adequacyDecision, lang))}</tr>`,
  );
  const head = [t.recipient, t.delivery, t.purpose, t.country, t.basis, t.derogation, t.reference, t.decision].map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  return region('h-transfers', `<table><thead><tr>${head}</tr></thead><tbody>${rows.join('')}</tbody></table>`);
}

function activitiesTable(r: Ropa, lang: Lang): string {
  const t = RT[lang];
  const rows = r.activities
    .map(
      (a) =>
        `<tr><td><strong>${escapeHtml(a.name[lang])}</strong><br>${escapeHtml(a.description[lang])}</td>` +
        `<td>${escapeHtml(LEGAL_BASIS_TEXT[a.legalBasis][lang])}<br><small>${escapeHtml(basisArticle(a.legalBasis, lang))}</small></td>` +
        `<td>${list(DATA_SUBJECTS.map((d) => d[lang]))}</td>` +
        `<td>${list(a.dataCategories.map((d) => `${d.name[lang]}${d.special ? ` — ${t.special}` : ''}`))}</td>` +
        `<td>${list(a.recipients.map((x) => recipientText(a, x, lang)))}</td>` +
        `<td>${list(a.transfers.map((x) => `${recipientName(a.recipients.find((y) => y.name === x.recipient) ?? { name: x.recipient }, lang)} → ${countryName(x.country, lang)}: ${transferSafeguard(x, lang)}`))}</td>` +
        `<td>${escapeHtml(retentionText(a.retentionDays, lang))}</td></tr>`,
    )
    .join('');
  const head = [t.purpose, t.basis, t.subjects, t.categories, t.recipients, t.transfersCol, t.retention].map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  return region('h-activities', `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`);
}

function securityTable(r: Ropa, lang: Lang): string {
  const t = RT[lang];
  const s = r.security;
  const w = SECURITY[lang];
  const values = [
    w.encryption,
    w.keyHierarchy,
    w.blindIndexes,
    w[s.engine],
    t.versions(s.encryption.kekVersion, s.encryption.kekVersions),
    s.encryption.lastKeyRotation ?? t.none,
    w.tokens,
    Object.entries(s.access.tokensByRole).map(([k, v]) => `${ROLE_WORDS[k]?.[lang] ?? k}: ${v}`).join(', ') || t.none,
    String(s.access.sources),
    w.audit,
    t.audit(s.audit.entries, s.audit.rootHash),
    `${s.audit.origin} (${s.audit.signingKeyId})`,
    s.audit.lastCheckpoint ? t.entriesAt(s.audit.lastCheckpoint.treeSize, s.audit.lastCheckpoint.at) : t.none,
    s.audit.lastVerify ? t.verifyAt(s.audit.lastVerify.ok ? t.passed : t.failed, s.audit.lastVerify.at, s.audit.lastVerify.entries) : t.none,
    s.storage,
  ];
  return region('h-security', dl(values.map((v, i): [string, string] => [w.labels[i] ?? '', v])));
}

/** The record of processing for people: every heading, label and value in `lang`; keys stay in the JSON and CSV forms. */
export function ropaHtml(r: Ropa, lang: Lang = 'en'): string {
  const t = RT[lang];
  const c = r.controller;
  const body =
    `<h1>${escapeHtml(t.title)}</h1>` +
    `<p>${escapeHtml(t.generated(r.generatedAt, r.configHash, r.noticeVersion))}</p>` +
    `<h2>${escapeHtml(t.controller)}</h2>` +
    dl([[t.name, c.name], [t.contact, c.contact], [t.dpo, c.dpo ?? t.none], [t.country, countryName(c.country, lang)]]) +
    `<h2 id="h-activities">${escapeHtml(t.activities)}</h2>` +
    activitiesTable(r, lang) +
    `<h2 id="h-transfers">${escapeHtml(t.transfers)}</h2>` +
    transfersTable(r, lang) +
    `<h2 id="h-security">${escapeHtml(t.security)}</h2>` +
    securityTable(r, lang);
  return page(t.title, lang, body);
}

export function ropaCsv(r: Ropa): string {
  const header = [
    'controller', 'controller_contact', 'dpo', 'purpose', 'purpose_name', 'description', 'legal_basis', 'legal_basis_article',
    'data_subjects', 'data_categories', 'special_categories', 'recipients', 'third_country_transfers', 'retention_days',
    'security_measures', 'last_key_rotation', 'audit_entries', 'audit_root',
  ];
  const s = r.security;
  const measures = [s.encryption.scheme, s.encryption.keyHierarchy, s.encryption.blindIndexes, s.access.tokens, s.audit.scheme].join('; ');
  const rows = r.activities.map((a) => [
    r.controller.name, r.controller.contact, r.controller.dpo ?? '', a.purpose, a.name.en, a.description.en, a.legalBasis, a.legalBasisArticle,
    a.dataSubjects.join('; '), a.dataCategories.map((d) => d.key).join('; '), a.dataCategories.filter((d) => d.special).map((d) => d.key).join('; '),
    a.recipients.map((x) => `${x.name} (${x.kind}, ${x.country}${x.destination ? `, destination ${x.destination.id}` : ''})`).join('; '),
    a.transfers.map((t) => `${t.recipient} -> ${t.country}: ${t.safeguard}`).join('; '),
    a.retentionDays, measures, s.encryption.lastKeyRotation ?? '', s.audit.entries, s.audit.rootHash,
  ]);
  return csvTable([header, ...rows]);
}

const NOTICE_TEXT: Record<Lang, Record<string, string>> = {
  it: {
    title: 'Finalità del trattamento', purpose: 'Finalità', basis: 'Base giuridica', data: 'Dati trattati', retention: 'Conservazione',
    recipients: 'Destinatari', transfers: 'Trasferimenti extra SEE', consent: 'richiede il tuo consenso', none: 'nessuno',
  },
  en: {
    title: 'Purposes of processing', purpose: 'Purpose', basis: 'Legal basis', data: 'Data processed', retention: 'Retention',
    recipients: 'Recipients', transfers: 'Transfers outside the EEA', consent: 'needs your consent', none: 'none',
  },
};

export function noticeHtml(controller: string, purposes: readonly NoticePurpose[], lang: Lang): string {
  const t = NOTICE_TEXT[lang];
  const none = (xs: readonly string[]) => (xs.length === 0 ? escapeHtml(t.none!) : list(xs));
  const rows = purposes
    .map(
      (p) =>
        `<tr><td><strong>${escapeHtml(p.name)}</strong><br>${escapeHtml(p.description)}</td>` +
        `<td>${escapeHtml(p.legalBasis)} <small>(${escapeHtml(p.legalBasisArticle)})</small>${p.consentRequired ? `<br><em>${escapeHtml(t.consent!)}</em>` : ''}</td>` +
        `<td>${list(p.dataCategories)}</td><td>${escapeHtml(p.retention)}</td>` +
        `<td>${none(p.recipients.map((r) => `${r.name} (${r.kind}, ${countryName(r.country, lang)})`))}</td>` +
        `<td>${none(p.transfers.map((x) => `${x.recipient} — ${x.countryName} (${x.country}): ${x.safeguard}`))}</td></tr>`,
    )
    .join('');
  const head = [t.purpose, t.basis, t.data, t.retention, t.recipients, t.transfers].map((h) => `<th scope="col">${escapeHtml(h!)}</th>`).join('');
  const body = `<h1 id="h-purposes">${escapeHtml(t.title!)} — ${escapeHtml(controller)}</h1>` + region('h-purposes', `<table><thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table>`);
  return page(t.title!, lang, body);
}
