// "Recommended for you": asks for personalisation in context (Fiducia.ask), then follows what Fiducia computed from the visits.
import type { Choices, FiduciaApi } from '../globals.d.ts';
import { h } from '../shared/dom.ts';
import { categoryName, t } from './i18n.ts';
import type { ProfileAnswer } from './profile.ts';

/** `ask` arrives with the widget's in-context prompt; an older widget has none, and the feature then stays off. */
type Ask = (purpose: string, options?: { reason?: string }) => Promise<boolean>;
const askOf = (api: FiduciaApi | undefined): Ask | undefined => {
  const ask = (api as (FiduciaApi & { ask?: Ask }) | undefined)?.ask;
  return typeof ask === 'function' ? ask.bind(api) : undefined;
};

/** Where the featured category comes from, best first: what Fiducia computed from the views, then what the visitor told. */
const SOURCES: [key: string, kind: 'computed' | 'trait', en: string, it: string][] = [
  ['top_viewed_category', 'computed', 'the category you viewed most (computed by Fiducia)', 'dalla categoria che hai guardato di più (calcolata da Fiducia)'],
  ['last_viewed_category', 'computed', 'the last category you viewed (computed by Fiducia)', 'dall’ultima categoria che hai guardato (calcolata da Fiducia)'],
  ['favoriteCategory', 'trait', 'what you told us in the sign-up form', 'da ciò che ci hai detto nel modulo d’iscrizione'],
];

export type Featured = { category: string; why: string } | null;

/** The featured category from a personalisation read: absence is the answer, the page never checks consent itself. */
export function featuredFrom(profile: ProfileAnswer, known: (c: string) => boolean): Featured {
  for (const [key, kind, en, it] of SOURCES) {
    const v = kind === 'computed' ? profile.computed?.[key] : profile.traits?.[key];
    if (typeof v === 'string' && known(v)) return { category: v, why: t(en, it) };
  }
  return null;
}

export interface RecommendationsDeps<P> {
  products: P[];
  categoryOf(p: P): string;
  card(p: P): HTMLElement;
  /** A personalisation read of this visitor's own profile: the answer, `no_profile` (nothing recorded yet) or `failed`. */
  readPersonalization(): Promise<ProfileAnswer | 'no_profile' | 'failed'>;
}

/** The section; `update` follows the widget's choices, `refresh` re-reads what Fiducia computed. */
export function recommendations<P>(deps: RecommendationsDeps<P>) {
  const list = h('ul', { class: 'grid', id: 'recommended' });
  const note = h('p', { class: 'meta', id: 'recommended-note', role: 'status' });
  const button = h('button', { type: 'button', id: 'recommend-button' }, t('Recommend for me', 'Consigliami'));
  let allowed = false;
  let featured: Featured = null;
  let message = '';

  const render = () => {
    const picks = allowed && featured ? deps.products.filter((p) => deps.categoryOf(p) === featured!.category) : deps.products;
    list.replaceChildren(...picks.slice(0, 3).map((p) => deps.card(p)));
    note.textContent =
      allowed && featured
        ? t(`Picked from ${featured.why}: ${categoryName(featured.category)}.`, `Scelti ${featured.why}: ${categoryName(featured.category)}.`)
        : message || t('Our bestsellers: everyone sees the same.', 'I più venduti: tutti vedono gli stessi.');
  };

  const refresh = async () => {
    if (!allowed) return;
    const profile = await deps.readPersonalization();
    if (!allowed) return; // withdrawn while the read was on its way
    featured = typeof profile === 'object' ? featuredFrom(profile, (c) => deps.products.some((p) => deps.categoryOf(p) === c)) : null;
    message =
      profile === 'no_profile'
        ? t('Fiducia has no profile for this browser yet: your choice is still on its way.', 'Fiducia non ha ancora un profilo per questo browser: la tua scelta è ancora in viaggio.')
        : profile === 'failed'
          ? t('Fiducia did not let this browser read its profile.', 'Fiducia non ha permesso a questo browser di leggere il suo profilo.')
          : t('Browse a few products: Fiducia will compute what you like.', 'Guarda qualche prodotto: Fiducia calcolerà che cosa ti piace.');
    render();
  };

  button.addEventListener('click', () => {
    void (async () => {
      const api = window.fiducia;
      if (!allowed) {
        const ask = askOf(api);
        if (!ask) {
          message = t('Recommendations need personalisation: turn it on in “Privacy choices”.', 'I consigli richiedono la personalizzazione: attivala in «Scelte sulla privacy».');
          render();
          return;
        }
        // The widget records the answer (method in_context) and fires `change`, which sets `allowed`.
        const yes = await ask('personalization', { reason: t('To recommend sizes and products we need personalisation.', 'Per consigliarti taglie e prodotti ci serve la personalizzazione.') }).catch(
          () => false, // a configuration without the purpose: the feature stays off
        );
        allowed = yes || api?.get().personalization === true;
        if (!allowed) {
          message = t('Without personalisation you see our bestsellers, like everyone.', 'Senza personalizzazione vedi i più venduti, come tutti.');
          render();
          return;
        }
      }
      await refresh();
    })();
  });

  return {
    section: h('section', { 'aria-labelledby': 'recommended-title' }, h('h2', { id: 'recommended-title' }, t('Recommended for you', 'Consigliati per te')), note, button, list),
    /** The widget's choices changed: without personalisation the list is the same for everyone and nothing is read. */
    update(choices: Choices) {
      const was = allowed;
      allowed = choices.personalization === true;
      if (!allowed) {
        featured = null;
        message = '';
      }
      if (allowed && !was) void refresh();
      else render();
    },
    refresh,
    render,
  };
}
