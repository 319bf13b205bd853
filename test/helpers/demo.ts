// Demo-shop test helper: turning personalisation on the way a visitor does, whether the banner asked for it or not.
import type { Page } from 'playwright-core';
import type {} from '../../web/globals.d.ts';

/**
 * Makes sure personalisation is allowed. With a widget that leaves it out of the banner (`data-in-context`), the visitor
 * uses "Recommend for me", the widget asks in context, and `onPrompt` runs while the question is on screen before
 * "Allow"; with a widget that asked in the banner, an "Accept all" already allowed it. Answers which of the two happened.
 */
export async function allowPersonalization(page: Page, lang: 'it' | 'en', onPrompt?: () => Promise<void>): Promise<'banner' | 'in_context'> {
  if (await page.evaluate(() => window.fiducia?.get().personalization === true)) return 'banner';
  await page.locator('#recommend-button').click();
  const allow = page.locator('fiducia-consent').getByRole('button', { name: lang === 'it' ? 'Consenti' : 'Allow', exact: true });
  await allow.waitFor();
  await onPrompt?.();
  await allow.click();
  await page.waitForFunction(() => window.fiducia?.get().personalization === true);
  return 'in_context';
}
