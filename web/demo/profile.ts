// Reads this visitor's profile from Fiducia for a purpose (GET /api/v1/profiles/anonymousId:…) and shows the answer in words.
import { h } from '../shared/dom.ts';
import { anonymousId } from '../shared/ajs.ts';
import { SHOWN_PURPOSES, categoryName, purposeName, reasonText, statusText, t, IT } from './i18n.ts';

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

/** One profile read for a purpose with the token the visitor pasted; status 0 when Fiducia cannot be reached. */
export async function readProfile(token: string, purpose: string): Promise<ProfileRead> {
  const id = encodeURIComponent(`anonymousId:${anonymousId()}`);
  try {
    const r = await fetch(`api/v1/profiles/${id}?purpose=${encodeURIComponent(purpose)}`, { headers: { authorization: `Bearer ${token}` } });
    return { status: r.status, body: (await r.json()) as ProfileAnswer };
  } catch {
    return { status: 0, body: null };
  }
}

/** The names of segments and computed traits (GET /api/v1/segments), so the panel shows words, not keys. */
const segmentNames = new Map<string, string>();
async function loadSegmentNames(token: string): Promise<void> {
  if (segmentNames.size > 0) return;
  try {
    const r = await fetch('api/v1/segments', { headers: { authorization: `Bearer ${token}` } });
    if (!r.ok) return;
    const body = (await r.json()) as { segments?: { id: string; name?: { it?: string; en?: string } }[] };
    for (const s of body.segments ?? []) {
      const name = IT ? s.name?.it : s.name?.en;
      if (name) segmentNames.set(s.id, name);
    }
  } catch {
    // Names are a nicety: without them the panel says "a segment".
  }
}
const segmentName = (id: string) => segmentNames.get(id) ?? t('a segment', 'un segmento');

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
      401: ['The token is not valid.', 'Il token non è valido.'],
      403: ['This token may not read for this purpose.', 'Questo token non può leggere per questa finalità.'],
      404: ['Fiducia has no profile for this browser yet: choose in the banner and browse first.', 'Fiducia non ha ancora un profilo per questo browser: prima scegli nel banner e naviga.'],
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

/** The panel: token, purpose, button; `onRead` lets the page follow what a personalisation read returned. */
export function profilePanel(onRead: (read: ProfileRead, purpose: string) => void): { panel: HTMLElement; token: () => string } {
  const token = h('input', { type: 'password', id: 'profile-token', autocomplete: 'off' });
  const purpose = h('select', { id: 'profile-purpose' }, ...SHOWN_PURPOSES.map((p) => h('option', { value: p }, purposeName(p))));
  const out = h('div', { id: 'profile-output', 'aria-live': 'polite' });
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
    const p = purpose.value;
    const tok = token.value.trim();
    void Promise.all([readProfile(tok, p), loadSegmentNames(tok)]).then(([read]) => {
      render(out, read, p);
      onRead(read, p);
    });
  });
  return { panel: h('div', {}, form, out), token: () => token.value.trim() };
}
