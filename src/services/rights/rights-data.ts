// Reading everything held about one subject for a rights request: rows decrypted through the keyring, nothing filtered by purpose.
import type { DataScope } from '../../store/scope.ts';
import { ciphertextKeyVersion, decryptJson } from '../../crypto/envelope.ts';
import type { IdentityRef } from '../../domain/identity.ts';
import type { ConsentItem, EventItem, IdentityItem, SubjectData, TraitItem } from '../../domain/rights-package.ts';
import { AccessRepo } from '../../store/access-repo.ts';
import { ConsentRepo } from '../../store/consent-repo.ts';
import { EventRepo } from '../../store/event-repo.ts';
import { ProfileRepo } from '../../store/profile-repo.ts';
import type { IdentityAssertion } from '../../store/schema.ts';
import { SubjectStateRepo, type StoredSubjectState } from '../../store/subject-state-repo.ts';
import type { DataKey, KeyRing } from '../keys/keyring.ts';

const MAX_MERGE_HOPS = 8;
const EVENT_PAGE = 10_000;

/** The subject an identity points at, after following merges; null when unknown, merged away for good, or erased. */
export async function resolveSubject(db: DataScope, ring: KeyRing, ref: IdentityRef): Promise<StoredSubjectState | null> {
  const bi = ring.blindIndex.index(ref.kind, ref.value);
  return resolveByIndex(db, ref.kind, bi);
}

/**
 * The links a self-service request may match: asserted by a server source, or entered under an earlier verified
 * request. An emailed code proves control of a mailbox, not that a profile a browser attached it to is the sender's.
 */
const SELF_SERVICE_MATCHES: ReadonlySet<IdentityAssertion> = new Set(['server', 'rights_request']);

/** With `channel` `self_service`, only asserted links match; staff (`dpo`) checked the person's identity themselves. */
export async function resolveByIndex(db: DataScope, kind: string, bi: Buffer, channel?: string): Promise<StoredSubjectState | null> {
  const row = (await new ProfileRepo(db).identitiesByIndex([bi])).find((r) => r.kind === kind && (channel !== 'self_service' || SELF_SERVICE_MATCHES.has(r.asserted)));
  if (!row) return null;
  return followMerges(db, row.subject_id);
}

export async function followMerges(db: DataScope, subjectId: string): Promise<StoredSubjectState | null> {
  const repo = new SubjectStateRepo(db);
  let state = await repo.stateOf(subjectId);
  for (let hop = 0; state?.mergedInto && hop < MAX_MERGE_HOPS; hop++) state = await repo.stateOf(state.mergedInto);
  return state && !state.mergedInto ? state : null;
}

export interface ReadResult {
  data: SubjectData;
  /** Rows that exist but cannot be decrypted (keys destroyed): what a restored backup of an erased subject looks like. */
  unreadable: number;
}

/** Decrypts with the key version named in each ciphertext; a missing key (crypto-shredded) makes the row unreadable. */
class Keys {
  readonly #versions = new Map<number, Buffer | null>();
  constructor(
    private readonly ring: KeyRing,
    private readonly subjectId: string,
    current: DataKey | undefined,
  ) {
    if (current) this.#versions.set(current.version, current.key);
  }
  /** Synchronous on the hot path: the keyring is only asked for a version not seen yet. */
  async open(field: string, blob: Uint8Array): Promise<{ ok: true; value: unknown } | { ok: false }> {
    const v = ciphertextKeyVersion(blob);
    let key = this.#versions.get(v);
    if (key === undefined) {
      key = (await this.ring.keyVersion(this.subjectId, v)) ?? null;
      this.#versions.set(v, key);
    }
    return key ? { ok: true, value: decryptJson(key, this.subjectId, field, blob) } : { ok: false };
  }
  /** The key for a ciphertext if it is already known (undefined: ask `open`). */
  known(blob: Uint8Array): Buffer | null | undefined {
    return this.#versions.get(ciphertextKeyVersion(blob));
  }
}

/** Every identity, trait, event and consent record of a live subject, decrypted. */
export async function readSubjectData(db: DataScope, ring: KeyRing, state: StoredSubjectState | null): Promise<ReadResult> {
  const sourceNames = new Map<string, string>();
  if (!state) return { data: { subject: null, identities: [], traits: [], events: [], consents: [], sourceNames }, unreadable: 0 };
  const subjectId = state.subjectId;
  const keys = new Keys(ring, subjectId, (await ring.currentKeys([subjectId])).get(subjectId));

  const profiles = new ProfileRepo(db);
  const identities = await readIdentities(profiles, keys, subjectId);
  const traits = await readTraits(profiles, keys, subjectId);
  const events = await readEvents(new EventRepo(db), keys, subjectId);

  const consents: ConsentItem[] = (
    await new ConsentRepo(db).ledgerOf([subjectId])
  ).map((c) => ({ purpose: c.purpose, status: c.status, noticeVersion: c.notice_version, method: c.method, sourceId: c.source_id, receiptId: c.receipt_id, at: Number(c.at) }));

  const sourceIds = new Set([...traits.items.map((t) => t.sourceId), ...events.items.map((e) => e.sourceId), ...consents.flatMap((c) => (c.sourceId ? [c.sourceId] : []))]);
  const known = [...sourceIds].filter((id) => !id.startsWith('rights:'));
  if (known.length > 0) for (const s of await new AccessRepo(db).sourceNames(known)) sourceNames.set(s.id, s.name);
  for (const id of sourceIds) if (id.startsWith('rights:')) sourceNames.set(id, `rights request ${id.slice(7)}`);

  const [row] = await profiles.subjects([subjectId]);
  return {
    data: {
      subject: { id: subjectId, createdAt: Number(row?.created_at ?? 0), restricted: state.restrictedAt !== null, objections: state.objections },
      identities: identities.items,
      traits: traits.items,
      events: events.items,
      consents,
      sourceNames,
    },
    unreadable: identities.unreadable + traits.unreadable + events.unreadable,
  };
}

/** Rows decrypted, and how many could not be (keys destroyed). */
interface Decrypted<T> {
  items: T[];
  unreadable: number;
}

async function readIdentities(profiles: ProfileRepo, keys: Keys, subjectId: string): Promise<Decrypted<IdentityItem>> {
  const out: Decrypted<IdentityItem> = { items: [], unreadable: 0 };
  for (const r of await profiles.identitiesOf(subjectId)) {
    const v = await keys.open(`identity:${r.kind}`, r.value_enc);
    if (v.ok) out.items.push({ kind: r.kind, value: v.value, asserted: r.asserted });
    else out.unreadable++;
  }
  return out;
}

async function readTraits(profiles: ProfileRepo, keys: Keys, subjectId: string): Promise<Decrypted<TraitItem>> {
  const out: Decrypted<TraitItem> = { items: [], unreadable: 0 };
  for (const r of await profiles.traitsOf(subjectId)) {
    const v = await keys.open(`trait:${r.name}`, r.value_enc);
    if (!v.ok) {
      out.unreadable++;
      continue;
    }
    out.items.push({ name: r.name, value: v.value, category: r.category, purposes: JSON.parse(r.purposes) as string[], sourceId: r.source_id, updatedAt: Number(r.updated_at) });
  }
  return out;
}

type EventRow = Awaited<ReturnType<EventRepo['eventsOf']>>[number];

/** Every event of the subject, a page at a time; a ciphertext under a key already known is decrypted without a wait. */
async function readEvents(eventRepo: EventRepo, keys: Keys, subjectId: string): Promise<Decrypted<EventItem>> {
  const out: Decrypted<EventItem> = { items: [], unreadable: 0 };
  // Few distinct purpose lists per subject: parse each once.
  const purposeLists = new Map<string, string[]>();
  const purposesOf = (text: string) => {
    let p = purposeLists.get(text);
    if (!p) purposeLists.set(text, (p = JSON.parse(text) as string[]));
    return p;
  };
  for (let after: string | null = null; ; ) {
    const page = await eventRepo.eventsOf(subjectId, after, EVENT_PAGE);
    for (const r of page) {
      const field = `event:${r.id}`;
      const key = keys.known(r.payload_enc);
      const v = key ? { ok: true as const, value: decryptJson(key, subjectId, field, r.payload_enc) } : key === null ? { ok: false as const } : await keys.open(field, r.payload_enc);
      if (!v.ok) {
        out.unreadable++;
        continue;
      }
      out.items.push(eventItem(r, v.value, purposesOf(r.purposes)));
    }
    if (page.length < EVENT_PAGE) break;
    after = page[page.length - 1]!.id;
  }
  return out;
}

/** An event as the package shows it: a group call's id and traits among its properties. */
function eventItem(r: EventRow, decrypted: unknown, purposes: string[]): EventItem {
  const payload = (decrypted ?? {}) as { properties?: Record<string, unknown>; context?: unknown; traits?: Record<string, unknown>; groupId?: unknown };
  let properties: Record<string, unknown> = payload.properties ?? {};
  const groupTraits = payload.traits && Object.keys(payload.traits).length > 0 ? payload.traits : undefined;
  if (typeof payload.groupId === 'string' || groupTraits) {
    properties = { ...properties, ...(typeof payload.groupId === 'string' ? { groupId: payload.groupId } : {}), ...(groupTraits ? { traits: groupTraits } : {}) };
  }
  return {
    messageId: r.message_id,
    type: r.type,
    event: r.event_name,
    timestamp: Number(r.timestamp),
    receivedAt: Number(r.received_at),
    category: r.category,
    purposes,
    sourceId: r.source_id,
    properties,
    context: payload.context ?? {},
  };
}
