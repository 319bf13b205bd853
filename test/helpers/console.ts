// Console browser-test helpers: console users made through the API, and signing in through the real sign-in form.
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { ADMIN_TOKEN } from './harness.ts';

export const CONSOLE_ADMIN = { username: 'admin@shop.example', password: 'correct horse battery staple' };

interface Listening {
  url: string;
}

/** Creates the first admin (POST /api/v1/console/setup) and, for other roles, a user of that role; returns its credentials. */
export async function consoleUser(f: Listening, role: 'admin' | 'dpo' | 'analyst' = 'admin'): Promise<{ username: string; password: string }> {
  const setup = await fetch(`${f.url}/api/v1/console/setup`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ bootstrapToken: ADMIN_TOKEN, ...CONSOLE_ADMIN }),
  });
  assert.ok(setup.status === 201 || setup.status === 409, `setup: ${setup.status} ${await setup.text()}`);
  if (role === 'admin') return CONSOLE_ADMIN;
  const user = { username: `${role}@shop.example`, password: `${role} password long enough` };
  const made = await fetch(`${f.url}/api/v1/console/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_TOKEN}` },
    body: JSON.stringify({ ...user, role }),
  });
  assert.ok(made.status === 201 || made.status === 409, `user: ${made.status} ${await made.text()}`);
  return user;
}

/** Opens /console (in `lang`) and signs in through the form; resolves once the menu is shown. */
export async function signIn(page: Page, f: Listening, who: { username: string; password: string }, lang: 'en' | 'it' = 'en', hash = ''): Promise<void> {
  await page.goto(`${f.url}/console?lang=${lang}${hash}`);
  await page.locator('input[name="username"]').first().fill(who.username);
  await page.locator('input[name="password"]').first().fill(who.password);
  await page.locator('form').first().locator('button[type="submit"]').click();
  await page.locator('nav.menu').waitFor();
}

/** Follows a link of the console's menu, opening the menu first where it is folded (a phone). */
export async function openSection(page: Page, name: string): Promise<void> {
  const nav = page.locator('nav.menu');
  const toggle = nav.locator('button.menu-toggle');
  if ((await toggle.isVisible()) && (await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click();
  await nav.getByRole('link', { name, exact: true }).click();
}
