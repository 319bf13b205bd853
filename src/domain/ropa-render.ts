// Renders the record of processing and the notice's purpose table as HTML (readable, self-contained) and CSV (one row per activity).
import { csvTable } from './csv.ts';
import { escapeHtml } from './html.ts';
import { LEGAL_BASIS_TEXT, type Lang, type NoticePurpose, type Ropa, type RopaRecipient, type Transfer } from './ropa.ts';
import { TRANSFER_BASIS_TEXT, TRANSFER_DEROGATION_TEXT } from './transfers.ts';

const STYLE =
  'body{font:15px/1.5 system-ui,sans-serif;margin:2rem;color:#111}table{border-collapse:collapse;width:100%;margin:1rem 0}' +
  'th,td{border:1px solid #bbb;padding:.4rem .5rem;vertical-align:top;text-align:left}th{background:#f1f1f1}' +
  'code{font-size:.85em;word-break:break-all}caption{text-align:left;font-weight:600}';

function page(title: string, lang: Lang, body: string): string {
  return `<!doctype html>\n<html lang="${lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${escapeHtml(title)}</title><style>${STYLE}</style></head><body>${body}</body></html>\n`;
}

const list = (items: readonly string[]): string => (items.length === 0 ? '—' : `<ul>${items.map((i) => `<li>${escapeHtml(i)}</li>`).join('')}</ul>`);
const dl = (rows: readonly [string, string][]): string => `<table>${rows.map(([k, v]) => `<tr><th scope="row">${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`;

/** "Name (processor, DE)", and for a destination "Name (processor, DE; destination crm, webhook; only user.contact.email)". */
function recipientText(x: RopaRecipient): string {
  const parts = [x.kind === 'processor' ? 'processor' : 'third party', x.country];
  let text = `${x.name} (${parts.join(', ')}`;
  if (x.destination) text += `; destination ${x.destination.id}, ${x.destination.kind}`;
  if (x.categories) text += `; only ${x.categories.join(', ')}`;
  return `${text})`;
}

function transfersTable(transfers: readonly Transfer[]): string {
  if (transfers.length === 0) return '<p>None: every recipient processes the data inside the EEA.</p>';
  const cell = (v: string | undefined) => `<td>${v === undefined || v === '' ? '—' : escapeHtml(v)}</td>`;
  const rows = transfers.map(
    (t) =>
      `<tr>${cell(t.recipient)}${cell(t.destination)}${cell(t.purpose)}${cell(t.country)}` +
      cell(t.basis === null ? 'none stated' : `${TRANSFER_BASIS_TEXT[t.basis].en} (${TRANSFER_BASIS_TEXT[t.basis].article.en})`) +
      cell(t.derogation && `${TRANSFER_DEROGATION_TEXT[t.derogation].en} (${TRANSFER_DEROGATION_TEXT[t.derogation].article.en} GDPR)`) +
      `${cell(t.reference)}${cell(t.adequacyDecision)}</tr>`,
  );
  return (
    `<table><thead><tr><th>Recipient</th><th>Destination</th><th>Purpose</th><th>Country</th><th>Basis</th><th>Derogation</th>` +
    `<th>Reference</th><th>Commission decision</th></tr></thead><tbody>${rows.join('')}</tbody></table>`
  );
}

export function ropaHtml(r: Ropa): string {
  const c = r.controller;
  const s = r.security;
  const activities = r.activities
    .map(
      (a) =>
        `<tr><td><strong>${escapeHtml(a.name.en)}</strong><br><code>${escapeHtml(a.purpose)}</code><br>${escapeHtml(a.description.en)}</td>` +
        `<td>${escapeHtml(LEGAL_BASIS_TEXT[a.legalBasis].en)}<br><small>${escapeHtml(a.legalBasisArticle)}</small></td>` +
        `<td>${list(a.dataSubjects)}</td>` +
        `<td>${list(a.dataCategories.map((d) => `${d.name.en} (${d.key})${d.special ? ' — Art. 9' : ''}`))}</td>` +
        `<td>${list(a.recipients.map(recipientText))}</td>` +
        `<td>${list(a.transfers.map((t) => `${t.recipient} → ${t.country}: ${t.safeguard}`))}</td>` +
        `<td>${a.retentionDays} days</td></tr>`,
    )
    .join('');
  const body =
    `<h1>Record of processing activities (Art. 30 GDPR)</h1>` +
    `<p>Generated ${escapeHtml(r.generatedAt)} from the configuration <code>${escapeHtml(r.configHash)}</code> and the running system. Notice version ${escapeHtml(r.noticeVersion)}.</p>` +
    `<h2>Controller</h2>` +
    dl([['Name', c.name], ['Contact', c.contact], ['Data protection officer', c.dpo ?? '—'], ['Country', c.country]]) +
    `<h2>Processing activities</h2><table><thead><tr><th>Purpose</th><th>Legal basis</th><th>Data subjects</th><th>Categories of data</th>` +
    `<th>Recipients</th><th>Third-country transfers</th><th>Retention</th></tr></thead><tbody>${activities}</tbody></table>` +
    `<h2>Transfers outside the EEA (Chapter V GDPR)</h2>` +
    transfersTable(r.transfers) +
    `<h2>Security measures in force (Art. 32)</h2>` +
    dl([
      ['Encryption', s.encryption.scheme],
      ['Key hierarchy', s.encryption.keyHierarchy],
      ['Identities', s.encryption.blindIndexes],
      ['Key separation', s.encryption.keySeparation],
      ['KEK version', `${s.encryption.kekVersion} (${s.encryption.kekVersions} versions)`],
      ['Last key rotation', s.encryption.lastKeyRotation ?? '—'],
      ['Access control', s.access.tokens],
      ['Active tokens by role', Object.entries(s.access.tokensByRole).map(([k, v]) => `${k}: ${v}`).join(', ')],
      ['Sources (write keys)', String(s.access.sources)],
      ['Audit log', s.audit.scheme],
      ['Audit head', `${s.audit.entries} entries, root ${s.audit.rootHash}`],
      ['Audit signing key', `${s.audit.origin} (${s.audit.signingKeyId})`],
      ['Last signed checkpoint', s.audit.lastCheckpoint ? `${s.audit.lastCheckpoint.treeSize} entries at ${s.audit.lastCheckpoint.at}` : '—'],
      ['Last verification', s.audit.lastVerify ? `${s.audit.lastVerify.ok ? 'passed' : 'FAILED'} at ${s.audit.lastVerify.at} (${s.audit.lastVerify.entries} entries)` : '—'],
      ['Storage', s.storage],
    ]);
  return page('Record of processing activities', 'en', body);
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
        `<td>${none(p.recipients.map((r) => `${r.name} (${r.kind}, ${r.country})`))}</td>` +
        `<td>${none(p.transfers.map((x) => `${x.recipient} — ${x.countryName} (${x.country}): ${x.safeguard}`))}</td></tr>`,
    )
    .join('');
  const body =
    `<h1>${escapeHtml(t.title!)} — ${escapeHtml(controller)}</h1><table><thead><tr><th>${t.purpose}</th><th>${t.basis}</th><th>${t.data}</th>` +
    `<th>${t.retention}</th><th>${t.recipients}</th><th>${t.transfers}</th></tr></thead><tbody>${rows}</tbody></table>`;
  return page(t.title!, lang, body);
}
