// Access (Art. 15) and portability (Art. 20) packages built from a subject's decrypted data and the privacy configuration. Pure.
import { csvTable } from './csv.ts';
import type { CompiledConfig } from './privacy-config.ts';
import type { LegalBasis, Localized, Purpose } from './privacy-config-types.ts';
import { isPortable } from './rights.ts';
import { publicRecipients } from './ropa.ts';

export interface SubjectFacts {
  id: string;
  createdAt: number;
  restricted: boolean;
  objections: readonly string[];
}

export interface IdentityItem {
  kind: string;
  value: unknown;
  /** How the link was asserted (`server`, `verified_hash`, `anonymous`, `rights_request`, `legacy`). */
  asserted: string;
}

export interface TraitItem {
  name: string;
  value: unknown;
  category: string;
  purposes: readonly string[];
  sourceId: string;
  updatedAt: number;
}

export interface EventItem {
  messageId: string;
  type: string;
  event: string | null;
  timestamp: number;
  receivedAt: number;
  category: string;
  purposes: readonly string[];
  sourceId: string;
  properties: unknown;
  context: unknown;
}

export interface ConsentItem {
  purpose: string;
  status: string;
  noticeVersion: string;
  method: string;
  sourceId: string | null;
  receiptId: string;
  at: number;
}

/** Everything read about one subject (decrypted), the input of both packages. */
export interface SubjectData {
  subject: SubjectFacts | null;
  identities: IdentityItem[];
  traits: TraitItem[];
  events: EventItem[];
  consents: ConsentItem[];
  /** source id → display name (write-key sources; `rights:<id>` for corrections made on request). */
  sourceNames: ReadonlyMap<string, string>;
  /** Profiling results (Art. 15(1)(h)): segment memberships and computed traits, when segments exist. */
  profiling?: Profiling | undefined;
}

export interface Profiling {
  segments: { id: string; purpose: string; since: string }[];
  computedTraits: { id: string; purpose: string; value: unknown }[];
}

export interface AccessPackage {
  subject: {
    id: string | null;
    createdAt: string | null;
    restricted: boolean;
    objections: string[];
    /** Art. 15(1)(g): where the data came from. */
    sources: { id: string; name: string }[];
    profiling: Profiling;
    generatedAt: string;
  };
  identities: { kind: string; value: unknown; asserted: string }[];
  traits: { name: string; value: unknown; category: string; purposes: string[]; source: string; updatedAt: string }[];
  events: {
    messageId: string;
    type: string;
    event?: string;
    timestamp: string;
    properties: unknown;
    context: unknown;
    category: string;
    purposes: string[];
    source: string;
    receivedAt: string;
  }[];
  consents: { purpose: string; status: string; noticeVersion: string; method: string; source: string | null; receiptId: string; at: string }[];
  purposes: { key: string; name: Localized; description: Localized; legalBasis: LegalBasis; categories: string[]; retentionDays: number }[];
  /** Recipients and destinations of those purposes; `transfer` names a transfer outside the EEA and its basis in words. */
  recipients: { name: string; kind: string; country: string; transfer?: Localized; purposes: string[] }[];
  retention: { purpose: string; days: number; rule: Localized }[];
}

export interface PortabilityPackage {
  format: 'fiducia.portability/1';
  subject: { id: string | null; generatedAt: string };
  identities: { kind: string; value: unknown }[];
  traits: { name: string; value: unknown; updatedAt: string }[];
  events: { messageId: string; type: string; event?: string; timestamp: string; properties: unknown }[];
}

const iso = (t: number) => new Date(t).toISOString();

function sourceLabel(data: SubjectData, id: string): string {
  return data.sourceNames.get(id) ?? id;
}

export function buildAccessPackage(cfg: CompiledConfig, data: SubjectData, now: number): AccessPackage {
  const used = categoriesByPurpose(data);
  const purposes = cfg.config.purposes.filter((p) => used.has(p.key));
  return {
    subject: accessSubject(data, now),
    identities: data.identities.map((i) => ({ kind: i.kind, value: i.value, asserted: i.asserted })),
    traits: data.traits.map((t) => ({
      name: t.name,
      value: t.value,
      category: t.category,
      purposes: [...t.purposes],
      source: sourceLabel(data, t.sourceId),
      updatedAt: iso(t.updatedAt),
    })),
    events: accessEvents(data),
    consents: data.consents.map((c) => ({
      purpose: c.purpose,
      status: c.status,
      noticeVersion: c.noticeVersion,
      method: c.method,
      source: c.sourceId === null ? null : sourceLabel(data, c.sourceId),
      receiptId: c.receiptId,
      at: iso(c.at),
    })),
    purposes: purposes.map((p) => ({
      key: p.key,
      name: { ...p.name },
      description: { ...p.description },
      legalBasis: p.legalBasis,
      categories: [...(used.get(p.key) ?? [])].sort(),
      retentionDays: p.retentionDays,
    })),
    recipients: recipientsOf(cfg, purposes),
    retention: purposes.map((p) => ({
      purpose: p.key,
      days: p.retentionDays,
      rule: {
        it: `Conservati ${p.retentionDays} giorni dalla raccolta, o meno se la base giuridica viene meno (ad esempio revoca del consenso).`,
        en: `Kept ${p.retentionDays} days from collection, or less when the legal basis ends (for example when consent is withdrawn).`,
      },
    })),
  };
}

/** Purpose → categories of this subject's data under it; a purpose with only a consent record has none. */
function categoriesByPurpose(data: SubjectData): Map<string, Set<string>> {
  const used = new Map<string, Set<string>>();
  const note = (purposes: readonly string[], category: string) => {
    for (const p of purposes) {
      let s = used.get(p);
      if (!s) used.set(p, (s = new Set()));
      s.add(category);
    }
  };
  for (const t of data.traits) note(t.purposes, t.category);
  for (const e of data.events) note(e.purposes, e.category);
  for (const c of data.consents) if (!used.has(c.purpose)) used.set(c.purpose, new Set());
  return used;
}

/** The recipients and destinations of these purposes, each once with the purposes it receives data under. */
function recipientsOf(cfg: CompiledConfig, purposes: readonly Purpose[]): AccessPackage['recipients'] {
  const recipients = new Map<string, AccessPackage['recipients'][number]>();
  for (const p of purposes) {
    for (const r of publicRecipients(cfg.config, p)) {
      const k = `${r.name}\u0000${r.kind}\u0000${r.country}`;
      const prev = recipients.get(k);
      if (prev) prev.purposes.push(p.key);
      else recipients.set(k, { ...r, purposes: [p.key] });
    }
  }
  return [...recipients.values()];
}

/** The subject's facts, with every source its data came from (Art. 15(1)(g)). */
function accessSubject(data: SubjectData, now: number): AccessPackage['subject'] {
  const sourceIds = new Set<string>(data.traits.map((t) => t.sourceId));
  for (const e of data.events) sourceIds.add(e.sourceId);
  for (const c of data.consents) if (c.sourceId) sourceIds.add(c.sourceId);
  return {
    id: data.subject?.id ?? null,
    createdAt: data.subject ? iso(data.subject.createdAt) : null,
    restricted: data.subject?.restricted ?? false,
    objections: [...(data.subject?.objections ?? [])],
    sources: [...sourceIds].sort().map((id) => ({ id, name: sourceLabel(data, id) })),
    profiling: { segments: [...(data.profiling?.segments ?? [])], computedTraits: [...(data.profiling?.computedTraits ?? [])] },
    generatedAt: iso(now),
  };
}

/** The hot part of a large package (10,000 events and more): one plain object per event, no spreads or copies. */
function accessEvents(data: SubjectData): AccessPackage['events'] {
  const labels = new Map<string, string>();
  const label = (id: string) => {
    let l = labels.get(id);
    if (l === undefined) labels.set(id, (l = sourceLabel(data, id)));
    return l;
  };
  return data.events.map((e) => {
    // `event: undefined` keeps the key order and is left out of the JSON.
    const out: AccessPackage['events'][number] = { messageId: e.messageId, type: e.type, event: e.event ?? undefined, timestamp: iso(e.timestamp), properties: e.properties, context: e.context, category: e.category, purposes: e.purposes as string[], source: label(e.sourceId), receivedAt: iso(e.receivedAt) };
    return out;
  });
}

/** Art. 20: what the person provided (identify traits, their activity), for purposes based on consent or contract. */
export function buildPortabilityPackage(cfg: CompiledConfig, data: SubjectData, now: number): PortabilityPackage {
  const of = (k: string) => cfg.purpose(k);
  return {
    format: 'fiducia.portability/1',
    subject: { id: data.subject?.id ?? null, generatedAt: iso(now) },
    identities: data.identities.map((i) => ({ kind: i.kind, value: i.value })),
    traits: data.traits.filter((t) => isPortable(t.purposes, of)).map((t) => ({ name: t.name, value: t.value, updatedAt: iso(t.updatedAt) })),
    events: data.events
      .filter((e) => isPortable(e.purposes, of))
      .map((e) => ({ messageId: e.messageId, type: e.type, ...(e.event !== null ? { event: e.event } : {}), timestamp: iso(e.timestamp), properties: e.properties })),
  };
}

export const PORTABILITY_CSV_HEADER = ['record', 'name', 'messageId', 'type', 'event', 'timestamp', 'value'] as const;

/** The portability package as one CSV table (RFC 4180, CRLF): identities, traits, then events; values as JSON. */
export function portabilityCsv(pkg: PortabilityPackage): string {
  const rows: unknown[][] = [[...PORTABILITY_CSV_HEADER]];
  for (const i of pkg.identities) rows.push(['identity', i.kind, '', '', '', '', i.value]);
  for (const t of pkg.traits) rows.push(['trait', t.name, '', '', '', t.updatedAt, t.value]);
  for (const e of pkg.events) rows.push(['event', '', e.messageId, e.type, e.event ?? '', e.timestamp, e.properties]);
  return csvTable(rows);
}
