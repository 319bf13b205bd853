// The console's governance pages in Chromium: a breach recorded through the form with its 72-hour clock and its two
// documents in Italian and English, the data map of the record of processing, console users (an analyst created, an
// analyst's own password change) and the alerts page; Italian and English, desktop and phone, axe and overflow.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Locator, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { consoleUser, signIn } from './helpers/console.ts';
import { ADMIN_TOKEN, basicAuth, WRITE_KEY } from './helpers/harness.ts';
import { DEFAULT_CONFIG_PATH } from '../src/services/config/config-loader.ts';

// bypassCSP only lets the test inject axe-core; the console's own scripts are the same.
const VIEWPORTS = [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const;

const WORDS = {
  en: {
    natureLabel: /Confidentiality/,
    record: 'Record the breach',
    left: /\d+ h \d+ min left/,
    authorityDoc: /notification|Notification/,
    dataMap: 'Data map',
    advertising: 'Personalised advertising',
    usNetwork: 'US advertising network',
    us: 'United States',
    dpf: /Data Privacy Framework/,
    email: 'Email address',
    analyst: 'analyst',
    addUser: 'Add the user',
  },
  it: {
    natureLabel: /Riservatezza/,
    record: 'Registra la violazione',
    left: /mancano \d+ h \d+ min/,
    authorityDoc: /notifica|Notifica/,
    dataMap: 'Mappa dei dati',
    advertising: 'Pubblicità personalizzata',
    usNetwork: 'Rete pubblicitaria statunitense',
    us: 'Stati Uniti',
    dpf: /Data Privacy Framework/,
    email: 'Indirizzo email',
    analyst: 'analista',
    addUser: 'Aggiungi l’utente',
  },
} as const;

type Lang = keyof typeof WORDS;

const FACTS = {
  it: { description: 'Un backup del database è stato lasciato su un archivio pubblico per sei ore.', consequences: 'Possibile phishing mirato.', measures: 'Archivio chiuso e credenziali ruotate.' },
  en: { description: 'A database backup was left on a public bucket for six hours.', consequences: 'Possible targeted phishing.', measures: 'Bucket closed and credentials rotated.' },
};

async function check(page: Page, name: string, lang: Lang, vp: string): Promise<void> {
  await assertNoViolations(page, `${name} ${lang} ${vp}`);
  await assertNoOverflow(page, `${name} ${lang} ${vp}`);
  await page.screenshot({ path: join(ARTEFACTS, `${name}-${lang}-${vp}.png`), fullPage: true });
}

/** Clicks like a person who scrolls the control to the middle first (the shared status toast sits at the bottom). */
async function click(target: Locator): Promise<void> {
  await target.evaluate((e) => e.scrollIntoView({ block: 'center' }));
  await target.click();
}

async function go(page: Page, hash: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
  await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
}

async function recordBreach(page: Page, lang: Lang, vp: string, n: number): Promise<string> {
  const W = WORDS[lang];
  await page.getByLabel(W.natureLabel).check();
  for (const l of ['it', 'en'] as const) {
    await page.locator(`textarea[name="description.${l}"]`).fill(`${FACTS[l].description} (${vp})`);
    await page.locator(`textarea[name="consequences.${l}"]`).fill(FACTS[l].consequences);
    await page.locator(`textarea[name="measuresTaken.${l}"]`).fill(FACTS[l].measures);
  }
  await page.locator('input[name="categories"][value="user.contact.email"]').check();
  await page.locator('input[name="approxSubjects"]').fill(String(n));
  await page.locator('input[name="approxRecords"]').fill(String(n * 4));
  await page.locator('select[name="encryption"]').selectOption('keys_safe');
  await click(page.getByRole('button', { name: W.record }));
  await page.waitForURL(/#\/breaches\?id=/);
  await page.locator('main[aria-busy]').waitFor({ state: 'detached' });
  return new URL(page.url()).hash.split('id=')[1] ?? '';
}

/** Shows one document through its button; returns the text of the article shown. */
async function showDocument(page: Page, doc: 'notification' | 'subject-notice', l: Lang): Promise<string> {
  await click(page.locator(`button[data-doc="${doc}-${l}"]`));
  const article = page.locator(`article.breach-doc[lang="${l}"]`);
  await article.waitFor();
  return article.innerText();
}

/** The shipped configuration with a detection threshold of two people a minute, so that an alert is quick to raise. */
function lowThresholdConfig(): string {
  const path = join(mkdtempSync(join(tmpdir(), 'fiducia-console-gov-')), 'fiducia.yaml');
  const detection = ['detection:', '  windows:', '    - { seconds: 60, subjects: 2 }', '  suspend: [service, dpo]'].join('\n');
  writeFileSync(path, `${readFileSync(DEFAULT_CONFIG_PATH, 'utf8')}\n${detection}\n`);
  return path;
}

/** A service token that reads two profiles: exfiltration detection suspends it and writes the alert. */
async function raiseAlert(url: string): Promise<{ id: string }> {
  const api = (path: string, init: RequestInit = {}) =>
    fetch(`${url}${path}`, { ...init, headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}`, ...(init.headers as Record<string, string>) } });
  const batch = [0, 1, 2].map((i) => ({ type: 'identify', userId: `gov${i}`, messageId: `gov-${i}`, traits: { favoriteCategory: 'books' }, context: { consent: { categoryPreferences: { personalization: true } } } }));
  const ingested = await api('/v1/batch', { method: 'POST', headers: { authorization: basicAuth(WRITE_KEY) }, body: JSON.stringify({ batch }) });
  const ingestedText = await ingested.text();
  assert.equal(ingested.status, 200, ingestedText);
  const made = await api('/api/v1/tokens', { method: 'POST', body: JSON.stringify({ name: 'Recommendations service', role: 'service', purposes: ['personalization'] }) });
  const body = await made.text();
  assert.equal(made.status, 201, body);
  const token = JSON.parse(body) as { id: string; token: string };
  for (const i of [0, 1]) {
    const r = await fetch(`${url}/api/v1/profiles/userId:gov${i}?purpose=personalization`, { headers: { authorization: `Bearer ${token.token}` } });
    const text = await r.text();
    assert.equal(r.status, 200, text);
  }
  for (let tries = 0; tries < 50; tries++) {
    const list = (await (await api('/api/v1/tokens')).json()) as { tokens: { id: string; suspendedAt: string | null }[] };
    if (list.tokens.find((t) => t.id === token.id)?.suspendedAt) return token;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the token was not suspended');
}

describe('console governance pages (browser)', { skip: browserSkip() }, () => {
  let f: Awaited<ReturnType<typeof startListening>>;
  let browser: Browser;
  let admin: { username: string; password: string };
  let suspended: { id: string };

  before(async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    f = await startListening({ configPath: lowThresholdConfig() });
    browser = await launchBrowser();
    admin = await consoleUser(f, 'admin');
    suspended = await raiseAlert(f.url);
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  let run = 0;
  for (const lang of ['en', 'it'] as const) {
    for (const [vp, viewport] of VIEWPORTS) {
      it(`breaches, record of processing, users and alerts: ${lang}, ${vp}`, async () => {
        const W = WORDS[lang];
        const n = 120 + run++;
        const context = await browser.newContext({ bypassCSP: true, viewport });
        const page = await context.newPage();
        try {
          await signIn(page, f, admin, lang, '#/breaches');
          await page.locator('form.breach-form').waitFor();
          await check(page, 'breaches', lang, vp);

          // Recorded through the form: the detail shows the 72-hour clock running.
          const id = await recordBreach(page, lang, vp, n);
          assert.match(id, /^[0-9a-f-]{36}$/, `the breach's id is in the address: ${page.url()}`);
          assert.match(await page.locator('.breach-clock').first().innerText(), W.left, 'the clock shows the time left');
          await check(page, 'breach', lang, vp);

          // Both documents in both languages name the breach's facts.
          for (const l of ['it', 'en'] as const) {
            const authority = await showDocument(page, 'notification', l);
            assert.ok(authority.includes(FACTS[l].description), `the ${l} notification holds the description:\n${authority}`);
            assert.ok(authority.includes(String(n)) && authority.includes(String(n * 4)), `the ${l} notification holds the numbers:\n${authority}`);
            assert.ok(authority.includes(WORDS[l].email), `the ${l} notification names the category:\n${authority}`);
            assert.ok(authority.includes(FACTS[l].consequences) && authority.includes(FACTS[l].measures), `the ${l} notification holds consequences and measures:\n${authority}`);
            const notice = await showDocument(page, 'subject-notice', l);
            assert.ok(notice.includes(FACTS[l].description), `the ${l} subject notice holds the description:\n${notice}`);
            assert.ok(notice.includes(WORDS[l].email), `the ${l} subject notice names the category:\n${notice}`);
          }
          await check(page, 'breach-document', lang, vp);

          if (lang === 'en' && vp === 'desktop') {
            // The authority's notification recorded through the form stops the clock; the notice goes out after a confirmation.
            await page.locator('input[name="reference"]').fill('GPDP-2026-001');
            await click(page.getByRole('button', { name: 'Record the notification' }));
            await page.locator('.announce', { hasText: 'The notification to the authority is recorded.' }).waitFor();
            await page.locator('.breach-clock', { hasText: 'authority notified in time' }).waitFor();
            assert.ok((await page.locator('main').innerText()).includes('GPDP-2026-001'), 'the reference is shown');
            await click(page.getByRole('button', { name: 'Send…' }));
            await click(page.getByRole('button', { name: 'Yes, send the notice' }));
            await page.locator('.announce', { hasText: 'Notice sent to 0' }).waitFor();
            assert.ok((await page.locator('table', { hasText: 'authority notified' }).innerText()).includes('notice sent'), 'the history holds both steps');
          }

          // The register lists it with its clock.
          await go(page, '#/breaches');
          const row = page.locator('tbody tr', { hasText: `(${vp})` }).filter({ hasText: lang === 'it' ? FACTS.it.description.slice(0, 20) : FACTS.en.description.slice(0, 20) }).first();
          const notified = lang === 'en' && vp === 'desktop';
          assert.match(await row.locator('.breach-clock').innerText(), notified ? /authority notified in time/ : W.left, 'the list shows the clock');

          // The data map: a purpose's categories, recipients, countries and the transfer's basis.
          await go(page, '#/ropa');
          const purpose = page.locator('#data-map section.ropa-purpose', { has: page.getByRole('heading', { name: W.advertising, exact: true }) });
          await purpose.waitFor();
          const map = await purpose.innerText();
          assert.ok(map.includes(W.usNetwork) && map.includes(W.us), `the map names the recipient and its country:\n${map}`);
          assert.match(map, W.dpf, 'the transfer names its basis');
          assert.ok((await purpose.locator('.ropa-map > li').first().locator('li').count()) > 0, 'the purpose lists its data categories');
          assert.doesNotMatch(map, /\buser\.[a-z_.]+/, 'no raw category keys');
          await check(page, 'ropa', lang, vp);

          // Console users: an analyst is created.
          await go(page, '#/users');
          const analyst = `analyst-${lang}-${vp}@shop.example`;
          await page.locator('input[name="username"]:not([hidden])').fill(analyst);
          await page.locator('select[name="role"]').selectOption('analyst');
          await page.locator('form', { hasText: W.addUser }).locator('input[name="password"]').fill('an analyst password of length');
          await click(page.getByRole('button', { name: W.addUser }));
          const made = page.locator('tbody tr', { hasText: analyst });
          await made.waitFor();
          assert.ok((await made.innerText()).includes(W.analyst), 'the new user is an analyst');
          await check(page, 'users', lang, vp);

          await go(page, '#/alerts');
          await page.locator('table').first().waitFor();
          await check(page, 'alerts', lang, vp);
        } finally {
          await context.close();
        }
      });
    }
  }

  it('alerts: the alert names the token, lists the subjects it read, and the token is reinstated', async () => {
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    try {
      await signIn(page, f, admin, 'en', '#/alerts');
      const alert = page.locator('tbody tr', { hasText: 'Token “Recommendations service”' }).first();
      await alert.waitFor();
      const row = await alert.innerText();
      assert.match(row, /service/, row);
      assert.match(row, /suspended/, row);
      assert.match(row, /2 \/ 2/, `subjects read / threshold: ${row}`);
      await click(alert.getByRole('button', { name: /^Subjects read/ }));
      const read = page.getByRole('region', { name: 'Subjects read by Token “Recommendations service”' });
      await read.locator('tbody tr code').first().waitFor();
      assert.equal(await read.locator('tbody tr').count(), 2, 'the two people the token read');
      assert.match(await read.innerText(), /profile: 1/);
      await assertNoViolations(page, 'alerts with data');
      await page.screenshot({ path: join(ARTEFACTS, 'alerts-subjects-read-en-desktop.png'), fullPage: true });
      await click(page.getByRole('button', { name: 'Reinstate Token “Recommendations service”' }));
      await page.locator('.announce', { hasText: 'is active again' }).waitFor();
      await page.getByText('No token is suspended.').waitFor();
      const tokens = (await (await fetch(`${f.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).json()) as { tokens: { id: string; suspendedAt: string | null }[] };
      assert.equal(tokens.tokens.find((t) => t.id === suspended.id)?.suspendedAt, null, 'reinstated through the API');
    } finally {
      await context.close();
    }
  });

  it('alerts: a DPO who read too many people is suspended, listed with what they read, and reinstated', async () => {
    const dpo = await consoleUser(f, 'dpo');
    const login = await fetch(`${f.url}/api/v1/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(dpo) });
    assert.equal(login.status, 200, await login.text());
    const cookie = login.headers.getSetCookie().map((c) => c.split(';')[0]).join('; ');
    for (const i of [0, 1]) {
      const r = await fetch(`${f.url}/api/v1/profiles/userId:gov${i}?purpose=personalization`, { headers: { cookie } });
      assert.equal(r.status, 200, await r.text());
    }
    let status = 0;
    for (let tries = 0; tries < 50 && status !== 401; tries++) {
      status = (await fetch(`${f.url}/api/v1/console/me`, { headers: { cookie } })).status;
      if (status !== 401) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(status, 401, 'the suspension ended the DPO session');
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    try {
      await signIn(page, f, admin, 'en', '#/alerts');
      const users = page.getByRole('region', { name: 'Console users suspended by exfiltration detection' });
      const row = users.locator('tbody tr', { hasText: dpo.username });
      await row.waitFor();
      assert.match(await row.innerText(), /DPO/);
      assert.match(await row.innerText(), /exfiltration detection/);
      await click(row.getByRole('button', { name: /^Subjects read/ }));
      const read = page.getByRole('region', { name: `Subjects read by Console user ${dpo.username}` });
      await read.locator('tbody tr code').first().waitFor();
      assert.equal(await read.locator('tbody tr').count(), 2, 'the two people the DPO read');
      await assertNoOverflow(page, 'alerts, suspended user (phone)');
      await assertNoViolations(page, 'alerts, suspended user (phone)');
      await page.screenshot({ path: join(ARTEFACTS, 'alerts-suspended-user-en-phone.png'), fullPage: true });
      await click(row.getByRole('button', { name: `Reinstate Console user ${dpo.username}` }));
      await page.getByText('No console user is suspended.').waitFor();
      const again = await fetch(`${f.url}/api/v1/console/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(dpo) });
      assert.equal(again.status, 200, 'the reinstated DPO signs in again');
    } finally {
      await context.close();
    }
  });

  it('an analyst sees only their own password change, and changes it', async () => {
    const who = await consoleUser(f, 'analyst');
    const context = await browser.newContext({ bypassCSP: true, viewport: { width: 390, height: 844 } });
    const page = await context.newPage();
    try {
      await signIn(page, f, who, 'en', '#/users');
      await page.locator('input[name="currentPassword"]').waitFor();
      assert.equal(await page.locator('nav.menu a[href="#/breaches"]').count(), 0, 'no breach register for an analyst');
      assert.equal(await page.locator('input[name="role"], select[name="role"]').count(), 0, 'no user administration for an analyst');
      await page.locator('input[name="currentPassword"]').fill(who.password);
      await page.locator('input[name="newPassword"]').fill('a brand new analyst passphrase');
      await page.locator('input[name="repeat"]').fill('a brand new analyst passphrase');
      await click(page.getByRole('button', { name: 'Change my password' }));
      await page.locator('.announce', { hasText: 'Your password is changed' }).waitFor();
      await assertNoViolations(page, 'users analyst');
      await assertNoOverflow(page, 'users analyst');
      const login = await fetch(`${f.url}/api/v1/console/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: who.username, password: 'a brand new analyst passphrase' }),
      });
      assert.equal(login.status, 200, 'the new password signs in');
    } finally {
      await context.close();
    }
  });
});
