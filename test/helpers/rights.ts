// Helpers for the rights-request suites: seeding subjects, a mailer that keeps messages, staff calls.
import assert from 'node:assert/strict';
import type { Mailer, MailMessage } from '../../src/services/rights/mailer.ts';
import type { RequestView } from '../../src/services/rights/rights.ts';
import { ADMIN_TOKEN, basicAuth, type startFiducia } from './harness.ts';

export type Running = Awaited<ReturnType<typeof startFiducia>>;

export const staff = { authorization: `Bearer ${ADMIN_TOKEN}` };

export class CaptureMailer implements Mailer {
  readonly sent: MailMessage[] = [];
  fail = false;
  async send(msg: MailMessage): Promise<void> {
    if (this.fail) throw new Error('smtp down');
    this.sent.push(msg);
  }
  /** The 6-digit code of the last verification message to `to`. */
  codeFor(to: string): string {
    const m = [...this.sent].reverse().find((x) => x.to === to && x.kind === 'rights.verification');
    assert.ok(m, `no verification message to ${to}`);
    const code = /: (\d{6})\n/.exec(m.text)?.[1];
    assert.ok(code, 'the message carries a code');
    return code;
  }
  /** The download link of the last outcome message to `to`. */
  linkFor(to: string): string | null {
    const m = [...this.sent].reverse().find((x) => x.to === to && x.kind === 'rights.outcome');
    const url = m ? /(https?:\/\/\S+\/download\?token=\S+)/.exec(m.text)?.[1] : undefined;
    return url ?? null;
  }
}

export interface Seeded {
  userId: string;
  anonymousId: string;
  email: string;
  messageIds: string[];
  traits: Record<string, unknown>;
}

/**
 * A subject with consent to analytics, personalization and marketing, an identify (email, names, preferences)
 * and `events` track events alternating between browsing and purchases.
 */
export async function seedSubject(f: Running, tag: string, events = 6): Promise<Seeded> {
  const userId = `user-${tag}`;
  const anonymousId = `anon-${tag}`;
  const email = `${tag}@example.com`;
  const traits = { email, firstName: `First-${tag}`, lastName: `Last-${tag}`, favoriteCategory: `category-${tag}` };
  const c = await f.app.inject({
    method: 'POST',
    url: '/v1/consent',
    headers: { authorization: basicAuth() },
    payload: { anonymousId, purposes: { analytics: true, personalization: true, marketing: true }, noticeVersion: f.cfg.config.notice.current },
  });
  assert.equal(c.statusCode, 200, c.body);
  const messageIds: string[] = [];
  const batch: Record<string, unknown>[] = [{ type: 'identify', userId, anonymousId, traits, messageId: `${tag}-identify` }];
  for (let i = 0; i < events; i++) {
    const messageId = `${tag}-ev-${i}`;
    messageIds.push(messageId);
    batch.push(
      i % 2 === 0
        ? { type: 'track', userId, event: 'Product Viewed', properties: { product_id: `${tag}-p${i}`, price: i }, messageId }
        : { type: 'track', userId, event: 'Order Completed', properties: { order_id: `${tag}-o${i}`, total: i }, messageId },
    );
  }
  for (let i = 0; i < batch.length; i += 400) {
    const r = await f.app.inject({ method: 'POST', url: '/v1/batch', headers: { authorization: basicAuth() }, payload: { batch: batch.slice(i, i + 400) } });
    assert.equal(r.statusCode, 200, r.body);
  }
  return { userId, anonymousId, email, messageIds, traits };
}

export async function subjectOf(f: Running, userId: string): Promise<string> {
  const bi = f.ring.blindIndex.index('userId', userId);
  const row = await f.dbs.data.selectFrom('identities').select('subject_id').where('kind', '=', 'userId').where('blind_index', '=', bi).executeTakeFirst();
  assert.ok(row, `no subject for ${userId}`);
  return row.subject_id;
}

export async function staffRequest(f: Running, body: Record<string, unknown>): Promise<{ id: string; status: string; dueAt: string }> {
  const r = await f.app.inject({ method: 'POST', url: '/api/v1/rights-requests', headers: staff, payload: body });
  assert.equal(r.statusCode, 202, r.body);
  return r.json();
}

export async function getRequest(f: Running, id: string): Promise<RequestView> {
  const r = await f.app.inject({ method: 'GET', url: `/api/v1/rights-requests/${id}`, headers: staff });
  assert.equal(r.statusCode, 200, r.body);
  return r.json();
}

export async function auditActions(f: Running, prefix = 'rights.'): Promise<{ action: string; subject_id: string | null }[]> {
  return f.dbs.data.selectFrom('audit_entries').select(['action', 'subject_id']).where('action', 'like', `${prefix}%`).orderBy('idx').execute();
}
