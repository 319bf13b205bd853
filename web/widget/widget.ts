// Fiducia consent widget: a zero-dependency custom element (open shadow root) that asks for, records and enforces consent.
// Budget: 6 KB gzip for all of it, CSS included (test/widget-size.test.ts) — hence the terse style.
import type { Choices, FiduciaOptions } from '../globals.d.ts';
import { ajs, anonymousId } from '../shared/ajs.ts';
import css from './widget.css';

type Lang = 'it' | 'en';
type Purpose = { key: string; name: Record<Lang, string>; description: Record<Lang, string>; legalBasis: string; consentRequired: boolean; saleOrShare: boolean };
type Config = { noticeVersion: string; validNoticeVersions?: string[]; purposes: Purpose[] };
/** What is kept in localStorage: notice version, choices, time, method, receipt id once the server answered. */
type Stored = { v: string; p: Choices; t: number; m: string; r?: string };

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

  /** A stored choice holds while its notice version is one the server still honours (no material change since). */
  const valid = () => !!(stored && cfg && (cfg.validNoticeVersions ?? [cfg.noticeVersion]).includes(stored.v));
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

  const post = () => {
    if (!writeKey || !stored || !cfg) return;
    const s = stored;
    const userId = ajs('ajs_user_id');
    const userHash = o.userHash ?? ds.userHash;
    fetch(`${base}v1/consent`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Basic ${btoa(`${writeKey}:`)}` },
      body: JSON.stringify({ anonymousId: anonymousId(), ...(userId && userHash ? { userId, userHash } : {}), purposes: s.p, noticeVersion: s.v, method: s.m, gpc }),
    })
      .then((r) => r.json())
      .then((j: { receiptId?: string }) => {
        if (j.receiptId && s === stored) {
          s.r = j.receiptId;
          put();
          d.dispatchEvent(new CustomEvent('fiducia:receipt', { detail: s.r }));
        }
      })
      .catch(() => {});
  };

  const save = (pick: Choices, m: string) => {
    if (!cfg) return;
    const p: Choices = {};
    for (const x of cfg.purposes) if (x.consentRequired) p[x.key] = pick[x.key] === true && !(gpc && x.saleOrShare);
    stored = { v: cfg.noticeVersion, p, t: Date.now(), m };
    put();
    close();
    apply();
    post();
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
  const buttons = (keys: ('a' | 'r' | 'c' | 's')[]) => `<div class="b">${keys.map((k) => `<button type="button" data-a="${k}">${T[k]}</button>`).join('')}</div>`;

  function show(n: number) {
    if (!cfg) return;
    if (!layer) opener = d.activeElement === host ? root.activeElement : d.activeElement;
    layer = n;
    const names = (ps: Purpose[]) => ps.map((p) => esc(p.name[lang])).join(', ');
    const asked = cfg.purposes.filter((p) => p.consentRequired);
    const sold = asked.filter((p) => p.saleOrShare);
    const note = gpc && sold.length ? `<p class="g">${T.gpc} ${names(sold)}.</p>` : '';
    dlg.innerHTML = `<h2 id="ft">${T.title}</h2>${
      n === 1
        ? `<p id="fd">${T.intro} <strong>${names(asked)}</strong>. ${T.intro2}</p>${note}${buttons(['a', 'r', 'c'])}`
        : `<p id="fd">${T.prefs}</p>${note}<ul>${cfg.purposes.map(item).join('')}</ul>${buttons(['a', 'r', 's'])}`
    }<p class="m"><a href="${esc(policy)}">${T.more}</a></p>`;
    bd.hidden = dlg.hidden = false;
    fab.hidden = true;
    // Focus goes to the dialog itself, not to a button: no choice is preselected.
    dlg.focus();
  }

  function close() {
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
    if (b === fab || a === 'c') return show(2);
    if (!a) return;
    const pick: Choices = {};
    for (const p of cfg.purposes) pick[p.key] = a === 'a' || (a === 's' && !!dlg.querySelector<HTMLInputElement>(`[data-k="${p.key}"]`)?.checked);
    save(pick, 'banner');
  });

  // Keyboard: Tab cycles inside the open dialog (focus trap); Escape goes back, or closes once a choice exists.
  d.addEventListener(
    'keydown',
    (ev) => {
      if (!layer) return;
      if (ev.key === 'Escape') {
        if (valid()) close();
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

  w.fiducia = {
    get: eff,
    set: (c, m = 'api') => save({ ...(valid() ? stored!.p : {}), ...c }, m),
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
      if (valid()) {
        fab.hidden = !showFab;
        if (!stored!.r) post(); // the last attempt did not reach the server (offline, page closed): retry
      } else show(1);
      apply();
    })
    .catch(() => {});
}

if (!w.fiducia) boot();
