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

export interface Workload {
  /** JSON bodies of `POST /v1/batch`, one per 100 messages. */
  bodies: string[];
  /** Messages per body that become an `events` row in Fiducia (track and page; identify writes traits). */
  eventRows: number[];
  rows: RawRow[];
  subjects: number;
  messages: number;
  byType: Record<string, number>;
  avgMessageBytes: number;
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

/**
 * `batches` bodies of 100 messages from `subjects` visitors; half of them are logged-in customers (userId),
 * who also send the identify calls. Every message carries consent to analytics and personalization.
 */
export function buildWorkload(batches: number, subjects: number, seed = 42): Workload {
  const rnd = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const run = randomBytes(3).toString('base64url');
  // Short random anonymous ids (a UUID would add 26 bytes per message).
  const anon = Array.from({ length: subjects }, () => randomBytes(8).toString('base64url'));
  const subjectUuid = Array.from({ length: subjects }, () => randomUUID());
  const ips = Array.from({ length: subjects }, () => `${10 + Math.floor(rnd() * 200)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`);
  const filler = new Filler();
  const base = Date.now() - 60_000;
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
        msg.traits = {
          email: `${first}.${last}.${s}@example.com`.toLowerCase(),
          firstName: first,
          lastName: last,
          favoriteCategory: category,
          phone: `+39 3${String(100_000_000 + s * 7).slice(0, 9)}`,
        };
      }
      msg.context = { ip: ips[s], userAgent: USER_AGENTS[s % USER_AGENTS.length], locale: LOCALES[s % LOCALES.length], page: { path }, consent: CONSENT };
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
  return { bodies, eventRows, rows, subjects, messages: batches * BATCH_SIZE, byType, avgMessageBytes: bytes / (batches * BATCH_SIZE) };
}
