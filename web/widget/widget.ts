// Fiducia consent widget: a zero-dependency custom element (open shadow root) that asks for, records and enforces consent.
// Budget: 6 KB gzip for all of it, CSS included (test/widget-size.test.ts) — hence the terse style.
import type { Choices, FiduciaOptions } from '../globals.d.ts';
import { ajs, anonymousId } from '../shared/ajs.ts';
import css from './widget.css';

type Lang = 'it' | 'en';
type Purpose = { key: string; name: Record<Lang, string>; description: Record<Lang, string>; legalBasis: string; consentRequired: boolean; saleOrShare: boolean };
type Config = { noticeVersion: string; validNoticeVersions?: string[]; purposes: Purpose[] };
/** What is kept in localStorage: notice version, choices (decided purposes only), time, method, receipt id once the server
 *  answered, and `q`: the choices the last record sends (what that action decided, plus anything not yet sent). */
type Stored = { v: string; p: Choices; t: number; m: string; r?: string; q?: Choices };
type Ask = { p: Purpose; why: string; res: (b: boolean) => void };

const TEXT = {
  en: {
    title: 'Your privacy choices',
    intro: 'With your consent we use data about your visit for:',
    intro2: 'Nothing is collected for them if you refuse, and you can change your mind at any time from the Privacy button.',
    prefs: 'Choose what you allow. Purposes without a switch do not need consent; they are listed with their legal basis.',
    a: 'Accept all',
    r: 'Reject all',
    c: 'Customize',
    s: 'Save choices',
    always: '(always active)',
    basis: 'Legal basis',
    gpc: 'Your browser sends a Global Privacy Control signal: we never sell or share your data, so these stay off:',
    gpcOff: 'Off because of Global Privacy Control.',
    more: 'Privacy center',
    fab: 'Privacy choices',
    y: 'Allow',
    n: 'No thanks',
    later: 'You can change your mind at any time in your privacy choices.',
    bases: ['consent', 'contract', 'legal obligation', 'vital interests', 'public task', 'legitimate interests'],
  },
  it: {
    title: 'Le tue scelte sulla privacy',
    intro: 'Con il tuo consenso usiamo i dati sulla tua visita per:',
    intro2: 'Se rifiuti non raccogliamo nulla per queste finalità, e puoi cambiare idea quando vuoi dal pulsante Privacy.',
    prefs: 'Scegli cosa consentire. Le finalità senza interruttore non richiedono il consenso; sono elencate con la loro base giuridica.',
    a: 'Accetta tutto',
    r: 'Rifiuta tutto',
    c: 'Personalizza',
    s: 'Salva le scelte',
    always: '(sempre attiva)',
    basis: 'Base giuridica',
    gpc: 'Il tuo browser invia il segnale Global Privacy Control: non vendiamo né condividiamo i tuoi dati, quindi restano disattivate:',
    gpcOff: 'Disattivata per il Global Privacy Control.',
    more: 'Centro privacy',
    fab: 'Scelte sulla privacy',
    y: 'Consenti',
    n: 'No, grazie',
    later: 'Puoi cambiare idea quando vuoi dalle scelte sulla privacy.',
    bases: ['consenso', 'contratto', 'obbligo legale', 'interessi vitali', 'compito di interesse pubblico', 'legittimo interesse'],
  },
};
const BASES = ['consent', 'contract', 'legal_obligation', 'vital_interests', 'public_task', 'legitimate_interests'];
/** Consent Mode v2 type → purposes that must all hold (non-consent purposes always hold). */
const GCM: Record<string, string> = {
  ad_storage: 'advertising',
  ad_user_data: 'advertising',
  ad_personalization: 'advertising',
  analytics_storage: 'analytics',
  personalization_storage: 'personalization',
  functionality_storage: 'service',
  security_storage: 'security',
};
const KEY = 'fiducia_consent';

const w = window;
const d = document;
const ls = () => w.localStorage;
const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

function boot(): void {
  const script = d.currentScript as HTMLScriptElement | null;
  const ds = script?.dataset ?? {};
  const o: FiduciaOptions = w.fiduciaConfig ?? {};
  const writeKey = o.writeKey ?? ds.writeKey;
  const base = (o.endpoint ?? ds.endpoint ?? script?.src.replace(/[^/]*$/, '') ?? '/').replace(/\/?$/, '/');
  const lang: Lang = /^it/i.test(o.lang || ds.lang || d.documentElement.lang || navigator.language) ? 'it' : 'en';
  const T = TEXT[lang];
  const gpc = navigator.globalPrivacyControl === true;
  const showFab = o.button ?? ds.button !== 'off';
  const policy = o.policyUrl ?? ds.policyUrl ?? `${base}privacy?lang=${lang}`;
  let gmap = o.gcm ?? (ds.gcm !== undefined ? (ds.gcm ? (JSON.parse(ds.gcm) as Record<string, string>) : true) : !!(w.gtag || w.dataLayer));
  if (gmap === true) gmap = GCM;
  /** Purposes the banner leaves out: asked only in context (`Fiducia.ask`) or in the preferences. */
  const later = ([] as string[]).concat(o.inContext ?? ds.inContext?.split(/[\s,]+/) ?? []);

  let stored: Stored | null = null;
  try {
    stored = JSON.parse(ls().getItem(KEY) ?? 'null') as Stored | null;
  } catch {}
  const put = () => {
    try {
      ls().setItem(KEY, JSON.stringify(stored));
    } catch {}
  };
  let cfg: Config | null = null;
  let last = '';
  let layer = 0;
  let opener: Element | null = null;
  const listeners: ((c: Choices) => void)[] = [];
  /** The in-context question on screen, the layer it interrupted, who waits for it to end, and the pending asks by purpose. */
  let cur: Ask | undefined;
  let prev = 0;
  const waiting: (() => void)[] = [];
  const asks = Object.create(null) as Record<string, Promise<boolean>>;
  let loaded!: (c: Config | null) => void;
  const ready = new Promise<Config | null>((r) => (loaded = r));

  /** A stored choice holds while its notice version is one the server still honours (no material change since). */
  const valid = () => !!(stored && cfg && (cfg.validNoticeVersions ?? [cfg.noticeVersion]).includes(stored.v));
  /** Decided: a stored answer for this purpose (banner, preferences, API, GPC or an earlier ask) under a valid notice. */
  const decided = (k: string) => valid() && k in stored!.p;
  /** The consent purposes the banner still has to ask about. */
  const undecided = () => (cfg?.purposes ?? []).filter((p) => p.consentRequired && !decided(p.key) && !later.includes(p.key));
  const eff = (): Choices => {
    const out: Choices = {};
    for (const p of cfg?.purposes ?? []) out[p.key] = !p.consentRequired || (valid() && stored!.p[p.key] === true && !(gpc && p.saleOrShare));
    return out;
  };

  function gtag(..._: unknown[]) {
    // gtag.js reads Arguments objects from the dataLayer, not arrays.
    // eslint-disable-next-line prefer-rest-params -- see above: an array would be ignored
    (w.dataLayer ||= []).push(arguments);
  }
  const gcm = (kind: string) => {
    if (!gmap) return;
    const e = eff();
    const out: Record<string, string | number> = {};
    for (const [t, ps] of Object.entries(gmap)) out[t] = ([] as string[]).concat(ps).every((k) => e[k]) ? 'granted' : 'denied';
    if (kind === 'default') out.wait_for_update = 500;
    (w.gtag ?? gtag)('consent', kind, out);
  };

  /** Runs `<script type="text/plain" data-purpose="a b">` once every purpose it names is granted. */
  const activate = (e: Choices) => {
    d.querySelectorAll<HTMLScriptElement>('script[type="text/plain"][data-purpose]').forEach((s) => {
      if (!s.dataset.purpose!.split(/[\s,]+/).every((k) => e[k])) return;
      const n = d.createElement('script');
      for (const a of Array.from(s.attributes)) n.setAttribute(a.name, a.value);
      n.type = s.dataset.type || 'text/javascript';
      n.text = s.text;
      s.replaceWith(n);
    });
  };

  const apply = () => {
    const e = eff();
    const s = JSON.stringify(e);
    if (s === last) return;
    last = s;
    activate(e);
    gcm('update');
    for (const f of listeners) f({ ...e });
    d.dispatchEvent(new CustomEvent('fiducia:change', { detail: { ...e } }));
  };

  /** The record whose POST is on its way. */
  let flying: Stored | null = null;
  const post = () => {
    if (!writeKey || !stored || !cfg) return;
    const s = (flying = stored);
    const userId = ajs('ajs_user_id');
    const userHash = o.userHash ?? ds.userHash;
    fetch(`${base}v1/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
      body: JSON.stringify({ anonymousId: anonymousId(), ...(userId && userHash ? { userId, userHash } : {}), purposes: s.q ?? s.p, noticeVersion: s.v, method: s.m, gpc }),
    })
      .then((r) => r.json())
      .then((j: { receiptId?: string }) => {
        if (j.receiptId && s === stored) {
          s.r = j.receiptId;
          put();
          d.dispatchEvent(new CustomEvent('fiducia:receipt', { detail: s.r }));
        }
      })
      .catch(() => {})
      .finally(() => flying === s && (flying = null));
  };

  /** Records the consent purposes named in `pick`, and only those: the others keep their stored answer, or stay undecided. */
  const save = (pick: Choices, m: string) => {
    if (!cfg) return;
    const ok = valid();
    const p: Choices = ok ? { ...stored!.p } : {};
    // An earlier record the server never confirmed (and is not still sending) goes out again with this one.
    const q: Choices = ok && !stored!.r && stored !== flying ? { ...(stored!.q ?? stored!.p) } : {};
    for (const x of cfg.purposes) if (x.consentRequired && x.key in pick) p[x.key] = q[x.key] = pick[x.key] === true && !(gpc && x.saleOrShare);
    stored = { v: cfg.noticeVersion, p, t: Date.now(), m, q };
    put();
    close();
    apply();
    post();
    // Purposes the banner has not had an answer for yet (e.g. after one in-context answer) are still asked there.
    if (undecided().length) show(1);
  };

  class El extends HTMLElement {
    constructor() {
      super();
      this.attachShadow({ mode: 'open' });
    }
  }
  if (!customElements.get('fiducia-consent')) customElements.define('fiducia-consent', El);
  const host = d.querySelector('fiducia-consent') ?? d.createElement('fiducia-consent');
  host.setAttribute('lang', lang);
  const root = host.shadowRoot!;
  root.innerHTML = `<div class="bd" hidden></div><div class="dlg" role="dialog" aria-modal="true" aria-labelledby="ft" aria-describedby="fd" tabindex="-1" hidden></div><button class="fab" type="button" aria-label="${T.fab}" hidden>Privacy</button>`;
  try {
    // Constructed stylesheets are not inline styles: a page's strict CSP (style-src without 'unsafe-inline') allows them.
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(css);
    root.adoptedStyleSheets = [sheet];
  } catch {
    root.appendChild(d.createElement('style')).textContent = css;
  }
  const [bd, dlg, fab] = Array.from(root.children) as HTMLElement[] as [HTMLElement, HTMLElement, HTMLElement];

  const item = (p: Purpose) => {
    const off = gpc && p.saleOrShare;
    const on = valid() && stored!.p[p.key] === true && !off;
    const basis = T.bases[BASES.indexOf(p.legalBasis)] ?? p.legalBasis;
    return `<li>${
      p.consentRequired
        ? `<label><input type="checkbox" role="switch" data-k="${esc(p.key)}" aria-describedby="p-${esc(p.key)}"${on ? ' checked' : ''}${off ? ' disabled' : ''}>${esc(p.name[lang])}</label>`
        : `<strong>${esc(p.name[lang])}</strong> <span class="m">${T.always}</span>`
    }<p class="m" id="p-${esc(p.key)}">${esc(p.description[lang])} ${T.basis}: ${basis}.${off ? ` ${T.gpcOff}` : ''}</p></li>`;
  };
  const buttons = (keys: ('a' | 'r' | 'c' | 's' | 'y' | 'n')[]) => `<div class="b">${keys.map((k) => `<button type="button" data-a="${k}">${T[k]}</button>`).join('')}</div>`;

  /** Keeps the layers and the floating button inside the visual viewport: on a phone whose page is wider than the screen,
   *  the layout viewport (what `position: fixed` uses) is larger than what is visible, and its bottom is below the fold.
   *  The backdrop, laid out even when hidden, measures the layout viewport. */
  const fit = () => {
    const v = w.visualViewport;
    if (!v) return;
    const r = bd.getBoundingClientRect();
    const b = r.height - v.offsetTop - v.height;
    Object.assign(dlg.style, { left: `${v.offsetLeft}px`, right: `${r.width - v.offsetLeft - v.width}px`, bottom: `${b}px`, maxHeight: `${v.height}px` });
    Object.assign(fab.style, { left: `calc(1rem + ${v.offsetLeft}px)`, bottom: `calc(1rem + ${b}px)` });
  };
  // Zoom and the on-screen keyboard move the visual viewport; content that widens the page resizes the layout viewport,
  // i.e. the fixed backdrop (no window resize event is fired for that).
  for (const e of ['resize', 'scroll']) w.visualViewport?.addEventListener(e, fit);
  new ResizeObserver(fit).observe(bd);

  /** Layers: 1 the banner (names the undecided purposes), 2 the preferences, 3 the in-context question of `cur`. */
  function show(n: number) {
    if (!cfg) return;
    // Another layer over an open question (e.g. `open()` from the page) ends it first, unanswered.
    if (cur && n < 3) end();
    if (!layer) opener = d.activeElement === host ? root.activeElement : d.activeElement;
    layer = n;
    const names = (ps: Purpose[]) => ps.map((p) => esc(p.name[lang])).join(', ');
    const sold = cfg.purposes.filter((p) => p.consentRequired && p.saleOrShare);
    const note = gpc && sold.length ? `<p class="g">${T.gpc} ${names(sold)}.</p>` : '';
    const q = cur?.p;
    dlg.innerHTML = `<h2 id="ft">${n > 2 ? `${T.y} “${esc(q!.name[lang])}”?` : T.title}</h2>${
      n > 2
        ? `<p id="fd">${esc(cur!.why)}</p><p class="m">${esc(q!.description[lang])} ${T.later}</p>${buttons(['y', 'n'])}`
        : n === 1
          ? `<p id="fd">${T.intro} <strong>${names(undecided())}</strong>. ${T.intro2}</p>${note}${buttons(['a', 'r', 'c'])}`
          : `<p id="fd">${T.prefs}</p>${note}<ul>${cfg.purposes.map(item).join('')}</ul>${buttons(['a', 'r', 's'])}`
    }<p class="m"><a href="${esc(policy)}">${T.more}</a></p>`;
    bd.hidden = dlg.hidden = false;
    fab.hidden = true;
    fit();
    // Focus goes to the dialog itself, not to a button: no choice is preselected.
    dlg.focus();
  }

  /** Ends the in-context question: `b` is the answer (recorded with method in_context), undefined when dismissed (nothing recorded). */
  const end = (b?: boolean) => {
    const c = cur!;
    cur = undefined;
    close();
    if (b !== undefined) save({ [c.p.key]: b }, 'in_context');
    // Back to what the question interrupted (after an answer, save() has already brought the banner back if needed).
    if (prev > 1) show(prev);
    else if (prev && !layer && undecided().length) show(1);
    c.res(eff()[c.p.key]!);
    for (const f of waiting.splice(0)) f();
  };

  function close() {
    if (cur) return end(); // e.g. `set()` from the page while a question is open: the promise must still settle
    if (!layer) return;
    layer = 0;
    bd.hidden = dlg.hidden = true;
    fab.hidden = !showFab;
    (opener as HTMLElement | null)?.focus?.();
  }

  root.addEventListener('click', (ev) => {
    const b = (ev.target as Element).closest('button');
    if (!b || !cfg) return;
    const a = b.dataset.a;
    if (layer > 2 && a) return end(a === 'y');
    if (b === fab || a === 'c') return show(2);
    if (!a) return;
    const pick: Choices = {};
    // The banner decides what is undecided; the preferences decide every switch.
    for (const p of cfg.purposes) if (layer > 1 || undecided().includes(p)) pick[p.key] = a === 'a' || (a === 's' && !!dlg.querySelector<HTMLInputElement>(`[data-k="${p.key}"]`)?.checked);
    save(pick, 'banner');
  });

  // Keyboard: Tab cycles inside the open dialog (focus trap); Escape dismisses an in-context question (no answer recorded),
  // goes back from the preferences, or closes once every purpose has an answer.
  d.addEventListener(
    'keydown',
    (ev) => {
      if (!layer) return;
      if (ev.key === 'Escape') {
        if (layer > 2) end();
        else if (!undecided().length) close();
        else if (layer === 2) show(1);
      } else if (ev.key === 'Tab') {
        const f = Array.from(dlg.querySelectorAll<HTMLElement>('button,input:not([disabled]),a[href]'));
        const i = f.indexOf(root.activeElement as HTMLElement);
        if (d.activeElement !== host || (ev.shiftKey ? i < 1 : i === f.length - 1)) {
          ev.preventDefault();
          f[ev.shiftKey ? f.length - 1 : 0]?.focus();
        }
      }
    },
    true,
  );
  // Any element with `data-fiducia-open` (e.g. a footer link) reopens the preferences.
  d.addEventListener('click', (ev) => {
    if ((ev.target as Element).closest?.('[data-fiducia-open]')) {
      ev.preventDefault();
      show(2);
    }
  });

  /** The in-context question (see docs/consent-widget.md): one prompt at a time, one per purpose however often it is asked. */
  const ask = (k: string, o: { reason?: string } = {}): Promise<boolean> =>
    (asks[k] ||= ready
      .then(async (c) => {
        const p = c?.purposes.find((x) => x.key === k);
        if (!c) return false;
        if (!p) throw new Error(`Fiducia.ask: unknown purpose "${k}"`);
        while (cur) await new Promise<void>((r) => waiting.push(r));
        // Decided, no consent needed, or refused by GPC: the stored answer, without a question.
        if (!p.consentRequired || (gpc && p.saleOrShare) || decided(k)) return eff()[k]!;
        return new Promise<boolean>((res) => {
          cur = { p, why: String(o.reason ?? '').slice(0, 300), res };
          prev = layer;
          show(3);
        });
      })
      .finally(() => delete asks[k]));

  w.Fiducia = w.fiducia = {
    get: eff,
    set: (c, m = 'api') => save(c, m),
    ask,
    on: (e, f) => {
      if (e !== 'change') return;
      listeners.push(f);
      if (cfg) f(eff());
    },
    open: () => show(2),
    receipt: () => stored?.r,
  };

  gcm('default');
  const domReady = new Promise((r) => (d.readyState === 'loading' ? d.addEventListener('DOMContentLoaded', r) : r(0)));
  Promise.all([fetch(`${base}v1/consent/config`).then((r) => r.json() as Promise<Config>), domReady])
    .then(([c]) => {
      cfg = c;
      if (!host.isConnected) d.body.append(host);
      if (valid() && !stored!.r) post(); // the last attempt did not reach the server (offline, page closed): retry
      if (undecided().length) show(1);
      else fab.hidden = !showFab;
      apply();
      loaded(c);
    })
    .catch(() => loaded(null));
}

if (!w.fiducia) boot();
