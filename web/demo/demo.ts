// The demo shop (/demo): banner → events → profile → personalisation, all through Fiducia's public API.
import type { Choices } from '../globals.d.ts';
import { h } from '../shared/dom.ts';
import { MiniAnalytics, type LogEntry } from './analytics.ts';
import { CATEGORIES, IT, SHOWN_PURPOSES, categoryName, loadPurposeNames, purposeName, t } from './i18n.ts';
import { OWN_PURPOSE, profilePanel, readProfile } from './profile.ts';
import { VisitorCredential } from './visitor.ts';
import { recommendations } from './recommendations.ts';

type Product = { id: string; name: string; nameIt: string; category: string; price: number; pic: string };
const PRODUCTS: Product[] = [
  { id: 'p1', name: 'Trail runners', nameIt: 'Scarpe da trail', category: 'shoes', price: 89, pic: '👟' },
  { id: 'p2', name: 'Leather loafers', nameIt: 'Mocassini in pelle', category: 'shoes', price: 120, pic: '👞' },
  { id: 'p3', name: 'Canvas tote', nameIt: 'Borsa in tela', category: 'bags', price: 35, pic: '👜' },
  { id: 'p4', name: 'Two-person tent', nameIt: 'Tenda per due', category: 'outdoor', price: 199, pic: '⛺' },
  { id: 'p5', name: 'Hiking backpack', nameIt: 'Zaino da escursione', category: 'outdoor', price: 75, pic: '🎒' },
  { id: 'p6', name: 'Italian cookbook', nameIt: 'Ricettario italiano', category: 'books', price: 28, pic: '📚' },
];
const productName = (p: Product) => (IT ? p.nameIt : p.name);
const writeKey = document.querySelector<HTMLScriptElement>('script[data-write-key]')?.dataset.writeKey ?? '';

const NOT_SENT: Record<NonNullable<LogEntry['reason']>, [string, string]> = {
  no_consent: ['no consent at all', 'nessun consenso'],
  no_browsing_consent: ['no consent for analytics, personalisation or advertising', 'nessun consenso per statistiche, personalizzazione o pubblicità'],
  server: ['Fiducia refused it', 'Fiducia l’ha rifiutato'],
  network: ['network error', 'errore di rete'],
};
const logList = h('ol', { class: 'log', 'aria-live': 'polite' });
function log(e: LogEntry): void {
  const what = e.call.type === 'track' ? `track “${String(e.call.fields.event)}”` : e.call.type === 'page' ? `page “${String(e.call.fields.name)}”` : 'identify';
  const why = e.reason ? t(...NOT_SENT[e.reason]) : '';
  logList.append(h('li', { class: e.sent ? 'yes' : 'no' }, e.sent ? `✓ ${t('sent', 'inviato')}: ${what}` : `✗ ${t('not sent', 'non inviato')}: ${what} — ${why}`));
}
const analytics = new MiniAnalytics(writeKey, log);
const visitor = new VisitorCredential(writeKey);

function card(p: Product, full: boolean): HTMLElement {
  const name = productName(p);
  // Accessible names say which product each button acts on: six "View" buttons would be ambiguous.
  const view = h('button', { type: 'button', class: 'secondary', 'aria-label': `${t('View', 'Vedi')}: ${name}` }, t('View', 'Vedi'));
  const add = h('button', { type: 'button', 'aria-label': `${t('Add to cart', 'Aggiungi al carrello')}: ${name}` }, t('Add to cart', 'Aggiungi al carrello'));
  const props = { product_id: p.id, name: p.name, category: p.category, price: p.price, currency: 'EUR' };
  view.addEventListener('click', () => analytics.track('Product Viewed', props));
  add.addEventListener('click', () => analytics.track('Product Added', { ...props, quantity: 1 }));
  return h(
    'li',
    { class: 'product' },
    h('span', { class: 'pic', 'aria-hidden': 'true' }, p.pic),
    h('h3', {}, name),
    h('p', { class: 'meta' }, `${categoryName(p.category)} · € ${p.price}`),
    ...(full ? [h('div', { class: 'actions' }, view, add)] : []),
  );
}

function signupForm(): HTMLElement {
  const email = h('input', { type: 'email', id: 'signup-email', required: '', autocomplete: 'email' });
  const name = h('input', { type: 'text', id: 'signup-name', autocomplete: 'given-name' });
  const fav = h('select', { id: 'signup-favorite' }, ...Object.entries(CATEGORIES).map(([value, label]) => h('option', { value }, label)));
  const news = h('input', { type: 'checkbox', id: 'signup-newsletter' });
  const status = h('p', { role: 'status', class: 'meta' });
  const form = h(
    'form',
    { id: 'signup' },
    h('label', { for: 'signup-email' }, 'E-mail'),
    email,
    h('label', { for: 'signup-name' }, t('First name', 'Nome')),
    name,
    h('label', { for: 'signup-favorite' }, t('What do you like most?', 'Che cosa ti piace di più?')),
    fav,
    h('label', { class: 'check', for: 'signup-newsletter' }, news, t('Send me the newsletter (I consent to direct marketing).', 'Inviatemi la newsletter (acconsento al marketing diretto).')),
    h('button', { type: 'submit' }, t('Sign up', 'Iscriviti')),
    status,
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    // Ticking the box is consent given in context: it is recorded like the banner's, then identify goes out.
    if (news.checked) window.fiducia?.set({ marketing: true });
    analytics.identify({ email: email.value.trim(), firstName: name.value.trim(), favoriteCategory: fav.value, newsletter: news.checked });
    status.textContent = t('Thanks! See the log for what was sent.', 'Grazie! Nel registro vedi che cosa è stato inviato.');
  });
  return form;
}

/** "Allowed: Analytics, Personalisation" in the purposes' own names; purposes that need no consent are not listed. */
function consentText(c: Choices): string {
  const on = SHOWN_PURPOSES.filter((k) => c[k] === true).map(purposeName);
  const off = SHOWN_PURPOSES.filter((k) => c[k] === false).map(purposeName);
  return [on.length ? `${t('Allowed', 'Consentito')}: ${on.join(', ')}.` : '', off.length ? `${t('Not allowed', 'Non consentito')}: ${off.join(', ')}.` : ''].join(' ').trim();
}

async function main(): Promise<void> {
  await loadPurposeNames();
  document.getElementById('privacy-link')!.textContent = t('Privacy center', 'Centro privacy');
  document.getElementById('choices-button')!.textContent = t('Privacy choices', 'Scelte sulla privacy');
  const profile = profilePanel(visitor, (read) => {
    if (read.status === 200) void reco.refresh();
  });
  const reco = recommendations({
    products: PRODUCTS,
    categoryOf: (p) => p.category,
    card: (p) => card(p, false),
    readPersonalization: async () => {
      const read = await readProfile(visitor, OWN_PURPOSE);
      if (read.status === 404) return 'no_profile';
      return read.status === 200 && read.body ? read.body : 'failed';
    },
  });
  // Fiducia answers a batch after its commit, computed traits included: a stored product view is the moment to re-read.
  analytics.onDelivered((calls) => {
    if (calls.some((c) => c.type === 'track' && c.fields.event === 'Product Viewed')) void reco.refresh();
  });
  const consentState = h('p', { class: 'meta', id: 'consent-state', 'aria-live': 'polite' });
  const shop = h(
    'div',
    {},
    h('h1', {}, t('Fiducia demo shop', 'Il negozio demo di Fiducia')),
    h(
      'p',
      {},
      t(
        'Everything this shop sends goes to this Fiducia, and only with your consent. Try: choose in the banner, browse, ask for recommendations, sign up, then load your profile.',
        'Tutto ciò che questo negozio invia va a questo Fiducia, e solo con il tuo consenso. Prova: scegli nel banner, naviga, chiedi i consigli, iscriviti, poi carica il tuo profilo.',
      ),
    ),
    reco.section,
    h('h2', {}, t('All products', 'Tutti i prodotti')),
    h('ul', { class: 'grid', id: 'products' }, ...PRODUCTS.map((p) => card(p, true))),
    h('h2', {}, t('Advertising', 'Pubblicità')),
    h('p', { class: 'ad', id: 'ad-slot' }, t('The advertising tag is blocked until you allow personalised advertising.', 'Il tag pubblicitario è bloccato finché non consenti la pubblicità personalizzata.')),
    h('h2', {}, t('Sign up', 'Iscriviti')),
    signupForm(),
  );
  const side = h(
    'aside',
    { 'aria-label': t('What Fiducia sees', 'Che cosa vede Fiducia') },
    h('section', { class: 'panel' }, h('h2', {}, t('Your consent', 'Il tuo consenso')), consentState),
    h('section', { class: 'panel' }, h('h2', {}, t('Sent to Fiducia', 'Inviato a Fiducia')), logList),
    h('section', { class: 'panel' }, h('h2', {}, t('Your profile in Fiducia', 'Il tuo profilo in Fiducia')), profile.panel),
  );
  document.getElementById('app')!.replaceChildren(shop, side);
  reco.render();

  const api = window.fiducia;
  if (!api) {
    consentState.textContent = t('The consent widget did not load: nothing is sent.', 'Il widget del consenso non si è caricato: non viene inviato nulla.');
    return;
  }
  let choices: Choices = {};
  let given: Choices = {};
  const browsing = (c: Choices) => ['analytics', 'personalization', 'advertising'].some((k) => c[k]);
  const deliver = () => {
    // The page view dropped while nothing was allowed is counted once the visitor allows it (as Segment's consent wrapper does).
    const resend = !browsing(given) && browsing(choices) && Object.keys(given).length > 0;
    given = choices;
    analytics.consent(choices);
    if (resend) analytics.page(t('Demo shop', 'Negozio demo'));
  };
  // This browser's key is bound once the consent record has made the profile and before any event is sent: a profile
  // with data can no longer be bound from a browser (docs/security.md). Until then the sender holds every call.
  const bound = new Promise<void>((resolve) => {
    const bind = () => void visitor.get().finally(resolve);
    // A widget without receipts cannot say when the record landed: nothing is bound, the sender waits no longer.
    if (typeof api.receipt !== 'function') resolve();
    else if (api.receipt()) bind();
    else document.addEventListener('fiducia:receipt', bind, { once: true });
  });
  api.on('change', (c) => {
    choices = c;
    consentState.textContent = consentText(c);
    void bound.then(deliver);
    reco.update(c);
  });
  analytics.page(t('Demo shop', 'Negozio demo'));
}

void main();
