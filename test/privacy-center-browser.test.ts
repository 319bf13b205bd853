// The privacy center (/privacy) in Chromium: the configuration's purposes, the visitor's choices through the widget,
// and rights requests through the self-service intake (its contract intercepted, and end to end when the server has it).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { axeViolations, browserSkip, describeViolations, launchBrowser, startListening } from './helpers/browser.ts';
import { CaptureMailer } from './helpers/rights.ts';

type Fid = Awaited<ReturnType<typeof startListening>>;

const skip = browserSkip();

describe('privacy center in Chromium', { skip }, () => {
  let f: Fid;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  const mail = new CaptureMailer();

  before(async () => {
    f = await startListening({ mailer: mail });
    browser = await launchBrowser();
  });
  after(async () => {
    await browser?.close();
    await f?.stop();
  });

  let cspErrors: string[] = [];
  /** A fresh visitor on /privacy, the banner answered with "Reject all". The page's CSP is enforced unless axe must be injected. */
  async function open(lang: 'it' | 'en', bypassCSP = false): Promise<Page> {
    await context?.close();
    context = await browser.newContext({ bypassCSP });
    page = await context.newPage();
    cspErrors = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text());
    });
    await page.goto(`${f.url}/privacy?lang=${lang}`);
    await page.locator('fiducia-consent [role="dialog"]').waitFor();
    await page.locator('fiducia-consent').getByRole('button', { name: lang === 'en' ? 'Reject all' : 'Rifiuta tutto' }).click();
    await page.locator('#rights-title').waitFor();
    return page;
  }
  const pagesKey = async () => (await page.locator('script[data-write-key]').getAttribute('data-write-key')) ?? '';

  it('shows every purpose with its legal basis, data categories, retention and recipients; 0 axe violations', async () => {
    await open('en', true);
    assert.equal(await page.title(), 'Privacy center');
    const card = (name: string) => page.locator('section.card', { has: page.getByRole('heading', { name, exact: true }) });
    const analytics = (await card('Analytics').textContent()) ?? '';
    assert.match(analytics, /Consent \(Art\. 6\(1\)\(a\) GDPR\) — only if you agree/);
    assert.match(analytics, /about 13 months \(395 days\)/);
    assert.match(analytics, /Nobody outside us/);
    assert.doesNotMatch(analytics, /Campaign engagement/, 'campaign data is read only for marketing');
    assert.match((await card('Direct marketing').textContent()) ?? '', /Campaign engagement/);
    const ads = (await card('Personalised advertising').textContent()) ?? '';
    assert.match(ads, /US advertising network — independent third party, United States\. Transfer outside the European Economic Area: United States \(US\): recipient certified under the EU-US Data Privacy Framework, covered by an adequacy decision \(Art\. 45 GDPR\)/);
    assert.match(ads, /EU advertising network — independent third party, France(?!\. Transfer)/, 'no transfer inside the EEA');
    assert.doesNotMatch(ads, /data_privacy_framework/);
    assert.match(ads, /Global Privacy Control objects to it/);
    const service = (await card('Providing the service').textContent()) ?? '';
    assert.match(service, /Contract \(Art\. 6\(1\)\(b\) GDPR\)/);
    assert.match(service, /10 years \(3650 days\)/);
    assert.match(service, /Email address.*Phone number.*Postal address/);
    assert.match((await card('Security and fraud prevention').textContent()) ?? '', /Legitimate interests .* you may object/);
    assert.match((await page.locator('main').textContent()) ?? '', /Example Shop S\.r\.l\..*privacy@example-shop\.it.*dpo@example-shop\.it/);
    const violations = await axeViolations(page);
    assert.deepEqual(violations, [], describeViolations(violations));
  });

  it('changes the visitor’s choices through the widget, records them as preference_center and links the receipt', async () => {
    await open('en');
    const analytics = page.getByRole('switch', { name: 'Analytics' });
    assert.equal(await analytics.isChecked(), false, 'the banner’s "Reject all" shows here');
    await analytics.check();
    const posted = page.waitForRequest((r) => r.url().endsWith('/v1/consent') && r.method() === 'POST');
    await page.getByRole('button', { name: 'Save my choices' }).click();
    const body = (await posted).postDataJSON() as { method: string; purposes: Record<string, boolean> };
    assert.equal(body.method, 'preference_center');
    assert.deepEqual(body.purposes, { analytics: true, personalization: false, marketing: false, advertising: false });
    assert.equal(await page.getByRole('status').first().textContent(), 'Your choices are saved.');
    assert.equal((await page.evaluate(() => window.fiducia!.get())).analytics, true);
    const link = page.locator('a[href^="v1/consent/receipt/"]');
    await link.waitFor();
    const receipt = (await (await fetch(`${f.url}/${await link.getAttribute('href')}`)).json()) as { choices: { purpose: string; status: string; method: string }[] };
    assert.deepEqual(receipt.choices.find((c) => c.purpose === 'analytics'), { purpose: 'analytics', status: 'granted', method: 'preference_center' });
    // The widget's own preferences agree with the page.
    await page.evaluate(() => window.fiducia!.open());
    assert.equal(await page.locator('fiducia-consent').getByRole('switch', { name: 'Analytics' }).isChecked(), true);
    assert.deepEqual(cspErrors, [], 'the page and the widget work under the strict CSP');
  });

  it('posts access/export/erasure requests to the self-service intake and walks through the e-mailed code', async () => {
    await open('en');
    const key = await pagesKey();
    assert.match(key, /^wkb_/, 'the page carries a browser key');
    const intake: { body: unknown; auth: string | undefined }[] = [];
    await page.route('**/v1/rights-requests', async (route: Route) => {
      intake.push({ body: route.request().postDataJSON(), auth: route.request().headers().authorization });
      await route.fulfill({ status: 202, contentType: 'application/json', body: JSON.stringify({ id: 'rr_1', status: 'awaiting_verification' }) });
    });
    const answers = [
      { status: 400, body: { error: { code: 'FIDUCIA_VERIFICATION_FAILED', message: 'wrong code' } } },
      { status: 429, body: { error: { code: 'FIDUCIA_RATE_LIMITED', message: 'too many requests' } } },
      { status: 200, body: { id: 'rr_1', status: 'verified' } },
    ];
    const codes: unknown[] = [];
    await page.route('**/v1/rights-requests/rr_1/verify', async (route: Route) => {
      codes.push(route.request().postDataJSON());
      const a = answers.shift()!;
      await route.fulfill({ status: a.status, contentType: 'application/json', body: JSON.stringify(a.body) });
    });
    const options = await page.locator('#request-type option').evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value));
    assert.deepEqual(options.slice(0, 3), ['access', 'portability', 'erasure']);

    await page.getByLabel('Your e-mail address').fill('ada@example.com');
    await page.getByLabel('What would you like?').selectOption('erasure');
    await page.getByLabel('Details (optional)').fill('Please delete my account too.');
    await page.getByRole('button', { name: 'Send request' }).click();
    await page.getByLabel('Code from the e-mail').waitFor();
    assert.deepEqual(intake, [{ body: { email: 'ada@example.com', type: 'erasure', language: 'en', details: 'Please delete my account too.' }, auth: `Basic ${Buffer.from(`${key}:`).toString('base64')}` }]);
    const status = page.locator('#request-status');
    assert.match((await status.textContent()) ?? '', /e-mailed you a code/);
    assert.equal(await page.evaluate(() => document.activeElement?.id), 'request-code', 'focus moves to the code');

    const confirm = page.getByRole('button', { name: 'Confirm request' });
    await page.getByLabel('Code from the e-mail').fill('111111');
    await confirm.click();
    await page.waitForFunction(() => /not valid/.test(document.getElementById('request-status')?.textContent ?? ''));
    await page.getByLabel('Code from the e-mail').fill('222222');
    await confirm.click();
    await page.waitForFunction(() => /Too many attempts/.test(document.getElementById('request-status')?.textContent ?? ''));
    await page.getByLabel('Code from the e-mail').fill(' 333333 ');
    await confirm.click();
    await page.waitForFunction(() => /Confirmed/.test(document.getElementById('request-status')?.textContent ?? ''));
    assert.match((await status.textContent()) ?? '', /reference rr_1\) is confirmed; we will answer by e-mail within one month/, 'the status in words');
    assert.deepEqual(codes, [{ code: '111111' }, { code: '222222' }, { code: '333333' }]);
    assert.equal(await page.locator('#code-form').isVisible(), false);
  });

  it('speaks Italian', async () => {
    await open('it');
    assert.equal(await page.title(), 'Centro privacy');
    assert.equal(await page.getByRole('heading', { name: 'I tuoi diritti' }).count(), 1);
    assert.equal(await page.getByLabel('Che cosa desideri?').locator('option[value="portability"]').textContent(), 'Esportare i miei dati in un file leggibile da una macchina (portabilità)');
    const service = (await page.locator('section.card').first().textContent()) ?? '';
    assert.match(service, /Contratto \(art\. 6\(1\)\(b\) GDPR\).*10 anni \(3650 giorni\)/);
    assert.match(service, /Fornitore dei servizi di pagamento — responsabile che agisce per nostro conto, Irlanda/, 'recipients by their Italian label, countries by name');
  });

  it('end to end with the real intake', async () => {
    await open('en');
    const answered = page.waitForResponse((r) => r.url().endsWith('/v1/rights-requests') && r.request().method() === 'POST');
    await page.getByLabel('Your e-mail address').fill('grace@example.com');
    await page.getByLabel('What would you like?').selectOption('portability');
    await page.getByRole('button', { name: 'Send request' }).click();
    assert.equal((await answered).status(), 202);
    const status = page.locator('#request-status');
    await page.getByLabel('Code from the e-mail').waitFor();

    // A wrong code: the real 400 FIDUCIA_VERIFICATION_FAILED, shown as such.
    await page.getByLabel('Code from the e-mail').fill('000000');
    const refused = page.waitForResponse((r) => r.url().includes('/verify'));
    await page.getByRole('button', { name: 'Confirm request' }).click();
    assert.equal((await refused).status(), 400);
    await page.waitForFunction(() => /not valid/.test(document.getElementById('request-status')?.textContent ?? ''));

    // The code from the e-mail confirms the request.
    await page.getByLabel('Code from the e-mail').fill(mail.codeFor('grace@example.com'));
    const accepted = page.waitForResponse((r) => r.url().includes('/verify'));
    await page.getByRole('button', { name: 'Confirm request' }).click();
    const ok = await accepted;
    assert.equal(ok.status(), 200);
    const { id, download } = (await ok.json()) as { id: string; download?: { token: string } };
    await page.waitForFunction(() => /Confirmed/.test(document.getElementById('request-status')?.textContent ?? ''));
    // Completed: said in words, with nothing about answering later, and the files of the export offered on the page.
    const said = (await status.textContent()) ?? '';
    assert.match(said, new RegExp(`Your request \\(reference ${id}\\) is completed\\. Your data is ready`));
    assert.doesNotMatch(said, /within one month/);
    const files = await page.locator('#request-files a').evaluateAll((as) => as.map((a) => [a.textContent, a.getAttribute('href')]));
    assert.deepEqual(files, [
      ['Download my data (JSON)', `v1/rights-requests/${id}/download?token=${download?.token}&format=json`],
      ['Download my data (CSV, for spreadsheets)', `v1/rights-requests/${id}/download?token=${download?.token}&format=csv`],
    ]);
    const csv = await page.request.get(`${f.url}/${files[1]![1]}`);
    assert.equal(csv.status(), 200);
    assert.match(csv.headers()['content-type'] ?? '', /^text\/csv/);
  });
});
