// The record of processing activities (GDPR Art. 30(1)) and the privacy notice's purpose table, built from the configuration and system facts.
import type { Destination, DestinationKind, LegalBasis, Localized, PrivacyConfig, Purpose, Recipient, TransferBasis, TransferDerogation } from './privacy-config-types.ts';
import { adequacyDecision, checkTransfer, countryName, DATA_PRIVACY_FRAMEWORK_DECISION, safeguardText, transferSentence } from './transfers.ts';

export type Lang = 'it' | 'en';

/** What the running system reports about itself; the RoPA states these, it does not assume them. */
export interface SystemFacts {
  generatedAt: number;
  configHash: string;
  storage: 'sqlite' | 'postgres';
  encryption: { kekVersion: number; lastKeyRotation: number | null; kekVersions: number };
  access: { tokensByRole: Record<string, number>; sources: number };
  audit: {
    size: number;
    rootHash: string;
    signingKeyId: string;
    origin: string;
    lastCheckpoint: { treeSize: number; timestamp: number } | null;
    lastVerify: { at: number; ok: boolean; entries: number } | null;
  };
}

export const LEGAL_BASIS_TEXT: Record<LegalBasis, { article: string } & Localized> = {
  consent: { article: 'Art. 6(1)(a) GDPR', it: 'Consenso', en: 'Consent' },
  contract: { article: 'Art. 6(1)(b) GDPR', it: 'Esecuzione di un contratto', en: 'Performance of a contract' },
  legal_obligation: { article: 'Art. 6(1)(c) GDPR', it: 'Obbligo di legge', en: 'Legal obligation' },
  vital_interests: { article: 'Art. 6(1)(d) GDPR', it: 'Interessi vitali', en: 'Vital interests' },
  public_task: { article: 'Art. 6(1)(e) GDPR', it: 'Compito di interesse pubblico', en: 'Public task' },
  legitimate_interests: { article: 'Art. 6(1)(f) GDPR', it: 'Legittimo interesse', en: 'Legitimate interests' },
};

/** The article of a legal basis as each language writes it ("Art. 6(1)(a) GDPR", "art. 6(1)(a) GDPR"). */
export function basisArticle(basis: LegalBasis, lang: Lang): string {
  const article = LEGAL_BASIS_TEXT[basis].article;
  return lang === 'it' ? article.replace(/^Art\./, 'art.') : article;
}

/** A recipient of a purpose's data: one the purpose names, or a configured destination that receives the purpose's data. */
export interface RopaRecipient extends Recipient {
  /** Set for a destination: its id and how data is delivered to it. */
  destination?: { id: string; kind: DestinationKind } | undefined;
  /** A destination's narrowing of the purpose's categories (keys or prefixes). */
  categories?: string[] | undefined;
}

/** A transfer outside the EEA (Chapter V GDPR): who receives the data for which purpose, where, and on what basis. */
export interface Transfer {
  purpose: string;
  recipient: string;
  kind: Recipient['kind'];
  /** The destination's id when the recipient is a configured destination. */
  destination?: string | undefined;
  country: string;
  /** As configured, or `adequacy` when an adequacy decision covers the country and none is configured; null only for a configuration that was not validated. */
  basis: TransferBasis | null;
  derogation?: TransferDerogation | undefined;
  reference?: string | undefined;
  /** The Commission decision relied on, for `adequacy` and `data_privacy_framework`. */
  adequacyDecision?: string | undefined;
  /** The basis in words, with its article. */
  safeguard: string;
}

export interface RopaActivity {
  purpose: string;
  name: Localized;
  description: Localized;
  legalBasis: LegalBasis;
  legalBasisArticle: string;
  consentRequired: boolean;
  saleOrShare: boolean;
  dataSubjects: string[];
  dataCategories: { key: string; name: Localized; special: boolean }[];
  recipients: RopaRecipient[];
  transfers: Transfer[];
  retentionDays: number;
}

export interface Ropa {
  generatedAt: string;
  configHash: string;
  noticeVersion: string;
  controller: PrivacyConfig['controller'];
  activities: RopaActivity[];
  recipients: (RopaRecipient & { purposes: string[] })[];
  transfers: Transfer[];
  security: {
    encryption: {
      scheme: string;
      keyHierarchy: string;
      blindIndexes: string;
      keySeparation: string;
      kekVersion: number;
      kekVersions: number;
      lastKeyRotation: string | null;
    };
    access: { tokens: string; tokensByRole: Record<string, number>; sources: number };
    audit: {
      scheme: string;
      entries: number;
      rootHash: string;
      signingKeyId: string;
      origin: string;
      lastCheckpoint: { treeSize: number; at: string } | null;
      lastVerify: { at: string; ok: boolean; entries: number } | null;
    };
    storage: string;
    /** The storage engine, so that the record can be rendered in either language. */
    engine: SystemFacts['storage'];
  };
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** Who the data is about: visitors are known by device/cookie ids, customers by an account id. */
export const DATA_SUBJECTS: readonly Localized[] = [
  { it: 'Visitatori del sito e delle app (riconosciuti da un identificativo anonimo del browser o dell’app)', en: 'Website and app visitors (known by an anonymous browser or app ID)' },
  { it: 'Clienti e utenti registrati (riconosciuti dal codice cliente o da un contatto)', en: 'Customers and registered users (known by a customer ID or a contact)' },
];

function categoriesOf(cfg: PrivacyConfig, p: Purpose): RopaActivity['dataCategories'] {
  // A purpose entry may be a prefix: list every taxonomy key it covers.
  const covered = cfg.categories.filter((c) => p.categories.some((e) => c.key === e || c.key.startsWith(`${e}.`)));
  return covered.map((c) => ({ key: c.key, name: c.name, special: c.special }));
}

function destinationRecipient(d: Destination): RopaRecipient {
  return {
    name: d.name,
    kind: d.recipientKind,
    country: d.country,
    ...(d.transfer !== undefined ? { transfer: d.transfer } : {}),
    destination: { id: d.id, kind: d.kind },
    ...(d.categories !== undefined ? { categories: d.categories } : {}),
  };
}

/** The purpose's own recipients, then the destinations that receive its data. */
export function recipientsOf(cfg: Pick<PrivacyConfig, 'destinations'>, purpose: Purpose): RopaRecipient[] {
  return [...purpose.recipients, ...cfg.destinations.filter((d) => d.purposes.includes(purpose.key)).map(destinationRecipient)];
}

/** Every recipient of the purpose outside the EEA, with the basis its transfer rests on. */
export function transfersOf(cfg: Pick<PrivacyConfig, 'destinations'>, purpose: Purpose, lang: Lang = 'en'): Transfer[] {
  return recipientsOf(cfg, purpose).flatMap((r): Transfer[] => {
    const decision = checkTransfer(r.country, r.transfer);
    if (!decision.outsideEea) return [];
    const s = decision.safeguard;
    const decisionName =
      s?.basis === 'adequacy' ? adequacyDecision(r.country)?.decision : s?.basis === 'data_privacy_framework' ? DATA_PRIVACY_FRAMEWORK_DECISION : undefined;
    return [
      {
        purpose: purpose.key,
        recipient: r.name,
        kind: r.kind,
        ...(r.destination !== undefined ? { destination: r.destination.id } : {}),
        country: r.country,
        basis: s?.basis ?? null,
        ...(s?.derogation !== undefined ? { derogation: s.derogation } : {}),
        ...(s?.reference !== undefined ? { reference: s.reference } : {}),
        ...(decisionName !== undefined ? { adequacyDecision: decisionName } : {}),
        safeguard: s === undefined ? (lang === 'it' ? 'nessuna base indicata' : 'no basis stated') : safeguardText(s, lang, r.country),
      },
    ];
  });
}

export function buildRopa(cfg: PrivacyConfig, facts: SystemFacts): Ropa {
  const activities = cfg.purposes.map((p) => ({
    purpose: p.key,
    name: p.name,
    description: p.description,
    legalBasis: p.legalBasis,
    legalBasisArticle: LEGAL_BASIS_TEXT[p.legalBasis].article,
    consentRequired: p.legalBasis === 'consent',
    saleOrShare: p.saleOrShare,
    dataSubjects: DATA_SUBJECTS.map((d) => d.en),
    dataCategories: categoriesOf(cfg, p),
    recipients: recipientsOf(cfg, p),
    transfers: transfersOf(cfg, p),
    retentionDays: p.retentionDays,
  }));
  const recipients = new Map<string, RopaRecipient & { purposes: string[] }>();
  for (const p of activities) {
    for (const r of p.recipients) {
      const key = `${r.name}|${r.kind}|${r.country}|${r.destination?.id ?? ''}`;
      const hit = recipients.get(key) ?? { ...r, purposes: [] };
      hit.purposes.push(p.purpose);
      recipients.set(key, hit);
    }
  }
  const e = facts.encryption;
  const a = facts.audit;
  return {
    generatedAt: iso(facts.generatedAt),
    configHash: facts.configHash,
    noticeVersion: cfg.notice.current,
    controller: cfg.controller,
    activities,
    recipients: [...recipients.values()],
    transfers: activities.flatMap((x) => x.transfers),
    security: {
      encryption: {
        scheme: 'AES-256-GCM per field, fresh 96-bit IV, AAD binding subject and field (ciphertext format 1)',
        keyHierarchy: 'one data key per subject, wrapped (AES-256-GCM) by a versioned KEK derived with HKDF-SHA256 from the master key; erasure destroys the data key',
        blindIndexes: 'identities are looked up by HMAC-SHA256 blind index, never stored in clear',
        keySeparation: facts.storage === 'sqlite' ? 'keystore in its own SQLite file (keys.db), master key apart' : 'keystore in its own PostgreSQL schema or database, master key apart',
        kekVersion: e.kekVersion,
        kekVersions: e.kekVersions,
        lastKeyRotation: e.lastKeyRotation === null ? null : iso(e.lastKeyRotation),
      },
      access: {
        tokens: 'bearer tokens stored as SHA-256 hashes, roles admin/dpo/analyst/service, service tokens bound to purposes; write keys ingest only',
        tokensByRole: facts.access.tokensByRole,
        sources: facts.access.sources,
      },
      audit: {
        scheme: 'append-only log, RFC 6962 Merkle tree (SHA-256), Ed25519-signed checkpoints (C2SP tlog-checkpoint)',
        entries: a.size,
        rootHash: a.rootHash,
        signingKeyId: a.signingKeyId,
        origin: a.origin,
        lastCheckpoint: a.lastCheckpoint && { treeSize: a.lastCheckpoint.treeSize, at: iso(a.lastCheckpoint.timestamp) },
        lastVerify: a.lastVerify && { at: iso(a.lastVerify.at), ok: a.lastVerify.ok, entries: a.lastVerify.entries },
      },
      storage: facts.storage === 'sqlite' ? 'SQLite (WAL, synchronous=FULL)' : 'PostgreSQL',
      engine: facts.storage,
    },
  };
}

// ---- the privacy notice's purpose table ---------------------------------------------------------------------------

export interface NoticePurpose {
  key: string;
  name: string;
  description: string;
  legalBasis: string;
  legalBasisArticle: string;
  consentRequired: boolean;
  saleOrShare: boolean;
  dataCategories: string[];
  retention: string;
  retentionDays: number;
  recipients: { name: string; kind: string; country: string }[];
  /** Recipients outside the EEA and, in words, what the transfer rests on. */
  transfers: { recipient: string; country: string; countryName: string; safeguard: string }[];
}

export const RECIPIENT_KIND_WORDS: Record<Recipient['kind'], Localized> = {
  processor: { it: 'responsabile del trattamento', en: 'processor' },
  third_party: { it: 'titolare autonomo', en: 'independent controller' },
};

export function retentionText(days: number, lang: Lang): string {
  if (days % 365 === 0) {
    const y = days / 365;
    return lang === 'it' ? `${y} ${y === 1 ? 'anno' : 'anni'}` : `${y} ${y === 1 ? 'year' : 'years'}`;
  }
  if (days % 30 === 0 || days === 395) {
    const m = Math.round(days / 30.4);
    return lang === 'it' ? `${m} mesi (${days} giorni)` : `${m} months (${days} days)`;
  }
  return lang === 'it' ? `${days} giorni` : `${days} days`;
}

/** A recipient's name in `lang`: its label when the configuration gives one. */
export function recipientName(r: Pick<Recipient, 'name' | 'label'>, lang: Lang): string {
  return r.label?.[lang] ?? r.name;
}

export function noticePurposes(cfg: PrivacyConfig, lang: Lang): NoticePurpose[] {
  return cfg.purposes.map((p) => noticePurpose(cfg, p, lang));
}

function noticePurpose(cfg: PrivacyConfig, p: Purpose, lang: Lang): NoticePurpose {
  const recipients = recipientsOf(cfg, p);
  const named = (name: string) => recipientName(recipients.find((r) => r.name === name) ?? { name }, lang);
  return {
    key: p.key,
    name: p.name[lang],
    description: p.description[lang],
    legalBasis: LEGAL_BASIS_TEXT[p.legalBasis][lang],
    legalBasisArticle: basisArticle(p.legalBasis, lang),
    consentRequired: p.legalBasis === 'consent',
    saleOrShare: p.saleOrShare,
    dataCategories: categoriesOf(cfg, p).map((c) => c.name[lang]),
    retention: retentionText(p.retentionDays, lang),
    retentionDays: p.retentionDays,
    recipients: recipients.map((r) => ({ name: recipientName(r, lang), kind: RECIPIENT_KIND_WORDS[r.kind][lang], country: r.country })),
    transfers: transfersOf(cfg, p, lang).map((t) => ({ recipient: named(t.recipient), country: t.country, countryName: countryName(t.country, lang), safeguard: t.safeguard })),
  };
}

/** A recipient as people are shown it (privacy center, access package). */
export interface PublicRecipient {
  name: string;
  /** The name in each language, when the configuration gives one. */
  label?: Localized;
  kind: Recipient['kind'];
  country: string;
  /** Only for a transfer outside the EEA: the country and the basis it rests on, in words. */
  transfer?: Localized;
}

/** The purpose's recipients and destinations, each transfer outside the EEA named with its basis in both languages. */
export function publicRecipients(cfg: Pick<PrivacyConfig, 'destinations'>, purpose: Purpose): PublicRecipient[] {
  return recipientsOf(cfg, purpose).map((r) => {
    const s = checkTransfer(r.country, r.transfer);
    const transfer = s.outsideEea && s.safeguard ? { it: transferSentence(r.country, s.safeguard, 'it'), en: transferSentence(r.country, s.safeguard, 'en') } : undefined;
    return { name: r.name, ...(r.label ? { label: { ...r.label } } : {}), kind: r.kind, country: r.country, ...(transfer ? { transfer } : {}) };
  });
}
