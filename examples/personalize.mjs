// A shop page server asking Fiducia for a visitor's personalization profile and adapting what it shows.
// Plain Node 20 (global fetch), no dependencies. See docs/personalization.md.
//
//   FIDUCIA_URL=http://127.0.0.1:8787 FIDUCIA_TOKEN=<service token bound to personalization> \
//     node examples/personalize.mjs userId:u-123
//
//   # Or the whole story against a local Fiducia: creates the service token, a visitor who consents, browses,
//   # then withdraws — and renders the page after each step.
//   FIDUCIA_URL=http://127.0.0.1:8787 FIDUCIA_ADMIN_TOKEN=<admin token> FIDUCIA_WRITE_KEY=<server write key> \
//     node examples/personalize.mjs --demo

const BASE = process.env.FIDUCIA_URL ?? 'http://127.0.0.1:8787';
/** The page must not wait on the CDP: past this, it renders the default page. */
const BUDGET_MS = 300;

const DEFAULT_PAGE = { greeting: 'Welcome!', featuredCategory: 'new-arrivals', newsletterBox: true, note: 'default page' };

/**
 * Reads the visitor's profile for the `personalization` purpose. Returns null when there is nothing to use: unknown
 * visitor (404), Fiducia slow or down. Throws on a misconfigured token (401/403): that is a bug to fix, not a visitor.
 */
export async function fetchProfile(identity, { base = BASE, token = process.env.FIDUCIA_TOKEN, budgetMs = BUDGET_MS } = {}) {
  const url = `${base}/api/v1/profiles/${encodeURIComponent(identity)}?purpose=personalization`;
  let res;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(budgetMs) });
  } catch {
    return null; // timeout or network error: render the default page
  }
  if (res.status === 404) return null;
  if (!res.ok) {
    const { error } = await res.json().catch(() => ({ error: { code: `HTTP ${res.status}` } }));
    throw new Error(`Fiducia refused the read: ${error.code} — ${error.message ?? ''}`);
  }
  return res.json();
}

/**
 * What the page shows, from what personalization may see. Everything else is absent from `traits` and listed in
 * `withheld` with a reason; the page never needs to know why, only to fall back.
 */
export function personalize(profile) {
  if (!profile) return DEFAULT_PAGE;
  const { traits, computed, segments, withheld } = profile;
  const page = { ...DEFAULT_PAGE, note: 'personalized' };
  if (typeof traits.firstName === 'string') page.greeting = `Welcome back, ${traits.firstName}!`;
  // What they browse most beats what they once told us; both beat the default.
  const featured = computed?.top_viewed_category ?? computed?.last_viewed_category ?? traits.favoriteCategory;
  if (typeof featured === 'string') page.featuredCategory = featured;
  if (segments.includes('big_spenders')) page.banner = 'Free express shipping on your next order';
  else if (segments.includes('engaged_browsers')) page.banner = 'Still looking? Here is what is trending';
  // Someone who already said yes to the newsletter does not need the sign-up box.
  if (traits.newsletter === true) page.newsletterBox = false;
  if (Object.keys(traits).length === 0 && withheld.length > 0) page.note = `nothing to personalize (${[...new Set(withheld.map((w) => w.reason))].join(', ')})`;
  return page;
}

/** Profile values are user input: escape them like any other. */
const esc = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

export function render(page) {
  return [
    `<h1>${esc(page.greeting)}</h1>`,
    `<section data-category="${esc(page.featuredCategory)}">Featured: ${esc(page.featuredCategory)}</section>`,
    page.banner ? `<aside>${esc(page.banner)}</aside>` : '',
    page.newsletterBox ? '<form>Subscribe to our newsletter</form>' : '',
    `<!-- ${esc(page.note)} -->`,
  ]
    .filter(Boolean)
    .join('\n');
}

// ---- the --demo story ----------------------------------------------------------------------------

async function call(method, path, { body, bearer, writeKey } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (bearer) headers.authorization = `Bearer ${bearer}`;
  if (writeKey) headers.authorization = `Basic ${Buffer.from(`${writeKey}:`).toString('base64')}`;
  const res = await fetch(`${BASE}${path}`, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  const json = res.status === 204 ? null : await res.json();
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json)}`);
  return json;
}

async function demo() {
  const admin = process.env.FIDUCIA_ADMIN_TOKEN;
  const writeKey = process.env.FIDUCIA_WRITE_KEY;
  if (!admin || !writeKey) throw new Error('--demo needs FIDUCIA_ADMIN_TOKEN and FIDUCIA_WRITE_KEY');
  // 1. A service token that may act for personalization only (shown once; keep it in the shop's secrets).
  const { token } = await call('POST', '/api/v1/tokens', { bearer: admin, body: { name: 'shop page server (example)', role: 'service', purposes: ['personalization'] } });
  const userId = `demo-${Date.now().toString(36)}`;
  const show = async (step) => {
    const profile = await fetchProfile(`userId:${userId}`, { token, budgetMs: 5000 });
    console.log(`\n--- ${step}`);
    if (profile) console.log(`traits: ${JSON.stringify(profile.traits)}\ncomputed: ${JSON.stringify(profile.computed)}\nsegments: ${JSON.stringify(profile.segments)}\nwithheld: ${profile.withheld.map((w) => `${w.field} (${w.reason})`).join(', ') || 'none'}; outside the purpose: ${profile.withheldOutsidePurpose ?? 0}`);
    console.log(render(personalize(profile)));
  };
  await show('an unknown visitor');
  // 2. (Sent with the server key: it may name the userId. A browser would add the userId's userHash, docs/security.md.)
  //    The visitor accepts personalization in the consent banner, signs up and browses (what the shop's SDK sends).
  await call('POST', '/v1/consent', { writeKey, body: { userId, purposes: { personalization: true, marketing: false }, noticeVersion: '2026-11' } });
  await call('POST', '/v1/identify', { writeKey, body: { userId, traits: { firstName: 'Giulia', email: `${userId}@example.com`, favoriteCategory: 'coats', newsletter: true } } });
  const viewed = (category) => ({ type: 'track', userId, event: 'Product Viewed', properties: { product_id: `p-${category}`, category } });
  await call('POST', '/v1/batch', { writeKey, body: { batch: [viewed('shoes'), viewed('bags'), viewed('shoes')] } });
  await show('after consent, sign-up and three product views');
  // 3. The visitor withdraws personalization in the privacy center: the next read has nothing to personalize with.
  await call('POST', '/v1/consent', { writeKey, body: { userId, purposes: { personalization: false }, noticeVersion: '2026-11' } });
  await show('after withdrawing personalization');
}

const isMain = process.argv[1] && import.meta.url === new URL(`file://${process.argv[1]}`).href;
if (isMain) {
  const arg = process.argv[2];
  const run = arg === '--demo' ? demo() : arg ? fetchProfile(arg).then((p) => console.log(render(personalize(p)))) : Promise.reject(new Error('usage: node examples/personalize.mjs <identity> | --demo'));
  run.catch((err) => {
    console.error(err.message);
    process.exit(1);
  });
}
