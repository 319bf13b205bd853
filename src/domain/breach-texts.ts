// The words of the breach documents (Art. 33 notification, Art. 34 notice) in Italian and English, plain on purpose (Art. 34(2)). Pure.
import type { BreachNature, EncryptionState, NotRequiredReason } from './breach.ts';

export type Lang = 'it' | 'en';

export interface BreachTexts {
  authorityTitle: string;
  subjectTitle: string;
  controller: string;
  contactOf: string;
  country: string;
  reference: string;
  generated: string;
  timeline: string;
  awareAt: string;
  occurredAt: string;
  deadline: string;
  notifiedAt: string;
  notYetNotified: string;
  authorityReference: string;
  late: string;
  onTime: string;
  delayReasons: string;
  notKnown: string;
  natureHeading: string;
  natureIntro: string;
  natures: Record<BreachNature, string>;
  description: string;
  categories: string;
  special: string;
  approxSubjects: string;
  approxRecords: string;
  about: (n: string) => string;
  contactHeading: string;
  name: string;
  email: string;
  phone: string;
  consequencesHeading: string;
  measuresHeading: string;
  measuresTaken: string;
  measuresProposed: string;
  encryptionHeading: string;
  encryption: Record<EncryptionState, string>;
  subjectsHeading: string;
  subjectsPending: string;
  subjectsSent: (n: string) => string;
  notRequired: Record<NotRequiredReason, string>;
  phasesHeading: string;
  phasesComplete: string;
  phasesMissing: string;
  missing: Record<string, string>;
  onlyIn: string;
  subjectIntro: (controller: string) => string;
  whatHappened: string;
  whichData: string;
  whatItMeans: string;
  whatWeDid: string;
  whatYouCanDo: string;
  defaultAdvice: string;
  questions: string;
  questionsText: string;
  mailSubject: (controller: string) => string;
  signature: (controller: string) => string;
}

const IT: BreachTexts = {
  authorityTitle: 'Notifica di una violazione dei dati personali all’autorità di controllo (art. 33 GDPR)',
  subjectTitle: 'Comunicazione di una violazione dei tuoi dati personali (art. 34 GDPR)',
  controller: 'Titolare del trattamento',
  contactOf: 'Contatto',
  country: 'Paese',
  reference: 'Riferimento interno della violazione',
  generated: 'Documento generato il',
  timeline: 'Tempi',
  awareAt: 'Il titolare ne è venuto a conoscenza il',
  occurredAt: 'La violazione è avvenuta il',
  deadline: 'Termine di 72 ore per la notifica',
  notifiedAt: 'Notificata all’autorità il',
  notYetNotified: 'Non ancora notificata all’autorità.',
  authorityReference: 'Numero di protocollo dell’autorità',
  late: 'La notifica è avvenuta oltre le 72 ore.',
  onTime: 'La notifica è avvenuta entro le 72 ore.',
  delayReasons: 'Motivi del ritardo',
  notKnown: 'non ancora noto',
  natureHeading: 'a) Natura della violazione',
  natureIntro: 'Tipo di violazione',
  natures: {
    confidentiality: 'riservatezza: dati visti o copiati da chi non doveva',
    integrity: 'integrità: dati modificati senza autorizzazione',
    availability: 'disponibilità: dati persi o non accessibili',
  },
  description: 'Che cosa è successo',
  categories: 'Categorie di dati personali coinvolte',
  special: 'categoria particolare (art. 9)',
  approxSubjects: 'Numero approssimativo di interessati coinvolti',
  approxRecords: 'Numero approssimativo di registrazioni di dati coinvolte',
  about: (n) => `circa ${n}`,
  contactHeading: 'b) Punto di contatto per ulteriori informazioni',
  name: 'Nome',
  email: 'Indirizzo email',
  phone: 'Telefono',
  consequencesHeading: 'c) Probabili conseguenze',
  measuresHeading: 'd) Misure adottate o proposte',
  measuresTaken: 'Misure già adottate',
  measuresProposed: 'Misure proposte, anche per attenuarne i possibili effetti negativi',
  encryptionHeading: 'Cifratura dei dati',
  encryption: {
    keys_safe:
      'I dati personali coinvolti erano cifrati con una chiave distinta per ogni interessato; le chiavi e la chiave principale non sono state compromesse, per cui i dati restano incomprensibili a chi non è autorizzato (art. 34, par. 3, lett. a). Restano in chiaro solo identificativi pseudonimi, nomi e orari degli eventi e stati del consenso.',
    keys_compromised: 'I dati erano cifrati, ma anche le chiavi sono state compromesse: la cifratura non li protegge.',
    not_encrypted: 'I dati coinvolti non erano cifrati.',
    unknown: 'Non è ancora stato accertato se i dati coinvolti fossero cifrati con chiavi rimaste al sicuro.',
  },
  subjectsHeading: 'Comunicazione agli interessati (art. 34)',
  subjectsPending: 'La comunicazione agli interessati non è ancora stata inviata.',
  subjectsSent: (n) => `La comunicazione è stata inviata a ${n} interessati.`,
  notRequired: {
    no_risk: 'È improbabile che la violazione presenti un rischio per i diritti e le libertà delle persone (art. 33, par. 1).',
    no_high_risk: 'La violazione non presenta un rischio elevato per i diritti e le libertà delle persone (art. 34, par. 1).',
    encrypted: 'I dati erano resi incomprensibili a chi non è autorizzato, con la cifratura (art. 34, par. 3, lett. a).',
    subsequent_measures: 'Le misure adottate dopo la violazione scongiurano il rischio elevato (art. 34, par. 3, lett. b).',
    public_communication: 'Avvisare ciascuno richiederebbe sforzi sproporzionati: gli interessati sono informati con una comunicazione pubblica (art. 34, par. 3, lett. c).',
  },
  phasesHeading: 'Informazioni fornite in fasi (art. 33, par. 4)',
  phasesComplete: 'Tutte le informazioni richieste sono contenute in questa notifica.',
  phasesMissing: 'Queste informazioni non sono ancora disponibili e saranno fornite senza ulteriore ingiustificato ritardo:',
  missing: {
    approxSubjects: 'numero approssimativo di interessati',
    approxRecords: 'numero approssimativo di registrazioni',
    categories: 'categorie di dati',
    consequences: 'probabili conseguenze',
    measures: 'misure adottate o proposte',
  },
  onlyIn: '(testo disponibile solo in un’altra lingua)',
  subjectIntro: (c) => `Ti scriviamo perché un incidente di sicurezza presso ${c} ha coinvolto alcuni tuoi dati personali. Qui trovi, in parole semplici, che cosa è successo e che cosa puoi fare.`,
  whatHappened: 'Che cosa è successo',
  whichData: 'Quali tuoi dati sono coinvolti',
  whatItMeans: 'Che cosa può significare per te',
  whatWeDid: 'Che cosa abbiamo fatto e che cosa faremo',
  whatYouCanDo: 'Che cosa puoi fare',
  defaultAdvice: 'Fai attenzione a messaggi inattesi che ti chiedono dati o pagamenti e, se noti qualcosa di strano, scrivici.',
  questions: 'Per domande',
  questionsText: 'Puoi rivolgerti a',
  mailSubject: (c) => `${c}: comunicazione di una violazione dei tuoi dati personali`,
  signature: (c) => `${c}`,
};

const EN: BreachTexts = {
  authorityTitle: 'Notification of a personal data breach to the supervisory authority (Art. 33 GDPR)',
  subjectTitle: 'Notice of a breach of your personal data (Art. 34 GDPR)',
  controller: 'Controller',
  contactOf: 'Contact',
  country: 'Country',
  reference: 'Internal reference of the breach',
  generated: 'Document generated on',
  timeline: 'Timeline',
  awareAt: 'The controller became aware of it on',
  occurredAt: 'The breach occurred on',
  deadline: '72-hour deadline for notification',
  notifiedAt: 'Notified to the authority on',
  notYetNotified: 'Not yet notified to the authority.',
  authorityReference: 'Reference number given by the authority',
  late: 'The notification was made after the 72 hours.',
  onTime: 'The notification was made within the 72 hours.',
  delayReasons: 'Reasons for the delay',
  notKnown: 'not known yet',
  natureHeading: '(a) Nature of the breach',
  natureIntro: 'Kind of breach',
  natures: {
    confidentiality: 'confidentiality: data seen or copied by someone who should not have',
    integrity: 'integrity: data changed without authorisation',
    availability: 'availability: data lost or made inaccessible',
  },
  description: 'What happened',
  categories: 'Categories of personal data concerned',
  special: 'special category (Art. 9)',
  approxSubjects: 'Approximate number of data subjects concerned',
  approxRecords: 'Approximate number of personal data records concerned',
  about: (n) => `about ${n}`,
  contactHeading: '(b) Contact point for more information',
  name: 'Name',
  email: 'Email',
  phone: 'Phone',
  consequencesHeading: '(c) Likely consequences',
  measuresHeading: '(d) Measures taken or proposed',
  measuresTaken: 'Measures already taken',
  measuresProposed: 'Measures proposed, including those to mitigate possible adverse effects',
  encryptionHeading: 'Encryption of the data',
  encryption: {
    keys_safe:
      'The personal data concerned was encrypted with a separate key for each person; those keys and the master key were not compromised, so the data stays unintelligible to anyone not authorised (Art. 34(3)(a)). Only pseudonymous identifiers, event names and times, and consent states were not encrypted.',
    keys_compromised: 'The data was encrypted, but its keys were compromised too: encryption does not protect it.',
    not_encrypted: 'The data concerned was not encrypted.',
    unknown: 'Whether the data concerned was encrypted with keys that stayed safe has not been established yet.',
  },
  subjectsHeading: 'Communication to the data subjects (Art. 34)',
  subjectsPending: 'The data subjects have not been told yet.',
  subjectsSent: (n) => `The notice was sent to ${n} data subjects.`,
  notRequired: {
    no_risk: 'The breach is unlikely to result in a risk to the rights and freedoms of people (Art. 33(1)).',
    no_high_risk: 'The breach does not result in a high risk to the rights and freedoms of people (Art. 34(1)).',
    encrypted: 'The data was made unintelligible to anyone not authorised, by encryption (Art. 34(3)(a)).',
    subsequent_measures: 'Measures taken after the breach ensure the high risk is no longer likely to materialise (Art. 34(3)(b)).',
    public_communication: 'Telling each person would involve disproportionate effort: a public communication informs them instead (Art. 34(3)(c)).',
  },
  phasesHeading: 'Information given in phases (Art. 33(4))',
  phasesComplete: 'This notification holds all the required information.',
  phasesMissing: 'This information is not available yet and will follow without undue further delay:',
  missing: {
    approxSubjects: 'approximate number of data subjects',
    approxRecords: 'approximate number of records',
    categories: 'categories of data',
    consequences: 'likely consequences',
    measures: 'measures taken or proposed',
  },
  onlyIn: '(text available in another language only)',
  subjectIntro: (c) => `We are writing because a security incident at ${c} involved some of your personal data. Here is, in plain words, what happened and what you can do.`,
  whatHappened: 'What happened',
  whichData: 'Which of your data is involved',
  whatItMeans: 'What it may mean for you',
  whatWeDid: 'What we have done and will do',
  whatYouCanDo: 'What you can do',
  defaultAdvice: 'Be wary of unexpected messages asking for data or payments and, if you notice anything odd, write to us.',
  questions: 'Questions',
  questionsText: 'You can contact',
  mailSubject: (c) => `${c}: notice of a breach of your personal data`,
  signature: (c) => `${c}`,
};

export const BREACH_TEXTS: Readonly<Record<Lang, BreachTexts>> = { it: IT, en: EN };
