// The console's shell in Chromium: `/` leads to /console; the first admin is set up from the admin token through the
// form; a wrong password and a request without the CSRF token are refused; sign-in, the menu, keyboard navigation and
// sign-out work; axe finds nothing on the sign-in page and the shell, in Italian and English, on a phone and a desktop.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { ARTEFACTS, assertNoOverflow, assertNoViolations, browserSkip, launchBrowser, startListening } from './helpers/browser.ts';
import { CONSOLE_ADMIN, consoleUser, signIn } from './helpers/console.ts';
import { ADMIN_TOKEN } from './helpers/harness.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();
const PHONE = { width: 390, height: 844 };
const DESKTOP = { width: 1280, height: 800 };

/** WCAG contrast ratio of an element's text colour on its own background colour (both opaque rgb). */
async function contrast(page: Page, selector: string): Promise<number> {
  const [fg, bg] = await page.locator(selector).evaluate((e) => [getComputedStyle(e).color, getComputedStyle(e).backgroundColor]);
  const lum = (rgb: string) => {
    const [r, g, b] = (rgb.match(/[0-9.]+/g) ?? []).slice(0, 3).map((v) => {
      const c = Number(v) / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    }) as [number, number, number];
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const [a, b] = [lum(fg), lum(bg)].sort((x, y) => y - x) as [number, number];
  return (a + 0.05) / (b + 0.05);
}

describe('console shell in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;

  before(async () => {
    mkdirSync(ARTEFACTS, { recursive: true });
    f = await startListening();
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  async function open(viewport = DESKTOP): Promise<Page> {
    // bypassCSP only lets the test inject axe-core; the console's own scripts are the same.
    const context = await browser.newContext({ viewport, bypassCSP: true });
    return context.newPage();
  }

  it('leads from / to /console, where the first admin is set up with the admin token through the form', async () => {
    const page = await open();
    const res = await page.goto(`${f.url}/`);
    assert.equal(new URL(page.url()).pathname, '/console');
    assert.equal(res?.status(), 200);
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    await assertNoViolations(page, 'sign-in page (en)');
    await page.getByText('First start: create the first admin').click();
    const setup = page.getByRole('form', { name: 'First start: create the first admin' });
    await setup.getByLabel('Admin API token').fill('not-the-admin-token-000');
    await setup.getByLabel('User name or e-mail address').fill(CONSOLE_ADMIN.username);
    await setup.getByLabel('Password (at least 12 characters)').fill(CONSOLE_ADMIN.password);
    await setup.getByRole('button', { name: 'Create the admin and sign in' }).click();
    await page.getByRole('status').filter({ hasText: 'Wrong user name or password.' }).waitFor();
    await setup.getByLabel('Admin API token').fill(ADMIN_TOKEN);
    await setup.getByRole('button', { name: 'Create the admin and sign in' }).click();
    await page.getByRole('navigation', { name: 'Console sections' }).waitFor();
    await page.getByText(`Signed in as ${CONSOLE_ADMIN.username} (admin)`).waitFor();
    await page.context().close();
  });

  it('refuses a wrong password and then signs in, in Italian on a phone', async () => {
    await consoleUser(f);
    const page = await open(PHONE);
    await page.goto(`${f.url}/console?lang=it`);
    await page.getByRole('heading', { level: 1, name: 'Accedi' }).waitFor();
    await assertNoOverflow(page, 'sign-in (it, phone)');
    await assertNoViolations(page, 'sign-in (it, phone)');
    await page.screenshot({ path: join(ARTEFACTS, 'console-signin-it-phone.png'), fullPage: true });
    const login = page.getByRole('form', { name: 'Accedi' });
    await login.getByLabel('Nome utente o indirizzo e-mail').fill(CONSOLE_ADMIN.username);
    await login.getByLabel('Password').fill('not the password at all');
    await login.getByRole('button', { name: 'Accedi' }).click();
    await page.getByRole('status').filter({ hasText: 'Nome utente o password errati.' }).waitFor();
    assert.ok((await contrast(page, '.announce')) >= 4.5, 'the message is readable on its box (axe leaves fixed boxes out)');
    assert.equal(await page.getByRole('navigation', { name: 'Sezioni della console' }).count(), 0, 'no console after a wrong password');
    const me = await page.evaluate(async () => (await fetch('/api/v1/console/me')).status);
    assert.equal(me, 401, 'a wrong password starts no session');
    await login.getByLabel('Password').fill(CONSOLE_ADMIN.password);
    await login.getByRole('button', { name: 'Accedi' }).click();
    await page.getByRole('navigation', { name: 'Sezioni della console' }).waitFor();
    await page.getByRole('heading', { level: 1, name: 'Panoramica' }).waitFor();
    await assertNoOverflow(page, 'shell (it, phone)');
    await assertNoViolations(page, 'shell (it, phone)');
    await page.screenshot({ path: join(ARTEFACTS, 'console-shell-it-phone.png'), fullPage: true });
    // On a phone the menu folds behind a button; choosing a section folds it again.
    const nav = page.getByRole('navigation', { name: 'Sezioni della console' });
    assert.equal(await nav.getByRole('link', { name: 'Registro di audit' }).isVisible(), false, 'folded on a phone');
    await nav.getByRole('button', { name: 'Menu' }).click();
    assert.equal(await nav.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded'), 'true');
    await assertNoOverflow(page, 'menu open (it, phone)');
    await assertNoViolations(page, 'menu open (it, phone)');
    await page.screenshot({ path: join(ARTEFACTS, 'console-menu-it-phone.png'), fullPage: true });
    await nav.getByRole('link', { name: 'Registro di audit' }).click();
    await page.getByRole('heading', { level: 1, name: 'Registro di audit' }).waitFor();
    assert.equal(await nav.getByRole('button', { name: 'Menu' }).getAttribute('aria-expanded'), 'false');
    await page.context().close();
  });

  it('refuses a state-changing request without the CSRF token, and accepts it with the token', async () => {
    const page = await open();
    await signIn(page, f, CONSOLE_ADMIN);
    // No named functions inside evaluate: tsx would wrap them in a helper the page does not have.
    const [without, other, withToken] = await page.evaluate(async () => {
      const body = JSON.stringify({ name: 'csrf probe', role: 'analyst' });
      const me = (await (await fetch('/api/v1/console/me')).json()) as { csrfToken: string };
      const results: Response[] = [];
      const variants: Record<string, string>[] = [{}, { 'x-csrf-token': 'forged-token' }, { 'x-csrf-token': me.csrfToken }];
      for (const headers of variants) {
        results.push(await fetch('/api/v1/tokens', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body }));
      }
      const [a, b, c] = results as [Response, Response, Response];
      return [
        { status: a.status, body: (await a.json()) as { error?: { code: string } } },
        { status: b.status, body: (await b.json()) as { error?: { code: string } } },
        c.status,
      ];
    });
    assert.equal(without.status, 403);
    assert.equal(without.body.error?.code, 'FIDUCIA_CSRF');
    assert.equal(other.status, 403);
    assert.equal(other.body.error?.code, 'FIDUCIA_CSRF');
    assert.equal(withToken, 201, 'the same request with the session token passes');
    const tokens = await fetch(`${f.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    const names = ((await tokens.json()) as { tokens: { name: string }[] }).tokens.filter((t) => t.name === 'csrf probe');
    assert.equal(names.length, 1, 'only the request with the token created anything');
    await page.context().close();
  });

  it('is usable with the keyboard alone: skip link, menu, focus on the new page heading, sign out', async () => {
    const page = await open();
    await signIn(page, f, CONSOLE_ADMIN);
    await page.keyboard.press('Tab');
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Skip to content');
    await page.keyboard.press('Enter');
    assert.equal(await page.evaluate(() => document.activeElement?.tagName), 'H1');
    const menu = page.getByRole('navigation', { name: 'Console sections' });
    const links = await menu.getByRole('link').allTextContents();
    for (const name of ['Overview', 'Live debugger', 'Profiles', 'Rights requests', 'Audit log', 'Record of processing', 'Breaches', 'Alerts', 'Sources and write keys', 'API tokens']) {
      assert.ok(links.includes(name), `the admin menu has ${name}: ${links.join(', ')}`);
    }
    await menu.getByRole('link', { name: 'Audit log' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Audit log' }).waitFor();
    assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Audit log', 'focus moves to the new page heading');
    assert.equal(await menu.getByRole('link', { name: 'Audit log' }).getAttribute('aria-current'), 'page');
    assert.match(await page.title(), /^Audit log · Fiducia console$/);
    await assertNoViolations(page, 'shell (en, desktop)');
    await page.screenshot({ path: join(ARTEFACTS, 'console-shell-en-desktop.png'), fullPage: true });
    await page.getByRole('button', { name: 'Sign out' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
    assert.equal(await page.evaluate(async () => (await fetch('/api/v1/console/me')).status), 401, 'signed out: the session is gone');
    await page.context().close();
  });

  it('shows an analyst only the sections of their role, and a reloaded page keeps the session', async () => {
    const analyst = await consoleUser(f, 'analyst');
    const page = await open();
    await signIn(page, f, analyst, 'en', '#/debugger');
    await page.getByRole('heading', { level: 1, name: 'Live debugger' }).waitFor();
    const links = await page.getByRole('navigation', { name: 'Console sections' }).getByRole('link').allTextContents();
    assert.ok(links.includes('Overview'), links.join(', '));
    for (const hidden of ['API tokens', 'Sources and write keys', 'Breaches', 'Profiles']) assert.ok(!links.includes(hidden), `an analyst does not see ${hidden}`);
    await page.reload();
    await page.getByRole('heading', { level: 1, name: 'Live debugger' }).waitFor();
    await page.goto(`${f.url}/console#/nowhere`);
    await page.getByRole('heading', { level: 1, name: 'There is no such page.' }).waitFor();
    await page.context().close();
  });
});
