// Sends the destinations' outbox: claims due rows under a lease, builds each message at send time from the stored rows,
// filtered field by field for the destination's purposes as the person's consent stands now, signs it and posts it.
// Failures are retried with exponential backoff (or the receiver's Retry-After) until a dead letter; a row is delivered
// at least once, and the receiver removes duplicates by the row's id (`webhook-id`, the Segment `messageId`).
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { Webhook } from 'standardwebhooks';
import { ciphertextKeyVersion, decryptJson } from '../../crypto/envelope.ts';
import {
  ANONYMOUS_ID_CATEGORY,
  DestinationView,
  USER_ID_CATEGORY,
  filterEvent,
  segmentMessage,
  segmentRegulation,
  webhookBody,
  type NoticeAction,
  type OutgoingMessage,
  type SentIdentity,
  type StoredEventPayload,
} from '../../domain/destination-payload.ts';
import type { PolicyEngine } from '../../domain/policy.ts';
import type { CompiledConfig } from '../../domain/privacy-config.ts';
import type { Destination } from '../../domain/privacy-config-types.ts';
import type { JsonObject } from '../../domain/segment-message.ts';
import { DeliveryRepo, type DeliveryRow, type EndedDelivery } from '../../store/delivery-repo.ts';
import type { DataScope } from '../../store/scope.ts';
import { policyStateOf, type StoredSubjectState } from '../../store/subject-state-repo.ts';
import type { AuditEntryInput, AuditPort } from '../audit/audit-port.ts';
import type { KeyRing } from '../keys/keyring.ts';
import type { Metrics } from '../metrics.ts';
import type { Mailer } from '../rights/mailer.ts';
import { MAIL_DESTINATION, mailKeyId } from './queued-mailer.ts';
import { RoundReads } from './round-reads.ts';
import type { OutboundRequest, OutboundResult } from './outbound.ts';

/** What posts a request: the SSRF-guarded client (src/services/destinations/outbound.ts), or a test's fake. */
export interface Sender {
  post(req: OutboundRequest): Promise<OutboundResult>;
}

export interface RetryPolicy {
  /** First retry after about this long; each further one waits twice as long, up to `maxMs`. */
  baseMs: number;
  maxMs: number;
  /** Attempts before the row becomes a dead letter. */
  maxAttempts: number;
}

/** 15 attempts over about ten hours: 1 s, 2 s, 4 s … then hourly. */
export const DEFAULT_RETRY: RetryPolicy = { baseMs: 1000, maxMs: 3_600_000, maxAttempts: 15 };

export interface DeliveryWorkerDeps {
  db: DataScope;
  cfg: CompiledConfig;
  policy: PolicyEngine;
  ring: KeyRing;
  audit: AuditPort;
  sender: Sender;
  /** Each destination's secret, read from the environment variable its configuration names. */
  secrets: ReadonlyMap<string, string>;
  logger: Logger;
  metrics?: Metrics | undefined;
  owner?: string | undefined;
  now?: (() => number) | undefined;
  /** How long a claim holds before another process may take the row again (default one minute). */
  leaseMs?: number | undefined;
  /** Rows claimed per round (default 64) and sent at once (default 16). */
  batch?: number | undefined;
  concurrency?: number | undefined;
  /** Sleep between rounds that found nothing due (default 500 ms); `wake()` cuts it short. */
  pollMs?: number | undefined;
  retry?: RetryPolicy | undefined;
  /** Per request (default 10 s). */
  timeoutMs?: number | undefined;
  /** SMTP, for the rights-request mail queued by QueuedMailer (destination `@mail`). */
  smtp?: Mailer | undefined;
}

type Built =
  | { send: true; url: string; body: string; sent: string[]; purposes: string[]; personal: boolean }
  | { send: false; reason: string };

export interface RoundReport {
  claimed: number;
  delivered: number;
  retried: number;
  dead: number;
  skipped: number;
}

const MAX_MERGE_HOPS = 8;
/** A notice's key in the keystore: made with the notice, destroyed once it is delivered. */
export const noticeKeyId = (deliveryId: string): string => `notice:${deliveryId}`;

export class DeliveryWorker {
  readonly #repo: DeliveryRepo;
  readonly #owner: string;
  readonly #now: () => number;
  readonly #retry: RetryPolicy;
  readonly #signers = new Map<string, Webhook>();
  /** Whether any destination could ever receive an identifier (else the round does not read them). */
  readonly #identifiers: boolean;
  #running: Promise<void> | null = null;
  #stopped = false;
  #wake: (() => void) | null = null;
  #woken = false;

  constructor(private readonly deps: DeliveryWorkerDeps) {
    this.#repo = new DeliveryRepo(deps.db);
    this.#owner = deps.owner ?? `deliveries-${randomUUID()}`;
    this.#now = deps.now ?? Date.now;
    this.#retry = deps.retry ?? DEFAULT_RETRY;
    this.#identifiers = deps.cfg.config.destinations.some(
      (d) => DestinationView.couldReceive(deps.policy, d, USER_ID_CATEGORY) || DestinationView.couldReceive(deps.policy, d, ANONYMOUS_ID_CATEGORY),
    );
    for (const d of deps.cfg.config.destinations) {
      if (d.kind !== 'webhook') continue;
      const secret = deps.secrets.get(d.id);
      if (secret !== undefined) this.#signers.set(d.id, new Webhook(secret));
    }
  }

  /** Sends in the background until `close`. */
  start(): void {
    if (this.#running || (this.deps.cfg.config.destinations.length === 0 && !this.deps.smtp)) return;
    this.#stopped = false;
    this.#running = this.#loop();
  }

  /** New rows were committed: look now instead of after the poll interval. */
  wake(): void {
    this.#woken = true;
    this.#wake?.();
  }

  async close(): Promise<void> {
    this.#stopped = true;
    this.#wake?.();
    await this.#running;
    this.#running = null;
  }

  /**
   * Rounds until nothing due when it started is left (a run by hand, tests): a row that fails is retried at a later
   * call, after its backoff, not within this one.
   */
  async drain(maxRounds = 10_000): Promise<RoundReport> {
    const total: RoundReport = { claimed: 0, delivered: 0, retried: 0, dead: 0, skipped: 0 };
    const dueBy = this.#now();
    for (let i = 0; i < maxRounds; i++) {
      const r = await this.round(dueBy);
      for (const k of Object.keys(total) as (keyof RoundReport)[]) total[k] += r[k];
      if (r.claimed === 0) break;
    }
    return total;
  }

  async #loop(): Promise<void> {
    const pollMs = this.deps.pollMs ?? 500;
    // Idle rounds back off up to ten poll intervals: a queue waiting on a receiver that is down is not scanned twice a
    // second for hours. New rows (wake) and a busy round reset it.
    let idle = pollMs;
    while (!this.#stopped) {
      let claimed = 0;
      try {
        claimed = (await this.round()).claimed;
      } catch (err) {
        this.deps.logger.error({ err: err instanceof Error ? err.name : 'error', code: (err as { code?: unknown }).code }, 'delivery round failed');
      }
      if (claimed > 0 || this.#stopped) {
        idle = pollMs;
        continue;
      }
      if (this.#woken) {
        this.#woken = false;
        idle = pollMs;
        continue;
      }
      const wait = idle;
      idle = Math.min(idle * 2, pollMs * 10);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, wait);
        timer.unref?.();
        function done() {
          clearTimeout(timer);
          resolve();
        }
        this.#wake = done;
      });
      this.#wake = null;
      this.#woken = false;
    }
  }

  /** One claim and its sends (of rows due by `dueBy`, default now). */
  async round(dueBy?: number): Promise<RoundReport> {
    const now = this.#now();
    const rows = await this.#repo.claim(this.#owner, now, this.deps.leaseMs ?? 60_000, this.deps.batch ?? 64, dueBy ?? now);
    const report: RoundReport = { claimed: rows.length, delivered: 0, retried: 0, dead: 0, skipped: 0 };
    if (rows.length === 0) return report;
    const book = new RoundBook();
    const reads = new RoundReads(this.deps.db);
    await reads.prefetch(rows, this.#identifiers);
    const limit = Math.max(1, this.deps.concurrency ?? 16);
    let next = 0;
    const lane = async () => {
      for (let i = next++; i < rows.length; i = next++) {
        const outcome = await this.#deliver(rows[i]!, book, reads);
        report[outcome]++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(limit, rows.length) }, lane));
    await this.#record(book);
    return report;
  }

  /**
   * The round's outcomes in one transaction with their audit entries (every delivery of personal data is an access to
   * it: names and purposes only). A crash before this commit leaves the rows leased: they are sent again once the lease
   * ends, and receivers drop the copies by id. Keys of notices and mail sent go after the commit.
   */
  async #record(book: RoundBook): Promise<void> {
    const at = this.#now();
    await this.deps.db.transaction(async (trx) => {
      const repo = new DeliveryRepo(trx);
      await repo.finishMany(book.ended, at);
      for (const r of book.retries) await repo.retryAt(r.id, r.dueAt, r.outcome);
      if (book.audit.length > 0) await this.deps.audit.append(trx, book.audit);
    });
    for (const keyId of book.keys) await this.deps.ring.destroy(keyId);
  }

  async #deliver(row: DeliveryRow, book: RoundBook, reads: RoundReads): Promise<'delivered' | 'retried' | 'dead' | 'skipped'> {
    const { metrics } = this.deps;
    const count = (outcome: string) => metrics?.deliveries.inc({ destination: row.destination_id, outcome });
    if (row.destination_id === MAIL_DESTINATION) return this.#mail(row, book, count);
    const dest = this.deps.cfg.destination(row.destination_id);
    let built: Built;
    try {
      built = dest ? await this.#build(row, dest, reads) : { send: false, reason: 'destination_removed' };
    } catch (err) {
      // A row that cannot be built (a damaged ciphertext, a bug) is retried like a failed send, then dead-lettered.
      return this.#failed(row, { ok: false, status: null, retryable: true, retryAfterMs: null, error: `build_${err instanceof Error ? err.name : 'error'}` }, book, count);
    }
    if (!built.send) {
      book.end(row.id, 'skipped', { error: built.reason });
      if (row.kind === 'notice' && row.secret_enc) book.keys.push(noticeKeyId(row.id));
      count('skipped');
      return 'skipped';
    }
    const stop = metrics?.deliverySeconds.startTimer({ destination: row.destination_id });
    const result = await this.deps.sender.post({
      url: built.url,
      headers: this.#headers(row, dest!, built.body),
      body: built.body,
      allowPrivateNetwork: dest!.allowPrivateNetwork,
      timeoutMs: this.deps.timeoutMs ?? 10_000,
    });
    stop?.();
    if (!result.ok) return this.#failed(row, result, book, count);
    book.end(row.id, 'delivered', { httpStatus: result.status });
    if (row.kind === 'notice' && row.secret_enc) book.keys.push(noticeKeyId(row.id));
    count('delivered');
    if (built.personal) {
      book.audit.push({
        actor: `destination:${row.destination_id}`,
        action: 'destination.delivery',
        subjectId: row.subject_id,
        fields: built.sent,
        outcome: 'ok',
        details: { deliveryId: row.id, kind: row.kind, purposes: built.purposes.join(',') },
      });
    }
    return 'delivered';
  }

  /** A queued rights-request message, handed to SMTP; the SMTP answer's code decides whether it is retried. */
  async #mail(row: DeliveryRow, book: RoundBook, count: (o: string) => void): Promise<'delivered' | 'retried' | 'dead' | 'skipped'> {
    const keyId = mailKeyId(row.id);
    const key = row.secret_enc ? await this.deps.ring.keyVersion(keyId, ciphertextKeyVersion(row.secret_enc)) : undefined;
    if (!this.deps.smtp || !key || !row.secret_enc) {
      book.end(row.id, 'skipped', { error: this.deps.smtp ? 'mail_unreadable' : 'smtp_not_configured' });
      if (key) book.keys.push(keyId);
      count('skipped');
      return 'skipped';
    }
    const message = decryptJson(key, keyId, 'mail', row.secret_enc) as { to: string; subject: string; text: string };
    const { kind } = JSON.parse(row.ref) as { kind: string };
    try {
      await this.deps.smtp.send({ ...message, kind, requestId: row.subject_id === 'none' ? undefined : row.subject_id });
    } catch (err) {
      // 5xx SMTP replies are permanent (a refused address); connection failures and 4xx are worth another try.
      const code = (err as { responseCode?: unknown }).responseCode;
      const permanent = typeof code === 'number' && code >= 500;
      const error = typeof code === 'number' ? `smtp_${code}` : `smtp_${String((err as { code?: unknown }).code ?? 'error').toLowerCase()}`;
      return this.#failed(row, { ok: false, status: null, retryable: !permanent, retryAfterMs: null, error }, book, count);
    }
    book.end(row.id, 'delivered', {});
    book.keys.push(keyId);
    count('delivered');
    return 'delivered';
  }

  #failed(row: DeliveryRow, result: Extract<OutboundResult, { ok: false }>, book: RoundBook, count: (o: string) => void): 'retried' | 'dead' {
    const outcome = { httpStatus: result.status, error: result.error };
    if (!result.retryable || row.attempts >= this.#retry.maxAttempts) {
      book.end(row.id, 'dead', outcome);
      count('dead');
      return 'dead';
    }
    const backoff = Math.min(this.#retry.maxMs, this.#retry.baseMs * 2 ** Math.max(0, row.attempts - 1));
    // Half to all of the backoff, at random: receivers coming back are not hit by every sender at once.
    const wait = Math.max(result.retryAfterMs ?? 0, Math.round(backoff * (0.5 + Math.random() / 2)));
    book.retries.push({ id: row.id, dueAt: this.#now() + wait, outcome });
    count('retry');
    return 'retried';
  }

  #headers(row: DeliveryRow, dest: Destination, body: string): Record<string, string> {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'Fiducia-Destinations/1' };
    if (dest.kind === 'webhook') {
      const at = new Date(this.#now());
      headers['webhook-id'] = row.id;
      headers['webhook-timestamp'] = String(Math.floor(at.getTime() / 1000));
      const signer = this.#signers.get(dest.id);
      if (signer) headers['webhook-signature'] = signer.sign(row.id, at, body);
    } else {
      headers.authorization = `Basic ${Buffer.from(`${this.deps.secrets.get(dest.id) ?? ''}:`).toString('base64')}`;
    }
    return headers;
  }

  // ---- building messages at send time -------------------------------------------------------

  async #build(row: DeliveryRow, dest: Destination, reads: RoundReads): Promise<Built> {
    if (row.kind === 'notice') return this.#buildNotice(row, dest, reads);
    const state = await this.#liveState(row.subject_id, reads);
    if (!state) return { send: false, reason: 'erased' };
    const view = new DestinationView(this.deps.policy, dest, policyStateOf(state));
    const msg = row.kind === 'event' ? await this.#eventMessage(row, state.subjectId, view, reads) : await this.#identifyMessage(row, state.subjectId, view, JSON.parse(row.ref) as string[], reads);
    if ('reason' in msg) return { send: false, reason: msg.reason };
    return this.#wire(dest, msg.message, msg.sent);
  }

  #wire(dest: Destination, m: OutgoingMessage, sent: string[]): Built {
    const now = this.#now();
    const purposes = m.purposes;
    if (dest.kind === 'webhook') return { send: true, url: dest.endpoint, body: JSON.stringify(webhookBody(m, now)), sent, purposes, personal: m.kind !== 'notice' };
    if (m.kind === 'notice') {
      const regulation = segmentRegulation(m);
      if (!regulation) return { send: false, reason: 'not_a_regulation' };
      return { send: true, url: endpointPath(dest.endpoint, '/v1/regulations'), body: JSON.stringify(regulation), sent, purposes, personal: false };
    }
    return { send: true, url: endpointPath(dest.endpoint, '/v1/batch'), body: JSON.stringify({ batch: [segmentMessage(m, now)], sentAt: new Date(now).toISOString() }), sent, purposes, personal: true };
  }

  async #eventMessage(row: DeliveryRow, subjectId: string, view: DestinationView, reads: RoundReads): Promise<{ message: OutgoingMessage; sent: string[] } | { reason: string }> {
    const ev = await reads.event(subjectId, row.ref);
    if (!ev) return { reason: 'event_deleted' };
    const d = view.decide(ev.category);
    if (!d.allow) return { reason: d.reason };
    const key = await this.deps.ring.keyVersion(subjectId, ciphertextKeyVersion(ev.payload_enc));
    if (!key) return { reason: 'erased' };
    const payload = decryptJson(key, subjectId, `event:${ev.id}`, ev.payload_enc) as StoredEventPayload;
    const filtered = filterEvent(payload, view);
    const { identity, sent } = await this.#identity(subjectId, view, reads);
    const type = ev.type as 'track' | 'page' | 'screen' | 'group';
    return {
      message: {
        kind: 'event',
        id: row.id,
        type,
        name: ev.event_name,
        groupId: typeof payload.groupId === 'string' ? payload.groupId : undefined,
        timestamp: Number(ev.timestamp),
        identity,
        properties: filtered.properties,
        context: filtered.context,
        purposes: view.purposesFor(ev.category),
      },
      sent: ['event', ...sent, ...filtered.sent],
    };
  }

  async #identifyMessage(row: DeliveryRow, subjectId: string, view: DestinationView, names: readonly string[], reads: RoundReads): Promise<{ message: OutgoingMessage; sent: string[] } | { reason: string }> {
    const wanted = new Set(names);
    const traits: JsonObject = {};
    const purposes = new Set<string>();
    let refusal: string | undefined;
    for (const t of await reads.traits(subjectId)) {
      if (!wanted.has(t.name)) continue;
      const d = view.decide(t.category);
      if (!d.allow) {
        refusal ??= d.reason;
        continue;
      }
      const key = await this.deps.ring.keyVersion(subjectId, ciphertextKeyVersion(t.value_enc));
      if (!key) return { reason: 'erased' };
      traits[t.name] = decryptJson(key, subjectId, `trait:${t.name}`, t.value_enc) as JsonObject[string];
      for (const p of view.purposesFor(t.category)) purposes.add(p);
    }
    if (Object.keys(traits).length === 0) return { reason: refusal ?? 'nothing_left' };
    const { identity, sent } = await this.#identity(subjectId, view, reads);
    return {
      message: { kind: 'identify', id: row.id, timestamp: Number(row.created_at), identity, traits, purposes: [...purposes].sort() },
      sent: [...sent, ...Object.keys(traits).map((n) => `trait:${n}`)],
    };
  }

  /** The person's identifiers the destination may receive now; always Fiducia's pseudonymous subject id. */
  async #identity(subjectId: string, view: DestinationView, reads: RoundReads): Promise<{ identity: SentIdentity; sent: string[] }> {
    const identity: SentIdentity = { subjectId };
    const sent: string[] = [];
    const wantUser = view.allows(USER_ID_CATEGORY);
    const wantAnon = view.allows(ANONYMOUS_ID_CATEGORY);
    if (!wantUser && !wantAnon) return { identity, sent };
    for (const i of await reads.identities(subjectId)) {
      const take = (i.kind === 'userId' && wantUser && identity.userId === undefined) || (i.kind === 'anonymousId' && wantAnon && identity.anonymousId === undefined);
      if (!take) continue;
      const key = await this.deps.ring.keyVersion(subjectId, ciphertextKeyVersion(i.value_enc));
      if (!key) continue;
      const value = decryptJson(key, subjectId, `identity:${i.kind}`, i.value_enc);
      if (typeof value !== 'string') continue;
      if (i.kind === 'userId') identity.userId = value;
      else identity.anonymousId = value;
      sent.push(i.kind);
    }
    return { identity, sent };
  }

  async #buildNotice(row: DeliveryRow, dest: Destination, reads: RoundReads): Promise<Built> {
    const ref = JSON.parse(row.ref) as { action: NoticeAction; fields: string[]; purposes: string[]; requestId: string | null; at: number };
    let ids = { userIds: [] as string[], anonymousIds: [] as string[] };
    if (row.secret_enc) {
      const keyId = noticeKeyId(row.id);
      const key = await this.deps.ring.keyVersion(keyId, ciphertextKeyVersion(row.secret_enc));
      if (key) ids = decryptJson(key, keyId, 'notice', row.secret_enc) as typeof ids;
    }
    // A Segment-compatible receiver learns of a rectification as an identify of the corrected traits (when it may).
    if (dest.kind === 'segment' && ref.action === 'rectification') {
      const state = await this.#liveState(row.subject_id, reads);
      if (!state) return { send: false, reason: 'erased' };
      const view = new DestinationView(this.deps.policy, dest, policyStateOf(state));
      const names = ref.fields.filter((f) => f.startsWith('trait:')).map((f) => f.slice('trait:'.length));
      const msg = await this.#identifyMessage(row, state.subjectId, view, names, reads);
      if ('reason' in msg) return { send: false, reason: msg.reason };
      return this.#wire(dest, msg.message, msg.sent);
    }
    const notice: OutgoingMessage = { kind: 'notice', id: row.id, timestamp: ref.at, action: ref.action, subjectId: row.subject_id, ...ids, fields: ref.fields, purposes: ref.purposes, requestId: ref.requestId };
    return this.#wire(dest, notice, []);
  }

  /** The subject after any merges, unless erased or gone. */
  async #liveState(subjectId: string, reads: RoundReads): Promise<StoredSubjectState | null> {
    let state = await reads.state(subjectId);
    for (let hop = 0; state?.mergedInto && hop < MAX_MERGE_HOPS; hop++) state = await reads.state(state.mergedInto);
    if (!state || state.mergedInto || state.erasedAt !== null) return null;
    return state;
  }
}

/** What one round decided, written in one transaction at its end. */
class RoundBook {
  readonly ended: EndedDelivery[] = [];
  readonly retries: { id: string; dueAt: number; outcome: { httpStatus: number | null; error: string } }[] = [];
  readonly audit: AuditEntryInput[] = [];
  /** Keys of notices and mail no longer needed: destroyed after the commit. */
  readonly keys: string[] = [];

  end(id: string, status: EndedDelivery['status'], outcome: { httpStatus?: number | null; error?: string | null }): void {
    this.ended.push({ id, status, httpStatus: outcome.httpStatus ?? null, error: outcome.error ?? null });
  }
}

/** `<endpoint>` with a path appended, whatever the endpoint's own path ends with. */
function endpointPath(endpoint: string, path: string): string {
  const u = new URL(endpoint);
  let base = u.pathname;
  while (base.endsWith('/')) base = base.slice(0, -1);
  u.pathname = `${base}${path}`;
  return u.toString();
}
