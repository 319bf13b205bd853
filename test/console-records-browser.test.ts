// The console's Profiles, Rights requests and Audit log pages in real Chromium, signed in as a DPO, in English and
// Italian, on a desktop and a phone: one person looked up for a purpose (a trait shown, a field withheld with its
// reason), a staff access request carried out with its package downloadable, the profile read found in the audit log
// and the log verified with its signed checkpoint; axe-core 0 violations and nothing off-screen on every page.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { consoleUser, signIn } from './helpers/console.ts';
import { basicAuth } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();

const VIEWPORTS = [
  { name: 'desktop', width: 1280, height: 800, isMobile: false, hasTouch: false },
  { name: 'phone', width: 390, height: 844, isMobile: true, hasTouch: true },
] as const;

interface Words {
  traits: string;
  events: string;
  showEvents: string;
  withheld: string;
  refused: string;
  notFound: string;
  completed: string;
  access: string;
  create: string;
  intact: string;
  search: string;
  verify: string;
}

const WORDS: Record<'en' | 'it', Words> = {
  en: {
    traits: 'Data this purpose may see',
    events: 'Events for this purpose',
    showEvents: 'Show events',
    withheld: 'Withheld data',
    refused: 'the person refused consent for this purpose',
    notFound: 'No profile has this identifier',
    completed: 'completed',
    access: 'Access (Art. 15)',
    create: 'New request',
    intact: 'The log is intact.',
    search: 'Search',
    verify: 'Verify',
  },
  it: {
    traits: 'Dati che questa finalità può vedere',
    events: 'Eventi per questa finalità',
    showEvents: 'Mostra gli eventi',
    withheld: 'Dati non mostrati',
    refused: 'la persona ha negato il consenso per questa finalità',
    notFound: 'Nessun profilo ha questo identificativo',
    completed: 'eseguita',
    access: 'Accesso (art. 15)',
    create: 'Nuova richiesta',
    intact: 'Il registro è integro.',
    search: 'Cerca',
    verify: 'Verifica',
  },
};

async function post(f: Fid, path: string, body: object): Promise<void> {
  const r = await fetch(`${f.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: basicAuth() }, body: JSON.stringify(body) });
  assert.equal(r.status, 200, `${path}: ${await r.text()}`);
}

async function check(page: Page, name: string, lang: string, vp: string): Promise<void> {
  await assertNoOverflow(page, `${name} ${lang} ${vp}`);
  await assertNoViolations(page, `${name} ${lang} ${vp}`);
  await page.screenshot({ path: `${ARTEFACTS}/${name}-${lang}-${vp}.png`, fullPage: true });
}

/** Follows the menu's link to a section, unfolding the menu first on a phone. */
async function go(page: Page, id: string): Promise<void> {
  const toggle = page.locator('nav.menu button.menu-toggle');
  if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await page.locator(`nav.menu a[href="#/${id}"]`).click();
}

describe('console: profiles, rights requests, audit log in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let dpo: { username: string; password: string };
  const userId = `cust-${randomBytes(4).toString('hex')}`;

  before(async () => {
    f = await startListening();
    browser = await launchBrowser();
    mkdirSync(ARTEFACTS, { recursive: true });
    // Personalization granted, marketing refused: a personalization read shows the first name, a marketing read withholds it.
    await post(f, '/v1/consent', { userId, purposes: { personalization: true, marketing: false }, noticeVersion: '2026-11' });
    await post(f, '/v1/identify', { userId, traits: { firstName: 'Ada', email: `${userId}@example.com` } });
    dpo = await consoleUser(f, 'dpo');
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  async function profiles(page: Page, w: Words): Promise<void> {
    const form = page.locator('form').first();
    await form.locator('select[name="kind"]').selectOption('userId');
    await form.locator('input[name="value"]').fill('nobody-at-all');
    await form.locator('button[type="submit"]').click();
    await page.locator('main p.error', { hasText: w.notFound }).waitFor();
    await form.locator('input[name="value"]').fill(userId);
    await form.locator('select[name="purpose"]').selectOption('personalization');
    await form.locator('button[type="submit"]').click();
    const traits = page.locator('table', { has: page.locator('caption', { hasText: w.traits }) });
    await traits.locator('td', { hasText: 'Ada' }).waitFor();
    assert.match(await traits.innerText(), /firstName/, 'the trait is named');
    const show = page.getByRole('button', { name: w.showEvents });
    // The shell's announcement sits fixed at the bottom of a phone's screen: scroll the button clear of it, as a person would.
    await show.evaluate((el) => el.scrollIntoView({ block: 'center' }));
    await show.click();
    await page.locator('table caption', { hasText: w.events }).waitFor();
    await form.locator('select[name="purpose"]').selectOption('marketing');
    await form.locator('button[type="submit"]').click();
    const withheld = page.locator('table', { has: page.locator('caption', { hasText: w.withheld }) });
    await withheld.locator('td', { hasText: w.refused }).first().waitFor();
    const text = await withheld.innerText();
    assert.match(text, /firstName/, 'the withheld field is named');
    assert.match(text, /consent_denied/, 'with its code');
    assert.ok(!page.url().includes(userId), `the identity stays out of the address: ${page.url()}`);
    assert.match(page.url(), /#\/profiles\?purpose=marketing$/, 'the purpose may be in it');
    assert.doesNotMatch(await page.locator('main').innerText(), new RegExp(`${userId}@example\\.com`), 'nothing withheld is shown');
  }

  async function rights(page: Page, w: Words): Promise<void> {
    const create = page.locator('form', { has: page.locator('select[name="language"]') });
    await create.locator('select[name="type"]').selectOption('access');
    await create.locator('select[name="kind"]').selectOption('userId');
    await create.locator('input[name="value"]').fill(userId);
    await create.locator('button[type="submit"]').click();
    const detail = page.locator('section.rights-request');
    await detail.locator('dd', { hasText: w.completed }).first().waitFor();
    assert.match(await detail.innerText(), new RegExp(w.access.replace(/[()]/g, '\\$&')), 'the type in words');
    // A staff request is verified and carried out when it is created; its package is then downloadable.
    const links = detail.locator('a.download');
    assert.equal(await links.count(), 2, 'JSON and HTML');
    for (let i = 0; i < 2; i++) {
      const href = (await links.nth(i).getAttribute('href')) ?? '';
      const res = await page.request.get(`${f.url}${href}`);
      assert.equal(res.status(), 200, `${href}: ${res.status()}`);
      assert.match(await res.text(), /Ada/, 'the package holds the person’s data');
    }
    const row = page.locator('table tbody tr', { has: page.locator(`button[data-id]`) }).first();
    assert.match(await row.innerText(), new RegExp(w.completed), 'the queue row says completed');
    assert.ok(!page.url().includes(userId), 'the identity stays out of the address');
  }

  async function audit(page: Page, w: Words): Promise<void> {
    const filters = page.locator('form', { has: page.locator('input[name="action"]') });
    await filters.locator('input[name="action"]').fill('profile.read');
    await filters.locator('button[type="submit"]').click();
    await page.locator('table tbody td code', { hasText: 'profile.read' }).first().waitFor();
    assert.match(page.url(), /action=profile\.read/);
    await page.getByRole('button', { name: w.verify, exact: true }).click();
    const result = page.locator('.verify-result');
    await result.locator('p.verdict', { hasText: w.intact }).waitFor();
    const text = await result.innerText();
    assert.match(text, /fiducia\/audit\/[0-9a-f]{16}/, 'the checkpoint origin');
    assert.match(text, /verify-checkpoint\.mjs checkpoint\.txt [A-Za-z0-9+/=]{44}/, 'how to check it, with the public key');
    assert.match(await result.locator('pre.note').innerText(), /^fiducia\/audit\/[0-9a-f]{16}\n\d+\n/, 'the signed note');
  }

  for (const lang of ['en', 'it'] as const) {
    for (const vp of VIEWPORTS) {
      it(`${lang}, ${vp.name} ${vp.width}×${vp.height}: looks up a profile, carries out an access request, verifies the audit log`, async () => {
        const context = await browser.newContext({ bypassCSP: true, viewport: { width: vp.width, height: vp.height }, isMobile: vp.isMobile, hasTouch: vp.hasTouch });
        try {
          const page = await context.newPage();
          const w = WORDS[lang];
          await signIn(page, f, dpo, lang, '#/profiles');
          await page.locator('select[name="purpose"]').waitFor();
          await check(page, 'profiles-empty', lang, vp.name);
          await profiles(page, w);
          await check(page, 'profiles', lang, vp.name);
          await go(page, 'rights');
          await page.getByRole('heading', { name: w.create }).waitFor();
          await rights(page, w);
          await check(page, 'rights', lang, vp.name);
          await go(page, 'audit');
          await page.getByRole('button', { name: w.search }).waitFor();
          await audit(page, w);
          await check(page, 'audit', lang, vp.name);
        } finally {
          await context.close();
        }
      });
    }
  }
});
