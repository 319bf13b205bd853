// The access package as a readable, self-contained HTML page in Italian or English (Art. 12(1): clear and plain language). Pure.
import { escapeHtml } from './html.ts';
import type { PrivacyConfig } from './privacy-config-types.ts';
import type { AccessPackage } from './rights-package.ts';

export type Lang = 'it' | 'en';

const T = {
  it: {
    title: 'I tuoi dati personali',
    intro: (c: string) => `Questa è la copia dei dati personali che ${c} conserva su di te (art. 15 GDPR), con le finalità, le basi giuridiche, i destinatari e i tempi di conservazione.`,
    generated: 'Generato il',
    controller: 'Titolare del trattamento',
    contact: 'Contatto',
    dpo: 'Responsabile della protezione dei dati',
    none: 'Nessun dato.',
    noSubject: 'Non conserviamo dati personali collegati a questi identificativi.',
    restricted: 'Il trattamento dei tuoi dati è limitato (art. 18): sono conservati ma non usati.',
    identities: 'I tuoi identificativi',
    kind: 'Tipo',
    value: 'Valore',
    asserted: 'Come è stato collegato',
    traits: 'Dati del profilo',
    name: 'Nome',
    category: 'Categoria',
    purposes: 'Finalità',
    source: 'Fonte',
    updated: 'Aggiornato',
    purposeTable: 'Finalità e basi giuridiche',
    purpose: 'Finalità',
    basis: 'Base giuridica',
    retentionDays: 'Conservazione (giorni)',
    recipients: 'Destinatari',
    recipientKind: { processor: 'Responsabile del trattamento', third_party: 'Terzo (titolare autonomo)' } as Record<string, string>,
    country: 'Paese',
    transfer: 'Trasferimento fuori dal SEE e garanzia',
    retention: 'Conservazione',
    sources: 'Fonti dei dati',
    consents: 'Storico dei consensi',
    status: 'Stato',
    notice: 'Versione informativa',
    method: 'Modalità',
    when: 'Data',
    receipt: 'Ricevuta',
    events: 'Attività registrate',
    type: 'Tipo',
    event: 'Evento',
    time: 'Ora',
    properties: 'Dettagli',
    objections: 'Opposizioni in corso',
    profiling: 'Segmenti e profilazione',
    segment: 'Segmento',
    since: 'Dal',
    rights: 'Puoi chiedere la rettifica o la cancellazione dei dati, la limitazione del trattamento od opporti; puoi proporre reclamo al Garante per la protezione dei dati personali (www.garanteprivacy.it).',
    bases: { consent: 'Consenso', contract: 'Contratto', legal_obligation: 'Obbligo legale', vital_interests: 'Interessi vitali', public_task: 'Compito di interesse pubblico', legitimate_interests: 'Legittimo interesse' } as Record<string, string>,
    statuses: { granted: 'concesso', denied: 'negato', withdrawn: 'revocato' } as Record<string, string>,
  },
  en: {
    title: 'Your personal data',
    intro: (c: string) => `This is a copy of the personal data ${c} holds about you (Art. 15 GDPR), with the purposes, legal bases, recipients and retention periods.`,
    generated: 'Generated on',
    controller: 'Controller',
    contact: 'Contact',
    dpo: 'Data protection officer',
    none: 'No data.',
    noSubject: 'We hold no personal data linked to these identifiers.',
    restricted: 'Processing of your data is restricted (Art. 18): it is stored but not used.',
    identities: 'Your identifiers',
    kind: 'Kind',
    value: 'Value',
    asserted: 'How it was linked',
    traits: 'Profile data',
    name: 'Name',
    category: 'Category',
    purposes: 'Purposes',
    source: 'Source',
    updated: 'Updated',
    purposeTable: 'Purposes and legal bases',
    purpose: 'Purpose',
    basis: 'Legal basis',
    retentionDays: 'Retention (days)',
    recipients: 'Recipients',
    recipientKind: { processor: 'Processor', third_party: 'Third party (independent controller)' } as Record<string, string>,
    country: 'Country',
    transfer: 'Transfer outside the EEA and its safeguard',
    retention: 'Retention',
    sources: 'Sources of the data',
    consents: 'Consent history',
    status: 'Status',
    notice: 'Notice version',
    method: 'Method',
    when: 'Date',
    receipt: 'Receipt',
    events: 'Recorded activity',
    type: 'Type',
    event: 'Event',
    time: 'Time',
    properties: 'Details',
    objections: 'Objections in force',
    profiling: 'Segments and profiling',
    segment: 'Segment',
    since: 'Since',
    rights: 'You may ask for rectification or erasure, restrict processing or object; you may lodge a complaint with a supervisory authority (in Italy, the Garante per la protezione dei dati personali, www.garanteprivacy.it).',
    bases: { consent: 'Consent', contract: 'Contract', legal_obligation: 'Legal obligation', vital_interests: 'Vital interests', public_task: 'Public task', legitimate_interests: 'Legitimate interests' } as Record<string, string>,
    statuses: { granted: 'granted', denied: 'denied', withdrawn: 'withdrawn' } as Record<string, string>,
  },
} as const;

function table(headers: readonly string[], rows: readonly (readonly unknown[])[], empty: string): string {
  if (rows.length === 0) return `<p>${escapeHtml(empty)}</p>`;
  const head = headers.map((h) => `<th scope="col">${escapeHtml(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export function renderAccessHtml(pkg: AccessPackage, config: Pick<PrivacyConfig, 'controller' | 'categories' | 'purposes'>, lang: Lang): string {
  const t = T[lang];
  const categoryName = new Map(config.categories.map((c) => [c.key, c.name[lang]]));
  const purposeName = new Map(config.purposes.map((p) => [p.key, p.name[lang]]));
  const cat = (k: string) => categoryName.get(k) ?? k;
  const pur = (ks: readonly string[]) => ks.map((k) => purposeName.get(k) ?? k).join(', ');
  const c = config.controller;
  const sections: string[] = [];
  const section = (title: string, html: string) => sections.push(`<section><h2>${escapeHtml(title)}</h2>\n${html}\n</section>`);

  if (pkg.subject.id === null) sections.push(`<p>${escapeHtml(t.noSubject)}</p>`);
  if (pkg.subject.restricted) sections.push(`<p><strong>${escapeHtml(t.restricted)}</strong></p>`);
  if (pkg.subject.objections.length > 0) sections.push(`<p>${escapeHtml(t.objections)}: ${escapeHtml(pur(pkg.subject.objections))}</p>`);
  section(t.identities, table([t.kind, t.value, t.asserted], pkg.identities.map((i) => [i.kind, i.value, 'asserted' in i ? i.asserted : '']), t.none));
  section(t.traits, table([t.name, t.value, t.category, t.purposes, t.source, t.updated], pkg.traits.map((x) => [x.name, x.value, cat(x.category), pur(x.purposes), x.source, x.updatedAt]), t.none));
  section(
    t.purposeTable,
    table(
      [t.purpose, t.basis, t.category, t.retentionDays],
      pkg.purposes.map((p) => [`${p.name[lang]} — ${p.description[lang]}`, t.bases[p.legalBasis] ?? p.legalBasis, p.categories.map(cat).join(', '), p.retentionDays]),
      t.none,
    ),
  );
  section(
    t.recipients,
    table([t.name, t.kind, t.country, t.purposes, t.transfer], pkg.recipients.map((r) => [r.name, t.recipientKind[r.kind] ?? r.kind, r.country, pur(r.purposes), r.transfer?.[lang] ?? '—']), t.none),
  );
  section(t.retention, pkg.retention.length === 0 ? `<p>${escapeHtml(t.none)}</p>` : `<ul>${pkg.retention.map((r) => `<li>${escapeHtml(purposeName.get(r.purpose) ?? r.purpose)}: ${escapeHtml(r.rule[lang])}</li>`).join('')}</ul>`);
  const prof = pkg.subject.profiling;
  section(
    t.profiling,
    table([t.segment, t.purpose, t.value, t.since], [...prof.segments.map((s) => [s.id, purposeName.get(s.purpose) ?? s.purpose, '', s.since]), ...prof.computedTraits.map((c) => [c.id, purposeName.get(c.purpose) ?? c.purpose, c.value, ''])], t.none),
  );
  section(t.sources, table([t.source], pkg.subject.sources.map((s) => [s.name]), t.none));
  section(t.consents, table([t.when, t.purpose, t.status, t.notice, t.method, t.source, t.receipt], pkg.consents.map((x) => [x.at, purposeName.get(x.purpose) ?? x.purpose, t.statuses[x.status] ?? x.status, x.noticeVersion, x.method, x.source ?? '', x.receiptId]), t.none));
  section(t.events, table([t.time, t.type, t.event, t.properties, t.category, t.purposes, t.source], pkg.events.map((e) => [e.timestamp, e.type, e.event ?? '', e.properties, cat(e.category), pur(e.purposes), e.source]), t.none));

  return `<!doctype html>
<html lang="${lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(t.title)} — ${escapeHtml(c.name)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;color:#1a1a1a}table{border-collapse:collapse;width:100%;margin:.5rem 0 1.5rem}th,td{border:1px solid #bbb;padding:.3rem .5rem;text-align:left;vertical-align:top;word-break:break-word}th{background:#f0f0f0}h2{margin-top:2rem}</style>
</head>
<body>
<main>
<h1>${escapeHtml(t.title)}</h1>
<p>${escapeHtml(t.intro(c.name))}</p>
<p>${escapeHtml(t.controller)}: ${escapeHtml(c.name)} · ${escapeHtml(t.contact)}: ${escapeHtml(c.contact)}${c.dpo ? ` · ${escapeHtml(t.dpo)}: ${escapeHtml(c.dpo)}` : ''}</p>
<p>${escapeHtml(t.generated)} ${escapeHtml(pkg.subject.generatedAt)}</p>
${sections.join('\n')}
<p>${escapeHtml(t.rights)}</p>
</main>
</body>
</html>
`;
}
