// The public transparency page as one self-contained HTML document, in Italian or English (no script, one hashed style).
import { escapeHtml } from './html.ts';
import type { RightsType } from './rights.ts';
import type { Lang } from './ropa.ts';
import type { PublicCount, TransparencyReport } from './transparency.ts';

const STYLE =
  ':root{color-scheme:light;font:17px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d1d1f;background:#fafafa}' +
  'body{margin:0}header,main,footer{max-width:52rem;margin:0 auto;padding:1rem 1.25rem}' +
  'header{display:flex;flex-wrap:wrap;justify-content:space-between;align-items:baseline;gap:.5rem 1rem}' +
  'h1{font-size:1.7rem;margin:.4rem 0}h2{margin-top:2.2rem;border-bottom:2px solid #d0d0d0;padding-bottom:.2rem}h3{margin-bottom:.3rem}' +
  'a{color:#0b57d0}a:focus-visible{outline:3px solid #0b57d0;outline-offset:2px}' +
  'table{border-collapse:collapse;width:100%;margin:.8rem 0}th,td{border-bottom:1px solid #ccc;padding:.4rem .35rem;text-align:left;vertical-align:top}' +
  'td.n{text-align:right;white-space:nowrap}code,pre{font-size:.85em;overflow-wrap:anywhere;word-break:break-all}' +
  'pre{white-space:pre-wrap;background:#f0f0f0;padding:.6rem;border-radius:4px}dt{font-weight:600}dd{margin:0 0 .5rem}' +
  '.purpose{border-top:1px solid #ddd;padding-top:.4rem}.note{color:#444}';

interface Texts {
  title: string; intro: string; other: string; json: string; privacy: string;
  purposes: string; basis: string; consentNeeded: string; data: string; retention: string; recipients: string; noRecipients: string;
  rights: string; rightsIntro: string; kind: string; received: string; answered: string; median: string; total: string;
  consents: string; consentsIntro: string; purpose: string; decided: string; granted: string; noConsentPurposes: string;
  breaches: string; breachYes: (n: string) => string; breachNo: string;
  measures: string; measureList: string[]; keyVersions: (n: number, at: string | null) => string; lastVerify: (at: string, ok: boolean) => string; neverVerified: string;
  checkpoint: string; checkpointIntro: string; noCheckpoint: string;
  cp: { origin: string; size: string; root: string; time: string; keyId: string; signature: string; publicKey: string; note: string };
  verifyTitle: string; verifySteps: [string, string, string];
  fewer: (n: number) => string; about: (n: string) => string; notShown: string; hours: (h: number) => string; days: (d: string) => string;
  rounding: (min: number, step: number) => string; generated: (at: string) => string;
  types: Record<RightsType, string>;
}

const IT: Texts = {
  title: 'Trasparenza', intro: 'Che cosa facciamo con i dati personali, in numeri. Nessun numero riguarda una singola persona.', other: 'English', json: 'Gli stessi dati in formato JSON', privacy: 'Centro privacy',
  purposes: 'Finalità e destinatari', basis: 'Base giuridica', consentNeeded: 'serve il tuo consenso', data: 'Dati', retention: 'Conservazione', recipients: 'Destinatari', noRecipients: 'nessuno',
  rights: 'Richieste sui diritti', rightsIntro: 'Richieste confermate (di accesso, cancellazione e così via), quante hanno avuto risposta e in quanto tempo (mediana).', kind: 'Tipo', received: 'Ricevute', answered: 'Con risposta', median: 'Tempo di risposta (mediana)', total: 'Totale',
  consents: 'Consensi', consentsIntro: 'Per ogni finalità che richiede il consenso: quante persone hanno espresso una scelta e quante, in percentuale, hanno acconsentito.', purpose: 'Finalità', decided: 'Persone che hanno scelto', granted: 'Hanno acconsentito', noConsentPurposes: 'Nessuna finalità richiede il consenso.',
  breaches: 'Violazioni di dati', breachYes: (n) => `Sì: abbiamo notificato al Garante ${n} violazioni di dati personali.`, breachNo: 'Nessuna violazione di dati personali è stata notificata al Garante.',
  measures: 'Misure di sicurezza in vigore',
  measureList: [
    'Ogni persona ha una propria chiave di cifratura (AES-256-GCM); le chiavi sono protette da una chiave principale e conservate separatamente dai dati.',
    'Quando una persona chiede la cancellazione, la sua chiave viene distrutta e i suoi dati eliminati: anche le copie di sicurezza diventano illeggibili.',
    'Email e identificativi si cercano tramite un’impronta con chiave segreta (HMAC), non in chiaro.',
    'Ogni lettura o esportazione di dati personali, ogni azione amministrativa e ogni modifica della configurazione viene scritta in un registro a prova di manomissione (albero di Merkle), con punti di controllo firmati (Ed25519).',
  ],
  keyVersions: (n, at) => `Versioni della chiave principale: ${n}${at ? `; ultima rotazione: ${at}` : ''}.`,
  lastVerify: (at, ok) => `Ultima verifica completa del registro: ${at}, ${ok ? 'nessuna anomalia' : 'anomalie trovate'}.`, neverVerified: 'Il registro non è ancora stato verificato per intero.',
  checkpoint: 'Registro delle operazioni: ultimo punto di controllo firmato', checkpointIntro: 'Il punto di controllo fissa lo stato del registro: chi lo conserva può dimostrare in seguito che nessuna voce precedente è stata modificata.', noCheckpoint: 'Nessun punto di controllo ancora firmato.',
  cp: { origin: 'Registro', size: 'Numero di voci', root: 'Hash radice (base64)', time: 'Firmato il', keyId: 'Identificativo della chiave', signature: 'Firma (base64)', publicKey: 'Chiave pubblica Ed25519 (base64)', note: 'Nota firmata' },
  verifyTitle: 'Come verificarlo',
  verifySteps: [
    'Copia la nota firmata in un file (per esempio {file}) e conservalo dove il titolare non può modificarlo.',
    'Chiunque può controllare la firma con la chiave pubblica indicata: è una firma Ed25519 sul testo che precede la riga vuota; la riga della firma contiene, in base64, i 4 byte dell’identificativo della chiave seguiti dai 64 byte della firma.',
    'Il titolare, o un revisore con accesso ai dati, esegue {command}: qualunque modifica, cancellazione o riordino delle voci precedenti al punto di controllo viene scoperta.',
  ],
  fewer: (n) => `meno di ${n}`, about: (n) => `circa ${n}`, notShown: 'non indicato (troppo poche)', hours: (h) => `${h} ${h === 1 ? 'ora' : 'ore'}`, days: (d) => `${d} giorni`,
  rounding: (min, step) => `I numeri sono arrotondati al multiplo di ${step} più vicino; sotto ${min} scriviamo “meno di ${min}”, e una percentuale o una mediana calcolata su meno di ${min} persone non è indicata.`,
  generated: (at) => `Dati aggiornati al ${at}.`,
  types: { access: 'Accesso ai dati', portability: 'Portabilità', rectification: 'Rettifica', erasure: 'Cancellazione', restriction: 'Limitazione', objection: 'Opposizione' },
};

const EN: Texts = {
  title: 'Transparency', intro: 'What we do with personal data, in numbers. No number is about a single person.', other: 'Italiano', json: 'The same figures as JSON', privacy: 'Privacy center',
  purposes: 'Purposes and recipients', basis: 'Legal basis', consentNeeded: 'needs your consent', data: 'Data', retention: 'Kept for', recipients: 'Recipients', noRecipients: 'none',
  rights: 'Rights requests', rightsIntro: 'Confirmed requests (access, erasure and so on), how many were answered and how fast (median).', kind: 'Kind', received: 'Received', answered: 'Answered', median: 'Answer time (median)', total: 'Total',
  consents: 'Consent', consentsIntro: 'For each purpose that needs consent: how many people made a choice, and what share of them agreed.', purpose: 'Purpose', decided: 'People who chose', granted: 'Agreed', noConsentPurposes: 'No purpose needs consent.',
  breaches: 'Data breaches', breachYes: (n) => `Yes: we notified the supervisory authority of ${n} personal data breaches.`, breachNo: 'No personal data breach has been notified to the supervisory authority.',
  measures: 'Security measures in force',
  measureList: [
    'Each person has their own encryption key (AES-256-GCM); the keys are protected by a master key and kept apart from the data.',
    'When a person asks for erasure, their key is destroyed and their data deleted: backups of it become unreadable too.',
    'Email addresses and identifiers are looked up by a keyed fingerprint (HMAC), not in clear.',
    'Every read or export of personal data, every administrative action and every change of configuration is written to a tamper-evident log (a Merkle tree), with signed checkpoints (Ed25519).',
  ],
  keyVersions: (n, at) => `Master key versions: ${n}${at ? `; last rotation: ${at}` : ''}.`,
  lastVerify: (at, ok) => `Last full verification of the log: ${at}, ${ok ? 'no problem found' : 'problems found'}.`, neverVerified: 'The log has not been verified in full yet.',
  checkpoint: 'Audit log: latest signed checkpoint', checkpointIntro: 'A checkpoint fixes the state of the log: whoever keeps it can later prove that no earlier entry was changed.', noCheckpoint: 'No checkpoint signed yet.',
  cp: { origin: 'Log', size: 'Entries', root: 'Root hash (base64)', time: 'Signed at', keyId: 'Key id', signature: 'Signature (base64)', publicKey: 'Ed25519 public key (base64)', note: 'Signed note' },
  verifyTitle: 'How to verify it',
  verifySteps: [
    'Copy the signed note into a file (for example {file}) and keep it where the controller cannot change it.',
    'Anyone can check the signature with the public key shown: it is an Ed25519 signature over the text above the blank line; the signature line holds, in base64, the 4 bytes of the key id followed by the 64 bytes of the signature.',
    'The controller, or an auditor with access to the data, runs {command}: any change, deletion or reordering of the entries before the checkpoint is found.',
  ],
  fewer: (n) => `fewer than ${n}`, about: (n) => `about ${n}`, notShown: 'not shown (too few)', hours: (h) => `${h} ${h === 1 ? 'hour' : 'hours'}`, days: (d) => `${d} days`,
  rounding: (min, step) => `Numbers are rounded to the nearest multiple of ${step}; below ${min} we write “fewer than ${min}”, and a share or a median over fewer than ${min} people is not shown.`,
  generated: (at) => `Figures as of ${at}.`,
  types: { access: 'Access to data', portability: 'Portability', rectification: 'Rectification', erasure: 'Erasure', restriction: 'Restriction', objection: 'Objection' },
};

export const TRANSPARENCY_TEXT: Readonly<Record<Lang, Texts>> = { it: IT, en: EN };

const locale = (lang: Lang) => (lang === 'it' ? 'it-IT' : 'en-GB');
const when = (ms: number, lang: Lang) =>
  `${new Intl.DateTimeFormat(locale(lang), { dateStyle: 'long', timeStyle: 'short', timeZone: 'UTC' }).format(new Date(ms))} UTC`;

export function countText(c: PublicCount, lang: Lang): string {
  const t = TRANSPARENCY_TEXT[lang];
  return 'fewerThan' in c ? t.fewer(c.fewerThan) : t.about(new Intl.NumberFormat(locale(lang)).format(c.about));
}

/** Under two days in hours, else days with one decimal. */
function hoursText(h: number | null, lang: Lang): string {
  const t = TRANSPARENCY_TEXT[lang];
  if (h === null) return t.notShown;
  if (h < 48) return t.hours(h);
  return t.days(new Intl.NumberFormat(locale(lang), { maximumFractionDigits: 1 }).format(h / 24));
}

const e = escapeHtml;
const CHECKPOINT_FILE = 'checkpoint.txt';
/** A name from the configuration (a company, a product): shown as written, in either language. */
const name = (x: string) => `<span translate="no">${e(x)}</span>`;

function purposesSection(r: TransparencyReport, t: Texts): string {
  const items = r.purposes.map((p) => {
    const recipients = p.recipients.length === 0 ? e(t.noRecipients) : p.recipients.map((x) => `${name(x.name)} (${e(x.kind)}, ${e(x.country)})`).join('; ');
    return (
      `<section class="purpose"><h3>${e(p.name)}</h3><p>${e(p.description)}</p><dl>` +
      `<dt>${e(t.basis)}</dt><dd>${e(p.legalBasis)}${p.consentRequired ? ` — ${e(t.consentNeeded)}` : ''}</dd>` +
      `<dt>${e(t.data)}</dt><dd>${e(p.dataCategories.join('; ') || t.noRecipients)}</dd>` +
      `<dt>${e(t.retention)}</dt><dd>${e(p.retention)}</dd>` +
      `<dt>${e(t.recipients)}</dt><dd>${recipients}</dd></dl></section>`
    );
  });
  return `<section aria-labelledby="s-purposes"><h2 id="s-purposes">${e(t.purposes)}</h2>${items.join('')}</section>`;
}

function rightsSection(r: TransparencyReport, t: Texts): string {
  const row = (label: string, x: { received: PublicCount; answered: PublicCount; medianAnswerHours: number | null }, attr: string) =>
    `<tr data-row="${attr}"><th scope="row">${e(label)}</th><td class="n" data-figure="received">${e(countText(x.received, r.lang))}</td>` +
    `<td class="n" data-figure="answered">${e(countText(x.answered, r.lang))}</td><td data-figure="median">${e(hoursText(x.medianAnswerHours, r.lang))}</td></tr>`;
  const rows = r.rights.byType.map((x, i) => row(t.types[x.type], x, `type-${i}`)).join('');
  return (
    `<section aria-labelledby="s-rights"><h2 id="s-rights">${e(t.rights)}</h2><p>${e(t.rightsIntro)}</p>` +
    `<table><thead><tr><th scope="col">${e(t.kind)}</th><th scope="col">${e(t.received)}</th><th scope="col">${e(t.answered)}</th><th scope="col">${e(t.median)}</th></tr></thead>` +
    `<tbody>${rows}</tbody><tfoot>${row(t.total, r.rights.total, 'total')}</tfoot></table></section>`
  );
}

function consentsSection(r: TransparencyReport, t: Texts): string {
  const pct = (p: number | null) => (p === null ? t.notShown : `${new Intl.NumberFormat(locale(r.lang)).format(p)} %`);
  const rows = r.consents
    .map((c, i) => `<tr data-row="consent-${i}"><th scope="row">${e(c.name)}</th><td class="n" data-figure="decided">${e(countText(c.decided, r.lang))}</td><td class="n" data-figure="granted">${e(pct(c.grantedPercent))}</td></tr>`)
    .join('');
  const body =
    r.consents.length === 0
      ? `<p>${e(t.noConsentPurposes)}</p>`
      : `<p>${e(t.consentsIntro)}</p><table><thead><tr><th scope="col">${e(t.purpose)}</th><th scope="col">${e(t.decided)}</th><th scope="col">${e(t.granted)}</th></tr></thead><tbody>${rows}</tbody></table>`;
  return `<section aria-labelledby="s-consents"><h2 id="s-consents">${e(t.consents)}</h2>${body}</section>`;
}

function measuresSection(r: TransparencyReport, t: Texts): string {
  const m = r.measures;
  const facts = [
    t.keyVersions(m.keyVersions, m.lastKeyRotation === null ? null : when(m.lastKeyRotation, r.lang)),
    m.lastVerify ? t.lastVerify(when(m.lastVerify.at, r.lang), m.lastVerify.ok) : t.neverVerified,
  ];
  return (
    `<section aria-labelledby="s-breaches"><h2 id="s-breaches">${e(t.breaches)}</h2><p data-figure="breaches">` +
    `${e(r.breaches.anyNotified ? t.breachYes(countText(r.breaches.notified, r.lang)) : t.breachNo)}</p></section>` +
    `<section aria-labelledby="s-measures"><h2 id="s-measures">${e(t.measures)}</h2><ul>${t.measureList.map((x) => `<li>${e(x)}</li>`).join('')}</ul>` +
    `<p>${facts.map(e).join(' ')}</p></section>`
  );
}

/** A step's text, escaped, with `{file}` and `{command}` as code nobody should translate. */
function withCode(step: string): string {
  const code = (x: string) => `<code translate="no">${e(x)}</code>`;
  return e(step).replace('{file}', code(CHECKPOINT_FILE)).replace('{command}', code(`fiducia audit verify --checkpoint ${CHECKPOINT_FILE}`));
}

function checkpointSection(r: TransparencyReport, t: Texts): string {
  const cp = r.measures.checkpoint;
  const head = `<section aria-labelledby="s-checkpoint"><h2 id="s-checkpoint">${e(t.checkpoint)}</h2><p>${e(t.checkpointIntro)}</p>`;
  const key = `<dt>${e(t.cp.publicKey)}</dt><dd><code data-figure="public-key">${e(r.measures.publicKey)}</code></dd>`;
  if (!cp) return `${head}<p>${e(t.noCheckpoint)}</p><dl>${key}</dl></section>`;
  const field = (label: string, value: string, name: string) => `<dt>${e(label)}</dt><dd><code data-figure="${name}">${e(value)}</code></dd>`;
  return (
    head +
    '<dl>' +
    field(t.cp.origin, cp.origin, 'origin') +
    field(t.cp.size, new Intl.NumberFormat(locale(r.lang)).format(cp.treeSize), 'tree-size') +
    field(t.cp.root, cp.rootHash, 'root-hash') +
    `<dt>${e(t.cp.time)}</dt><dd>${e(when(cp.timestamp, r.lang))}</dd>` +
    field(t.cp.keyId, cp.keyId, 'key-id') +
    field(t.cp.signature, cp.signature, 'signature') +
    key +
    `</dl><h3>${e(t.cp.note)}</h3><pre data-figure="note">${e(cp.note)}</pre>` +
    `<h3>${e(t.verifyTitle)}</h3><ol>${t.verifySteps.map((s) => `<li>${withCode(s)}</li>`).join('')}</ol></section>`
  );
}

export function transparencyHtml(r: TransparencyReport): string {
  const t = TRANSPARENCY_TEXT[r.lang];
  const other: Lang = r.lang === 'it' ? 'en' : 'it';
  const header =
    `<header><h1>${e(t.title)} — ${name(r.controller)}</h1><nav><a href="/transparency?lang=${other}" hreflang="${other}" lang="${other}">${e(t.other)}</a></nav></header>`;
  const main =
    `<main><p>${e(t.intro)}</p><p class="note">${e(t.rounding(r.minimumCount, r.rounding))} ${e(t.generated(when(Date.parse(r.generatedAt), r.lang)))}</p>` +
    purposesSection(r, t) + rightsSection(r, t) + consentsSection(r, t) + measuresSection(r, t) + checkpointSection(r, t) + '</main>';
  const footer = `<footer><p><a href="/transparency.json?lang=${r.lang}">${e(t.json)}</a> · <a href="/privacy?lang=${r.lang}">${e(t.privacy)}</a></p></footer>`;
  return (
    `<!doctype html>\n<html lang="${r.lang}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<title>${e(t.title)} — ${e(r.controller)}</title><style>${STYLE}</style></head><body>${header}${main}${footer}</body></html>\n`
  );
}
