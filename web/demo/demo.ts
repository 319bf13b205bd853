// The demo shop (/demo): banner → events → profile → personalisation, all through Fiducia's public API.
import type { Choices } from '../globals.d.ts';
import { h } from '../shared/dom.ts';
import { anonymousId } from '../shared/ajs.ts';
import { MiniAnalytics, type LogEntry } from './analytics.ts';

type Product = { id: string; name: string; category: string; price: number; pic: string };
const PRODUCTS: Product[] = [
  { id: 'p1', name: 'Trail runners', category: 'shoes', price: 89, pic: '👟' },
  { id: 'p2', name: 'Leather loafers', category: 'shoes', price: 120, pic: '👞' },
  { id: 'p3', name: 'Canvas tote', category: 'bags', price: 35, pic: '👜' },
  { id: 'p4', name: 'Two-person tent', category: 'outdoor', price: 199, pic: '⛺' },
  { id: 'p5', name: 'Hiking backpack', category: 'outdoor', price: 75, pic: '🎒' },
  { id: 'p6', name: 'Italian cookbook', category: 'books', price: 28, pic: '📚' },
];

const it = document.documentElement.lang === 'it';
const t = (en: string, itText: string) => (it ? itText : en);
const CATEGORIES: Record<string, string> = it
  ? { shoes: 'Scarpe', bags: 'Borse', outdoor: 'Outdoor', books: 'Libri' }
  : { shoes: 'Shoes', bags: 'Bags', outdoor: 'Outdoor', books: 'Books' };
const writeKey = document.querySelector<HTMLScriptElement>('script[data-write-key]')?.dataset.writeKey ?? '';

let choices: Choices = {};
let favorite: string | null = null;
let favoriteSource = '';

const logList = h('ol', { class: 'log', 'aria-live': 'polite' });
function log(e: LogEntry): void {
  const what = e.call.type === 'track' ? `track “${String(e.call.fields.event)}”` : e.call.type === 'page' ? `page “${String(e.call.fields.name)}”` : 'identify';
  logList.append(h('li', { class: e.sent ? 'yes' : 'no' }, e.sent ? `✓ ${t('sent', 'inviato')}: ${what}` : `✗ ${t('not sent', 'non inviato')}: ${what} — ${e.reason ?? ''}`));
}
const analytics = new MiniAnalytics(writeKey, log);

const recommendations = h('ul', { class: 'grid', id: 'recommended' });
const recoNote = h('p', { class: 'meta', id: 'recommended-note' });
function renderRecommendations(): void {
  const personalised = choices.personalization === true && favorite !== null;
  const list = personalised ? PRODUCTS.filter((p) => p.category === favorite) : PRODUCTS.slice(0, 3);
  recommendations.replaceChildren(...list.slice(0, 3).map((p) => card(p, false)));
  recoNote.textContent = personalised
    ? t(`Because you like ${CATEGORIES[favorite!]} (${favoriteSource}).`, `Perché ti piace: ${CATEGORIES[favorite!]} (${favoriteSource}).`)
    : choices.personalization
      ? t('Tell us what you like (form below) or load your profile to personalise this.', 'Dicci cosa ti piace (modulo qui sotto) o carica il tuo profilo per personalizzare.')
      : t('Our bestsellers. Personalisation is off, so everyone sees the same.', 'I più venduti. La personalizzazione è disattivata: tutti vedono gli stessi.');
}

function card(p: Product, full: boolean): HTMLElement {
  const view = h('button', { type: 'button', class: 'secondary' }, t('View', 'Vedi'));
  const add = h('button', { type: 'button' }, t('Add to cart', 'Aggiungi al carrello'));
  const props = { product_id: p.id, name: p.name, category: p.category, price: p.price, currency: 'EUR' };
  view.addEventListener('click', () => analytics.track('Product Viewed', props));
  add.addEventListener('click', () => analytics.track('Product Added', { ...props, quantity: 1 }));
  return h(
    'li',
    { class: 'product' },
    h('span', { class: 'pic', 'aria-hidden': 'true' }, p.pic),
    h('h3', {}, p.name),
    h('p', { class: 'meta' }, `${CATEGORIES[p.category]} · € ${p.price}`),
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
    if (choices.personalization) {
      favorite = fav.value;
      favoriteSource = t('from the form', 'dal modulo');
      renderRecommendations();
    }
    status.textContent = t('Thanks! See the log for what was sent.', 'Grazie! Nel registro vedi che cosa è stato inviato.');
  });
  return form;
}

/** Reads this visitor's profile with an API token, for a purpose: what the engine lets that purpose see. */
function profilePanel(): HTMLElement {
  const token = h('input', { type: 'password', id: 'profile-token', autocomplete: 'off' });
  const purpose = h('select', { id: 'profile-purpose' }, ...['personalization', 'analytics', 'marketing', 'advertising'].map((p) => h('option', { value: p }, p)));
  const out = h('pre', { id: 'profile-output', tabindex: '0', 'aria-label': t('Profile answer', 'Risposta del profilo') });
  const form = h(
    'form',
    { id: 'profile-form' },
    h('label', { for: 'profile-token' }, t('API token (the admin token npm start printed)', 'Token API (il token admin stampato da npm start)')),
    token,
    h('label', { for: 'profile-purpose' }, t('Read for purpose', 'Leggi per la finalità')),
    purpose,
    h('button', { type: 'submit' }, t('Load my profile', 'Carica il mio profilo')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const id = encodeURIComponent(`anonymousId:${anonymousId()}`);
    fetch(`api/v1/profiles/${id}?purpose=${purpose.value}`, { headers: { authorization: `Bearer ${token.value.trim()}` } })
      .then(async (r) => {
        const body = (await r.json()) as { traits?: Record<string, unknown>; error?: { code: string } };
        out.textContent = JSON.stringify(body, null, 2);
        const fav = body.traits?.favoriteCategory;
        if (r.ok && purpose.value === 'personalization' && typeof fav === 'string' && fav in CATEGORIES) {
          favorite = fav;
          favoriteSource = t('from your Fiducia profile', 'dal tuo profilo in Fiducia');
          renderRecommendations();
        }
      })
      .catch(() => (out.textContent = t('Fiducia cannot be reached.', 'Fiducia non è raggiungibile.')));
  });
  return h('div', {}, form, out);
}

function main(): void {
  document.getElementById('privacy-link')!.textContent = t('Privacy center', 'Centro privacy');
  document.getElementById('choices-button')!.textContent = t('Privacy choices', 'Scelte sulla privacy');
  const products = h('ul', { class: 'grid', id: 'products' }, ...PRODUCTS.map((p) => card(p, true)));
  const consentState = h('p', { class: 'meta', id: 'consent-state', 'aria-live': 'polite' });
  const shop = h(
    'div',
    {},
    h('h1', {}, t('Fiducia demo shop', 'Il negozio demo di Fiducia')),
    h(
      'p',
      {},
      t(
        'Everything this shop sends goes to this Fiducia, and only with your consent. Try: choose in the banner, browse, sign up, then load your profile.',
        'Tutto ciò che questo negozio invia va a questo Fiducia, e solo con il tuo consenso. Prova: scegli nel banner, naviga, iscriviti, poi carica il tuo profilo.',
      ),
    ),
    h('h2', {}, t('Recommended for you', 'Consigliati per te')),
    recoNote,
    recommendations,
    h('h2', {}, t('All products', 'Tutti i prodotti')),
    products,
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
    h('section', { class: 'panel' }, h('h2', {}, t('Your profile in Fiducia', 'Il tuo profilo in Fiducia')), profilePanel()),
  );
  document.getElementById('app')!.replaceChildren(shop, side);
  renderRecommendations();

  const api = window.fiducia;
  if (!api) {
    consentState.textContent = t('The consent widget did not load: nothing is sent.', 'Il widget del consenso non si è caricato: non viene inviato nulla.');
    return;
  }
  const browsing = (c: Choices) => ['analytics', 'personalization', 'advertising'].some((k) => c[k]);
  api.on('change', (c) => {
    // The page view dropped while nothing was allowed is counted once the visitor allows it (as Segment's consent wrapper does).
    const resend = !browsing(choices) && browsing(c) && Object.keys(choices).length > 0;
    choices = c;
    const on = Object.entries(c).filter(([, v]) => v).map(([k]) => k);
    consentState.textContent = `${t('Allowed', 'Consentito')}: ${on.join(', ')}`;
    analytics.consent(c);
    if (resend) analytics.page(t('Demo shop', 'Negozio demo'));
    renderRecommendations();
  });
  analytics.page(t('Demo shop', 'Negozio demo'));
}

main();
