// The privacy center's texts in Italian and English.
import type { Lang } from '../shared/dom.ts';

interface Text {
  title: string;
  intro: string;
  language: string;
  langName: Record<Lang, string>;
  controller: string;
  dpo: string;
  notice: string;
  choicesTitle: string;
  choicesIntro: string;
  save: string;
  saved: string;
  receipt: string;
  gpcOff: string;
  widgetMissing: string;
  purposesTitle: string;
  basis: string;
  bases: Record<string, string>;
  consentNeeded: string;
  saleOrShare: string;
  categories: string;
  retention: string;
  recipients: string;
  noRecipients: string;
  transfer: string;
  kind: Record<string, string>;
  days(d: number): string;
  months(m: number, d: number): string;
  years(y: number, d: number): string;
  rightsTitle: string;
  rightsIntro: string;
  email: string;
  type: string;
  types: Record<string, string>;
  details: string;
  send: string;
  sending: string;
  codeSent: string;
  code: string;
  verify: string;
  /** The request's status in words (the public statuses of POST /v1/rights-requests/:id/verify). */
  statuses: Record<string, string>;
  /** `status`: the key; `words`: the same in words. */
  verified(id: string, status: string, words: string): string;
  opening: string;
  ready: string;
  downloadJson: string;
  downloadCsv: string;
  badCode: string;
  tooMany: string;
  failed: string;
  offline: string;
  noKey: string;
}

export const TEXT: Record<Lang, Text> = {
  en: {
    title: 'Privacy center',
    intro: 'What we process about you, why, for how long and with whom — and how to change your choices or exercise your rights.',
    language: 'Language',
    langName: { it: 'Italiano', en: 'English' },
    controller: 'Data controller',
    dpo: 'Data protection officer',
    notice: 'Privacy notice version',
    choicesTitle: 'Your choices',
    choicesIntro: 'Consent-based purposes are off unless you switch them on. Changes apply to this site from now on; withdrawing is as easy as giving.',
    save: 'Save my choices',
    saved: 'Your choices are saved.',
    receipt: 'Receipt of your last choice',
    gpcOff: 'Off because your browser sends a Global Privacy Control signal.',
    widgetMissing: 'The consent widget did not load, so choices cannot be changed here right now.',
    purposesTitle: 'How we use your data',
    basis: 'Legal basis',
    bases: {
      consent: 'Consent (Art. 6(1)(a) GDPR)',
      contract: 'Contract (Art. 6(1)(b) GDPR)',
      legal_obligation: 'Legal obligation (Art. 6(1)(c) GDPR)',
      vital_interests: 'Vital interests (Art. 6(1)(d) GDPR)',
      public_task: 'Public task (Art. 6(1)(e) GDPR)',
      legitimate_interests: 'Legitimate interests (Art. 6(1)(f) GDPR) — you may object',
    },
    consentNeeded: 'only if you agree',
    saleOrShare: '(data is shared with third parties: Global Privacy Control objects to it)',
    categories: 'Data',
    retention: 'Kept for',
    recipients: 'Recipients',
    noRecipients: 'Nobody outside us',
    transfer: 'Transfer outside the European Economic Area',
    kind: { processor: 'processor acting for us', third_party: 'independent third party' },
    days: (d) => `${d} days`,
    months: (m, d) => `about ${m} months (${d} days)`,
    years: (y, d) => `${y} years (${d} days)`,
    rightsTitle: 'Your rights',
    rightsIntro:
      'You can get a copy of your data, export it, have it corrected or erased, restrict or object to its use. We answer within one month. To make sure the request is yours, we e-mail you a code.',
    email: 'Your e-mail address',
    type: 'What would you like?',
    types: {
      access: 'A copy of my data (access)',
      portability: 'Export my data in a machine-readable file (portability)',
      erasure: 'Delete my data (erasure)',
      rectification: 'Correct my data (rectification)',
      restriction: 'Restrict the use of my data (restriction)',
      objection: 'Object to the use of my data (objection)',
    },
    details: 'Details (optional)',
    send: 'Send request',
    sending: 'Sending…',
    codeSent: 'We have e-mailed you a code. Enter it below to confirm the request.',
    code: 'Code from the e-mail',
    verify: 'Confirm request',
    statuses: { awaiting_verification: 'waiting for the code', received: 'received', verified: 'confirmed', in_progress: 'in progress', completed: 'completed', rejected: 'rejected' },
    verified: (id, status, words) =>
      status === 'completed'
        ? `Confirmed. Your request (reference ${id}) is completed.`
        : status === 'rejected'
          ? `Your request (reference ${id}) was rejected; we have e-mailed you the reason.`
          : `Confirmed. Your request (reference ${id}) is ${words}; we will answer by e-mail within one month.`,
    opening: 'Opening your data…',
    ready: 'Your data is ready. We have also e-mailed you a personal link to it.',
    downloadJson: 'Download my data (JSON)',
    downloadCsv: 'Download my data (CSV, for spreadsheets)',
    badCode: 'That code is not valid or has expired. Check the e-mail and try again.',
    tooMany: 'Too many attempts. Please wait a few minutes and try again.',
    failed: 'The request could not be sent',
    offline: 'The privacy service cannot be reached right now. Please try again later.',
    noKey: 'Requests are not available on this server (no write key).',
  },
  it: {
    title: 'Centro privacy',
    intro: 'Quali dati trattiamo su di te, perché, per quanto tempo e con chi — e come cambiare le tue scelte o esercitare i tuoi diritti.',
    language: 'Lingua',
    langName: { it: 'Italiano', en: 'English' },
    controller: 'Titolare del trattamento',
    dpo: 'Responsabile della protezione dei dati',
    notice: 'Versione dell’informativa',
    choicesTitle: 'Le tue scelte',
    choicesIntro: 'Le finalità basate sul consenso restano disattivate finché non le attivi. Le modifiche valgono per questo sito da ora in poi; revocare è facile quanto dare il consenso.',
    save: 'Salva le mie scelte',
    saved: 'Le tue scelte sono salvate.',
    receipt: 'Ricevuta della tua ultima scelta',
    gpcOff: 'Disattivata perché il tuo browser invia il segnale Global Privacy Control.',
    widgetMissing: 'Il widget del consenso non si è caricato: per ora non è possibile cambiare le scelte da qui.',
    purposesTitle: 'Come usiamo i tuoi dati',
    basis: 'Base giuridica',
    bases: {
      consent: 'Consenso (art. 6(1)(a) GDPR)',
      contract: 'Contratto (art. 6(1)(b) GDPR)',
      legal_obligation: 'Obbligo legale (art. 6(1)(c) GDPR)',
      vital_interests: 'Interessi vitali (art. 6(1)(d) GDPR)',
      public_task: 'Compito di interesse pubblico (art. 6(1)(e) GDPR)',
      legitimate_interests: 'Legittimo interesse (art. 6(1)(f) GDPR) — puoi opporti',
    },
    consentNeeded: 'solo se acconsenti',
    saleOrShare: '(i dati sono condivisi con terzi: il Global Privacy Control vi si oppone)',
    categories: 'Dati',
    retention: 'Conservati per',
    recipients: 'Destinatari',
    noRecipients: 'Nessuno al di fuori di noi',
    transfer: 'Trasferimento fuori dallo Spazio economico europeo',
    kind: { processor: 'responsabile che agisce per nostro conto', third_party: 'terzo autonomo' },
    days: (d) => `${d} giorni`,
    months: (m, d) => `circa ${m} mesi (${d} giorni)`,
    years: (y, d) => `${y} anni (${d} giorni)`,
    rightsTitle: 'I tuoi diritti',
    rightsIntro:
      'Puoi ottenere una copia dei tuoi dati, esportarli, farli correggere o cancellare, limitarne o opporti al loro uso. Rispondiamo entro un mese. Per essere sicuri che la richiesta sia tua, ti inviamo un codice via e-mail.',
    email: 'Il tuo indirizzo e-mail',
    type: 'Che cosa desideri?',
    types: {
      access: 'Una copia dei miei dati (accesso)',
      portability: 'Esportare i miei dati in un file leggibile da una macchina (portabilità)',
      erasure: 'Cancellare i miei dati (cancellazione)',
      rectification: 'Correggere i miei dati (rettifica)',
      restriction: 'Limitare l’uso dei miei dati (limitazione)',
      objection: 'Oppormi all’uso dei miei dati (opposizione)',
    },
    details: 'Dettagli (facoltativo)',
    send: 'Invia la richiesta',
    sending: 'Invio in corso…',
    codeSent: 'Ti abbiamo inviato un codice via e-mail. Inseriscilo qui sotto per confermare la richiesta.',
    code: 'Codice ricevuto via e-mail',
    verify: 'Conferma la richiesta',
    statuses: { awaiting_verification: 'in attesa del codice', received: 'ricevuta', verified: 'confermata', in_progress: 'in corso', completed: 'completata', rejected: 'respinta' },
    verified: (id, status, words) =>
      status === 'completed'
        ? `Confermata. La tua richiesta (riferimento ${id}) è completata.`
        : status === 'rejected'
          ? `La tua richiesta (riferimento ${id}) è stata respinta; ti abbiamo scritto il motivo via e-mail.`
          : `Confermata. La tua richiesta (riferimento ${id}) è ${words}; ti risponderemo via e-mail entro un mese.`,
    opening: 'Apertura dei tuoi dati…',
    ready: 'I tuoi dati sono pronti. Ti abbiamo inviato anche un link personale via e-mail.',
    downloadJson: 'Scarica i miei dati (JSON)',
    downloadCsv: 'Scarica i miei dati (CSV, per i fogli di calcolo)',
    badCode: 'Il codice non è valido o è scaduto. Controlla l’e-mail e riprova.',
    tooMany: 'Troppi tentativi. Attendi qualche minuto e riprova.',
    failed: 'Non è stato possibile inviare la richiesta',
    offline: 'Il servizio privacy non è raggiungibile in questo momento. Riprova più tardi.',
    noKey: 'Le richieste non sono disponibili su questo server (manca la write key).',
  },
};
