// The rights queue's actions in Chromium, as a DPO: a rectification that waits for staff is extended with a reason,
// then carried out with the corrected value (the profile shows it); a restriction is lifted; a request is rejected.
// English on a desktop, Italian on a phone; axe and no sideways overflow after each action.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { consoleUser, signIn } from './helpers/console.ts';
import { ADMIN_TOKEN, basicAuth } from './helpers/harness.ts';
import { CaptureMailer, seedSubject } from './helpers/rights.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;
const skip = browserSkip();

const WORDS = {
  en: { open: /^Open the Rectification/, extend: 'Extend the deadline', extended: 'The deadline was extended', reason: 'Reason for the extension (told to the person)', process: 'Carry out now', values: 'Corrected values (rectification), one per line: name: value', done: 'The request was carried out', lift: 'Lift the restriction', liftReason: 'Reason for lifting the restriction', lifted: 'The restriction was lifted', openRestriction: /^Open the Restriction/, openErasure: /^Open the Erasure/, reject: 'Reject', rejected: 'The request was rejected' },
  it: { open: /^Apri la richiesta di Rettifica/, extend: 'Proroga il termine', extended: 'Il termine è stato prorogato', reason: 'Motivo della proroga (comunicato alla persona)', process: 'Esegui ora', values: 'Valori corretti (rettifica), uno per riga: nome: valore', done: 'La richiesta è stata eseguita', lift: 'Revoca la limitazione', liftReason: 'Motivo della revoca della limitazione', lifted: 'La limitazione è stata revocata', openRestriction: /^Apri la richiesta di Limitazione/, openErasure: /^Apri la richiesta di Cancellazione/, reject: 'Respingi', rejected: 'La richiesta è stata respinta' },
} as const;

const admin = { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' };

describe('console: rights request actions in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let dpo: { username: string; password: string };
  const mail = new CaptureMailer();

  before(async () => {
    f = await startListening({ mailer: mail });
    browser = await launchBrowser();
    dpo = await consoleUser(f, 'dpo');
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  /** A rectification asked in the privacy center and confirmed with the e-mailed code: it waits for staff to enter the values. */
  async function selfServiceRectification(email: string): Promise<{ id: string; status: string }> {
    const post = (path: string, body: object) =>
      fetch(`${f.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth() }, body: JSON.stringify(body) });
    const asked = (await (await post('/v1/rights-requests', { email, type: 'rectification', language: 'en' })).json()) as { id: string };
    const verified = await post(`/v1/rights-requests/${asked.id}/verify`, { code: mail.codeFor(email) });
    const text = await verified.text();
    assert.equal(verified.status, 200, text);
    return JSON.parse(text) as { id: string; status: string };
  }

  async function request(type: string, userId: string): Promise<{ id: string; status: string }> {
    const r = await fetch(`${f.url}/api/v1/rights-requests`, { method: 'POST', headers: admin, body: JSON.stringify({ type, identity: `userId:${userId}` }) });
    const text = await r.text();
    assert.equal(r.status, 202, text);
    return JSON.parse(text) as { id: string; status: string };
  }

  async function status(id: string): Promise<string> {
    const r = await fetch(`${f.url}/api/v1/rights-requests/${id}`, { headers: admin });
    return ((await r.json()) as { status: string }).status;
  }

  /** Submits the form named `name` in the open request, waiting for the page to say `done`. */
  async function act(page: Page, name: string, done: string, fill?: (form: Locator) => Promise<void>): Promise<void> {
    const form = page.getByRole('form', { name });
    await fill?.(form);
    await form.locator('button[type="submit"]').click();
    await page.getByRole('status').filter({ hasText: done }).waitFor();
  }

  /** Opens one request by its button, named for its type (the other language's run left requests of the same type). */
  async function openRequest(page: Page, name: RegExp, id: string): Promise<void> {
    const open = page.getByRole('button', { name }).and(page.locator(`[data-id="${id}"]`));
    await open.click();
  }

  for (const [lang, viewport] of [
    ['en', { width: 1280, height: 800 }],
    ['it', { width: 390, height: 844 }],
  ] as const) {
    it(`extends, carries out, lifts and rejects (${lang}, ${viewport.width}×${viewport.height})`, async () => {
      const w = WORDS[lang];
      const { userId, email } = await seedSubject(f, `ra-${lang}-${randomBytes(3).toString('hex')}`);
      const rectification = await selfServiceRectification(email);
      assert.notEqual(rectification.status, 'completed', 'a rectification without values waits for staff');
      const context = await browser.newContext({ bypassCSP: true, viewport });
      const page = await context.newPage();
      try {
        await signIn(page, f, dpo, lang, '#/rights');
        await openRequest(page, w.open, rectification.id);
        await act(page, w.extend, w.extended, (form) => form.getByLabel(w.reason).fill(lang === 'it' ? 'Richiesta complessa' : 'A complex request'));
        await act(page, w.process, w.done, (form) => form.getByLabel(w.values).fill('firstName: Adeline'));
        assert.equal(await status(rectification.id), 'completed');
        const profile = await fetch(`${f.url}/api/v1/profiles/userId:${userId}?purpose=personalization`, { headers: admin });
        const read = (await profile.json()) as { traits: Record<string, unknown> };
        assert.equal(read.traits['firstName'], 'Adeline', `the corrected value is stored: ${JSON.stringify(read)}`);
        await assertNoOverflow(page, `rights actions ${lang}`);
        await assertNoViolations(page, `rights actions ${lang}`);
        await page.screenshot({ path: join(ARTEFACTS, `rights-actions-${lang}.png`), fullPage: true });
        // A restriction (carried out at once) is then lifted from the console.
        const restriction = await request('restriction', userId);
        assert.equal(restriction.status, 'completed');
        await page.reload();
        await openRequest(page, w.openRestriction, restriction.id);
        await act(page, w.lift, w.lifted, (form) => form.getByLabel(w.liftReason).fill(lang === 'it' ? 'Verifica conclusa' : 'Check finished'));
        assert.equal(await status(restriction.id), 'completed');
        // An erasure held by a legal hold stays open: the DPO rejects it.
        const held = await fetch(`${f.url}/api/v1/legal-holds/userId:${userId}`, { method: 'PUT', headers: admin, body: JSON.stringify({ reason: 'litigation' }) });
        assert.equal(held.status, 200, await held.text());
        const erasure = await request('erasure', userId);
        await page.reload();
        await openRequest(page, w.openErasure, erasure.id);
        await act(page, w.reject, w.rejected);
        assert.equal(await status(erasure.id), 'rejected');
        await assertNoViolations(page, `rights rejected ${lang}`);
      } finally {
        await context.close();
      }
    });
  }
});
