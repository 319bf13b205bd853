// Synthetic shop traffic for the ingestion benchmark: pre-built /v1/batch bodies and the matching raw rows of the baseline.
import { randomBytes, randomUUID } from 'node:crypto';

export const BATCH_SIZE = 100;

/** What the baseline inserts for one message: the columns of Fiducia's `events` table, minus id and received_at. */
export interface RawRow {
  subject_id: string;
  message_id: string;
  type: string;
  event_name: string | null;
  category: string;
  purposes: string;
  categories: string;
  timestamp: number;
  payload_enc: Buffer;
}

/**
 * `first`: visitors the server has not seen yet, so many messages create a subject, its data key, identities and
 * consent rows. `steady`: returning visitors, every one seen beforehand through {@link buildSeed}.
 */
export type WorkloadKind = 'first' | 'steady';

/** The visitors of one workload: what its seeding and its measured traffic share. */
export interface Visitors {
  count: number;
  /** Prefix of every messageId of this run. */
  run: string;
  /** Short random anonymous ids (a UUID would add 26 bytes per message). */
  anonymousIds: string[];
  /** The subject id each visitor gets in the baseline's rows. */
  subjectIds: string[];
  ips: string[];
  /** Time of the first measured message; the seed's messages come an hour before. */
  base: number;
}

export interface Workload {
  kind: WorkloadKind;
  visitors: Visitors;
  /** JSON bodies of `POST /v1/batch`, one per 100 messages. */
  bodies: string[];
  /** Messages per body that become an `events` row in Fiducia (track and page; identify writes traits). */
  eventRows: number[];
  rows: RawRow[];
  subjects: number;
  messages: number;
  /** Messages that are the first of their visitor in the traffic the server gets (none in `steady`: the seed came first). */
  firstSightings: number;
  byType: Record<string, number>;
  avgMessageBytes: number;
}

/** Bodies that make every visitor of a workload known to the server before its measured traffic. */
export interface Seed {
  bodies: string[];
  eventRows: number[];
  messages: number;
}

/** Deterministic PRNG (mulberry32): the same seed gives the same traffic in every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Shortened user agents: the full strings (100-150 bytes) alone would take half of a 300-byte message.
const USER_AGENTS = ['Mozilla/5.0 (iPhone; iOS 17_4) Safari/604.1', 'Mozilla/5.0 (Windows NT 10.0) Chrome/124', 'Mozilla/5.0 (Android 14) Chrome/124 Mobile', 'Mozilla/5.0 (Macintosh) Firefox/125'];
const LOCALES = ['it-IT', 'en-GB', 'de-DE', 'fr-FR'];
const CATEGORIES = ['shoes', 'bags', 'dresses', 'jackets', 'watches'];
const FIRST = ['Giulia', 'Marco', 'Anna', 'Luca', 'Sofia', 'Paolo'];
const LAST = ['Rossi', 'Bianchi', 'Esposito', 'Romano', 'Ricci'];
// OneTrust ids as a CMP sends them: C0002 → analytics, C0003 → personalization (config/fiducia.yaml).
const CONSENT = { categoryPreferences: { C0002: true, C0003: true } };

const BROWSING = { category: 'user.behavior.browsing', purposes: '["analytics","personalization"]' };
const PURCHASE = { category: 'user.behavior.purchase', purposes: '["analytics","personalization","service"]' };

/** Payload stand-in for the baseline: ciphertext is incompressible, so random bytes of the message's size. */
class Filler {
  #pool = randomBytes(1 << 20);
  #at = 0;
  take(n: number): Buffer {
    if (this.#at + n > this.#pool.length) this.#at = 0;
    const b = this.#pool.subarray(this.#at, this.#at + n);
    this.#at += n;
    return b;
  }
}

/** A customer's traits; the same for a visitor every time unless `favoriteCategory` changes. */
function traitsOf(s: number, first: string, last: string, favoriteCategory: string): Record<string, string> {
  return {
    email: `${first}.${last}.${s}@example.com`.toLowerCase(),
    firstName: first,
    lastName: last,
    favoriteCategory,
    phone: `+39 3${String(100_000_000 + s * 7).slice(0, 9)}`,
  };
}

/** The traits a customer of the steady workload was seeded with. */
function knownTraits(s: number, favoriteCategory = CATEGORIES[s % CATEGORIES.length]!): Record<string, string> {
  return traitsOf(s, FIRST[s % FIRST.length]!, LAST[Math.floor(s / FIRST.length) % LAST.length]!, favoriteCategory);
}

function contextOf(v: Visitors, s: number, path: string): Record<string, unknown> {
  return { ip: v.ips[s], userAgent: USER_AGENTS[s % USER_AGENTS.length], locale: LOCALES[s % LOCALES.length], page: { path }, consent: CONSENT };
}

/** Share of a steady workload's identify calls that bring a new trait value (a changed favourite category). */
export const STEADY_TRAIT_CHANGE = 0.1;

/**
 * `batches` bodies of 100 messages from `subjects` visitors; half of them are logged-in customers (userId),
 * who also send the identify calls. Every message carries consent to analytics and personalization.
 * Both kinds of `traffic` send the same sequence of message types, visitors and products for a seed; `steady` differs in its
 * identify calls, which repeat the traits the visitor was seeded with and only sometimes change one.
 */
export function buildWorkload(batches: number, subjects: number, seed = 42, traffic: WorkloadKind = 'first'): Workload {
  const rnd = prng(seed);
  // Its own generator, so that both kinds draw the same sequence from `rnd`.
  const change = prng(seed + 1);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const run = randomBytes(3).toString('base64url');
  const anon = Array.from({ length: subjects }, () => randomBytes(8).toString('base64url'));
  const subjectUuid = Array.from({ length: subjects }, () => randomUUID());
  const ips = Array.from({ length: subjects }, () => `${10 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`);
  const base = Date.now() - 60_000;
  const visitors: Visitors = { count: subjects, run, anonymousIds: anon, subjectIds: subjectUuid, ips, base };
  const seen = new Uint8Array(traffic === 'steady' ? 0 : subjects);
  let firstSightings = 0;
  const filler = new Filler();
  const bodies: string[] = [];
  const eventRows: number[] = [];
  const rows: RawRow[] = [];
  const byType: Record<string, number> = {};
  let bytes = 0;
  let seq = 0;

  for (let b = 0; b < batches; b++) {
    const batch: string[] = [];
    let events = 0;
    for (let i = 0; i < BATCH_SIZE; i++) {
      const r = rnd();
      // identify only from customers (even subjects have a userId)
      const kind = r < 0.45 ? 'view' : r < 0.6 ? 'add' : r < 0.65 ? 'order' : r < 0.9 ? 'page' : 'identify';
      let s = Math.floor(rnd() * subjects);
      if (kind === 'identify') s -= s % 2;
      const known = s % 2 === 0 && (kind === 'identify' || rnd() < 0.6);
      const product = `sku-${Math.floor(rnd() * 5000)}`;
      const category = pick(CATEGORIES);
      const ts = base + seq * 3;
      const msg: Record<string, unknown> = {
        type: kind === 'identify' || kind === 'page' ? kind : 'track',
        messageId: `${run}-${(seq++).toString(36)}`,
        anonymousId: anon[s],
        ...(known ? { userId: `cust-${100_000 + s}` } : {}),
        timestamp: new Date(ts).toISOString(),
      };
      let path = `/p/${product}`;
      let meta = BROWSING;
      if (kind === 'view') {
        msg.event = 'Product Viewed';
        msg.properties = { product_id: product, category, price: Math.round(rnd() * 20000) / 100 };
      } else if (kind === 'add') {
        msg.event = 'Product Added';
        msg.properties = { product_id: product, price: Math.round(rnd() * 20000) / 100, quantity: 1 + Math.floor(rnd() * 3) };
        meta = PURCHASE;
      } else if (kind === 'order') {
        msg.event = 'Order Completed';
        msg.properties = { order_id: `o-${seq}`, total: Math.round(rnd() * 50000) / 100, currency: 'EUR', products: [{ product_id: product }] };
        path = '/checkout/done';
        meta = PURCHASE;
      } else if (kind === 'page') {
        msg.name = 'Category';
        path = `/c/${category}`;
        msg.properties = { path, title: `${category} | Shop` };
      } else {
        const first = pick(FIRST);
        const last = pick(LAST);
        if (traffic === 'first') msg.traits = traitsOf(s, first, last, category);
        else msg.traits = change() < STEADY_TRAIT_CHANGE ? knownTraits(s, category) : knownTraits(s);
      }
      msg.context = contextOf(visitors, s, path);
      if (traffic === 'first' && seen[s] === 0) {
        seen[s] = 1;
        firstSightings++;
      }
      const json = JSON.stringify(msg);
      batch.push(json);
      bytes += Buffer.byteLength(json);
      byType[kind] = (byType[kind] ?? 0) + 1;
      if (kind !== 'identify') events++;
      rows.push({
        subject_id: subjectUuid[s]!,
        message_id: msg.messageId as string,
        type: msg.type as string,
        event_name: (msg.event as string | undefined) ?? (kind === 'page' ? 'Category' : null),
        category: kind === 'identify' ? 'user.contact.email' : meta.category,
        purposes: meta.purposes,
        categories: `["${meta.category}","user.behavior.browsing","user.device.ip","user.device.user_agent","user.demographic.language"]`,
        timestamp: ts,
        payload_enc: filler.take(json.length),
      });
    }
    bodies.push(`{"batch":[${batch.join(',')}],"sentAt":"${new Date(base + seq * 3).toISOString()}"}`);
    eventRows.push(events);
  }
  return { kind: traffic, visitors, bodies, eventRows, rows, subjects, messages: batches * BATCH_SIZE, firstSightings, byType, avgMessageBytes: bytes / (batches * BATCH_SIZE) };
}

/**
 * One message per visitor, in batches of 100, an hour before the workload's traffic: an identify with userId and the
 * traits a steady workload repeats from each customer (even visitors), a page view from each anonymous visitor (odd).
 * Afterwards every subject, identity link and consent of the measured traffic exists.
 */
export function buildSeed(v: Visitors): Seed {
  const bodies: string[] = [];
  const eventRows: number[] = [];
  const start = v.base - 3_600_000;
  for (let from = 0; from < v.count; from += BATCH_SIZE) {
    const batch: string[] = [];
    let events = 0;
    const to = Math.min(v.count, from + BATCH_SIZE);
    for (let s = from; s < to; s++) {
      const customer = s % 2 === 0;
      const msg: Record<string, unknown> = {
        type: customer ? 'identify' : 'page',
        // '.' never occurs in the workload's messageIds (base64url run, '-', base 36).
        messageId: `${v.run}.seed.${s.toString(36)}`,
        anonymousId: v.anonymousIds[s],
        ...(customer ? { userId: `cust-${100_000 + s}`, traits: knownTraits(s) } : { name: 'Home', properties: { path: '/', title: 'Shop' } }),
        timestamp: new Date(start + s).toISOString(),
        context: contextOf(v, s, '/'),
      };
      batch.push(JSON.stringify(msg));
      if (!customer) events++;
    }
    bodies.push(`{"batch":[${batch.join(',')}],"sentAt":"${new Date(start + to).toISOString()}"}`);
    eventRows.push(events);
  }
  return { bodies, eventRows, messages: v.count };
}
