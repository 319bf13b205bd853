// Reads this visitor's own profile from Fiducia (GET /v1/me/profile, with the visitor's credential) and shows the answer in words.
import { h } from '../shared/dom.ts';
import { categoryName, purposeName, reasonText, statusText, t } from './i18n.ts';
import type { VisitorCredential } from './visitor.ts';

export interface ProfileAnswer {
  traits?: Record<string, unknown>;
  withheld?: { field: string; reason: string }[];
  withheldOutsidePurpose?: number;
  segments?: string[];
  computed?: Record<string, unknown>;
  consents?: Record<string, { status: string }>;
  error?: { code: string; message?: string };
}
export type ProfileRead = { status: number; body: ProfileAnswer } | { status: 0; body: null };

/** The purpose the panel and the recommendations read for: the one open to a visitor's own reads by default. */
export const OWN_PURPOSE = 'personalization';

/** One read of this visitor's own profile, through its own credential (never a token); status 0 when Fiducia cannot be reached. */
export async function readProfile(visitor: VisitorCredential, purpose: string): Promise<ProfileRead> {
  const r = await visitor.read(purpose);
  if (r === 'failed') return { status: 0, body: null };
  if (r === 'no_profile') return { status: 404, body: { error: { code: 'FIDUCIA_NOT_FOUND' } } };
  if (r === 'refused') return { status: 401, body: { error: { code: 'FIDUCIA_UNAUTHORIZED' } } };
  return { status: r.status, body: r.body as ProfileAnswer };
}

/** Computed traits by name: the segment definitions are the shop staff's, so the page names the ones it knows. */
const COMPUTED: Record<string, [string, string]> = {
  top_viewed_category: ['Most viewed category', 'Categoria più vista'],
  last_viewed_category: ['Last viewed category', 'Ultima categoria vista'],
};
const segmentName = (id: string) => {
  const w = COMPUTED[id];
  return w ? t(w[0], w[1]) : t('a segment', 'un segmento');
};

const TRAITS: Record<string, [string, string]> = {
  favoriteCategory: ['Favourite category', 'Categoria preferita'],
  firstName: ['First name', 'Nome'],
  newsletter: ['Newsletter', 'Newsletter'],
  email: ['E-mail', 'E-mail'],
};
const traitName = (k: string) => {
  const w = TRAITS[k];
  return w ? t(w[0], w[1]) : k;
};
/** Values that are the shop's category keys, shown by the category's name. */
const CATEGORY_VALUED = new Set(['favoriteCategory', 'top_viewed_category', 'last_viewed_category']);
const shown = (k: string, v: unknown): string => {
  if (typeof v === 'string') return CATEGORY_VALUED.has(k) ? categoryName(v) : v;
  if (typeof v === 'boolean') return v ? t('yes', 'sì') : t('no', 'no');
  return JSON.stringify(v);
};

function rows(title: string, entries: [string, string][], empty: string): HTMLElement[] {
  const list = entries.length === 0 ? h('p', { class: 'meta' }, empty) : h('dl', {}, ...entries.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]));
  return [h('h3', {}, title), list];
}

/** The answer in the page's language; the raw JSON stays one click away for developers. */
function render(out: HTMLElement, read: ProfileRead, purpose: string): void {
  if (read.status === 0 || !read.body) {
    out.replaceChildren(h('p', { role: 'alert' }, t('Fiducia cannot be reached.', 'Fiducia non è raggiungibile.')));
    return;
  }
  const b = read.body;
  const raw = h('details', {}, h('summary', {}, t('The API’s answer (JSON)', 'La risposta dell’API (JSON)')), h('pre', { tabindex: '0' }, JSON.stringify(b, null, 2)));
  if (b.error) {
    const why: Record<number, [string, string]> = {
      401: ['This browser’s key is not the one bound to this profile.', 'La chiave di questo browser non è quella legata a questo profilo.'],
      403: ['This browser cannot read this profile: it had data before its key was bound.', 'Questo browser non può leggere questo profilo: aveva dati prima che la sua chiave fosse legata.'],
      404: ['Fiducia has no profile for this browser yet: choose in the banner first.', 'Fiducia non ha ancora un profilo per questo browser: prima scegli nel banner.'],
    };
    const w = why[read.status];
    out.replaceChildren(h('p', { role: 'alert' }, w ? t(w[0], w[1]) : t('Fiducia refused the read.', 'Fiducia ha rifiutato la lettura.')), raw);
    return;
  }
  const c = b.consents?.[purpose];
  out.replaceChildren(
    h('p', {}, `${t('Read for', 'Letto per')}: ${purposeName(purpose)}. ${c ? `${t('Your consent', 'Il tuo consenso')}: ${statusText(c.status)}.` : ''}`),
    ...rows(t('Traits this purpose may see', 'Tratti che questa finalità può vedere'), Object.entries(b.traits ?? {}).map(([k, v]) => [traitName(k), shown(k, v)]), t('None.', 'Nessuno.')),
    ...rows(t('Computed by Fiducia from your visits', 'Calcolati da Fiducia dalle tue visite'), Object.entries(b.computed ?? {}).map(([k, v]) => [segmentName(k), shown(k, v)]), t('None.', 'Nessuno.')),
    ...rows(t('Your segments', 'I tuoi segmenti'), (b.segments ?? []).map((s) => [segmentName(s), '✓']), t('None.', 'Nessuno.')),
    ...rows(t('Withheld', 'Trattenuti'), (b.withheld ?? []).map((w) => [w.field.startsWith('computed:') ? segmentName(w.field.slice(9)) : traitName(w.field), reasonText(w.reason)]), t('Nothing.', 'Niente.')),
    raw,
  );
}

/** The panel: a button that reads the visitor's own profile, with no token; `onRead` lets the page follow the read. */
export function profilePanel(visitor: VisitorCredential, onRead: (read: ProfileRead, purpose: string) => void): { panel: HTMLElement } {
  const out = h('div', { id: 'profile-output', 'aria-live': 'polite' });
  const form = h(
    'form',
    { id: 'profile-form' },
    h(
      'p',
      { class: 'meta' },
      t(
        'Read with a key only this browser holds, for personalisation: no token, and nobody else’s profile.',
        'Letto con una chiave che ha solo questo browser, per la personalizzazione: nessun token, e nessun altro profilo.',
      ),
    ),
    h('button', { type: 'submit' }, t('Load my profile', 'Carica il mio profilo')),
  );
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    void readProfile(visitor, OWN_PURPOSE).then((read) => {
      render(out, read, OWN_PURPOSE);
      onRead(read, OWN_PURPOSE);
    });
  });
  return { panel: h('div', {}, form, out) };
}
