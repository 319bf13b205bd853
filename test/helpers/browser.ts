// Browser-test helpers: Debian's Chromium through playwright-core, a listening Fiducia, a shop on another origin, axe-core.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { FiduciaOptions } from '../../src/app.ts';
// The widget's globals (window.fiducia, dataLayer, navigator.globalPrivacyControl) for code evaluated in the page.
import type {} from '../../web/globals.d.ts';
import { startFiducia } from './harness.ts';

export const CHROMIUM = process.env.FIDUCIA_CHROMIUM ?? '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

/** `false` when the browser tests can run; otherwise why they are skipped (`FIDUCIA_REQUIRE_BROWSER=1` makes it a failure). */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  const msg = `${CHROMIUM} is missing (apt-get install -y chromium): the browser tests are skipped`;
  if (process.env.FIDUCIA_REQUIRE_BROWSER === '1') throw new Error(msg);
  process.stderr.write(`# ${msg}\n`);
  return msg;
}

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ARGS });
}

/** A Fiducia on SQLite listening on 127.0.0.1, with the demo shop on. */
export async function startListening(extra: Partial<FiduciaOptions> = {}) {
  const f = await startFiducia('sqlite', { demo: true, ...extra });
  await f.app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = f.app.server.address() as AddressInfo;
  return Object.assign(f, { url: `http://127.0.0.1:${port}` });
}

/** A "shop" on its own origin (another port), serving whatever HTML (or, under a `.js` path, script) the test puts under a path. */
export async function startShop(): Promise<{ url: string; pages: Map<string, string>; close(): Promise<void> }> {
  const pages = new Map<string, string>();
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    const html = pages.get(path);
    const type = path.endsWith('.js') ? 'text/javascript; charset=utf-8' : 'text/html; charset=utf-8';
    res.writeHead(html === undefined ? 404 : 200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(html ?? 'not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    pages,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; failureSummary?: string }[];
}

/** axe-core with the WCAG 2.0/2.1/2.2 A and AA rules; open shadow roots (the widget) are included. */
export async function axeViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.addScriptTag({ content: axeSource });
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, opts: object): Promise<{ violations: AxeViolation[] }> } }).axe;
    const r = await axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa'] }, resultTypes: ['violations'] });
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => ({ target: n.target, failureSummary: n.failureSummary })) }));
  });
}

/** A readable message for a failed accessibility assertion. */
export function describeViolations(v: AxeViolation[]): string {
  return v.map((x) => `${x.id} (${x.impact}): ${x.help}\n  ${x.nodes.map((n) => `${JSON.stringify(n.target)} ${n.failureSummary ?? ''}`).join('\n  ')}`).join('\n');
}

/** Screenshots for a person to look at (not compared): .tmp/screenshots/ unless FIDUCIA_TEST_ARTEFACTS names a folder. */
export const ARTEFACTS = process.env.FIDUCIA_TEST_ARTEFACTS ?? fileURLToPath(new URL('../../.tmp/screenshots/', import.meta.url));

/** Nothing wider than the viewport: the page does not scroll sideways; the message names the elements that stick out. */
export async function assertNoOverflow(page: Page, when: string): Promise<void> {
  const [scroll, inner, wide] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    innerWidth,
    [...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > innerWidth + 0.5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`),
  ] as const);
  assert.ok(scroll <= inner, `${when}: the page is ${scroll}px wide in a ${inner}px viewport; too wide: ${wide.join(', ')}`);
}

/** axe-core finds nothing (WCAG 2.x A and AA). */
export async function assertNoViolations(page: Page, when: string): Promise<void> {
  const v = await axeViolations(page);
  assert.equal(v.length, 0, `${when}:\n${describeViolations(v)}`);
}
