// The console (/console): sign-in, then one page per section under a hash route (`#/overview`, `#/profiles?…`).
// It talks only to the public API (api.ts), with the session cookie the API sets and the CSRF token it returns.
import { h, type Lang } from '../shared/dom.ts';
import { Api, ApiError } from './api.ts';
import type { ConsolePage, ConsoleUser, PageContext } from './page.ts';
import { PAGES } from './pages/index.ts';
import { TEXT } from './text.ts';
import { errorText, field, form, input } from './ui.ts';

const lang: Lang = document.documentElement.lang === 'it' ? 'it' : 'en';
const T = TEXT[lang];
const api = new Api();
const root = document.getElementById('app') as HTMLElement;

let live: HTMLElement;
let current: AbortController | undefined;
let hideTimer: ReturnType<typeof setTimeout> | undefined;

/** How long a message stays on screen (screen readers have read it by then; the page keeps its own results). */
const SHOWN_MS = { ok: 6000, error: 12000 } as const;

function announce(message: string, kind: 'ok' | 'error' = 'ok'): void {
  live.className = `announce ${kind}`;
  // Emptied first so that the same message said twice is read twice.
  live.textContent = '';
  clearTimeout(hideTimer);
  requestAnimationFrame(() => (live.textContent = message));
  hideTimer = setTimeout(() => (live.textContent = ''), SHOWN_MS[kind]);
}

function liveRegion(): HTMLElement {
  live = h('div', { class: 'announce', role: 'status', 'aria-live': 'polite' });
  return live;
}

function languageLinks(): HTMLElement {
  const other: Lang = lang === 'it' ? 'en' : 'it';
  const link = h('a', { href: `?lang=${other}${location.hash}`, lang: other, hreflang: other }, T.langName[other]);
  window.addEventListener('hashchange', () => link.setAttribute('href', `?lang=${other}${location.hash}`));
  return h('nav', { class: 'langs', 'aria-label': T.language }, h('span', { 'aria-current': 'true', lang }, T.langName[lang]), ' · ', link);
}

/** The sign-in page, and the one-time setup of the first admin below it. */
function showLogin(message?: string): void {
  current?.abort();
  document.title = `${T.signIn} · ${T.product}`;
  const report = (err: unknown) => {
    if (err instanceof ApiError && err.status === 401) announce(T.wrongPassword, 'error');
    else if (err instanceof ApiError && err.status === 429) announce(T.tooMany, 'error');
    else if (err instanceof ApiError && err.code === 'FIDUCIA_USER_SUSPENDED') announce(T.suspended, 'error');
    else if (err instanceof ApiError && err.code === 'FIDUCIA_CONSOLE_SETUP_DONE') announce(T.setupDone, 'error');
    else announce(errorText(err, lang), 'error');
  };
  const signIn = async (username: string, password: string) => {
    const me = await api.send<{ user: ConsoleUser; csrfToken: string }>('POST', '/api/v1/console/login', { username, password });
    api.csrf = me.csrfToken;
    showShell(me.user);
  };
  const login = form(
    T.signIn,
    [
      field(T.username, input('username', { autocomplete: 'username', required: '', maxlength: '254' })),
      field(T.password, input('password', { type: 'password', autocomplete: 'current-password', required: '', maxlength: '256' })),
      h('button', { type: 'submit', class: 'primary' }, T.signIn),
    ],
    (data) => signIn(String(data.get('username')), String(data.get('password'))),
    report,
  );
  const setup = form(
    T.setup,
    [
      h('p', {}, T.setupIntro),
      field(T.bootstrapToken, input('bootstrapToken', { type: 'password', autocomplete: 'off', required: '', maxlength: '256' })),
      field(T.username, input('username', { autocomplete: 'username', required: '', maxlength: '254' })),
      field(T.newPassword, input('password', { type: 'password', autocomplete: 'new-password', required: '', minlength: '12', maxlength: '256' })),
      h('button', { type: 'submit' }, T.createAdmin),
    ],
    async (data) => {
      const username = String(data.get('username'));
      const password = String(data.get('password'));
      await api.send('POST', '/api/v1/console/setup', { bootstrapToken: String(data.get('bootstrapToken')), username, password });
      await signIn(username, password);
    },
    report,
  );
  const main = h('main', { id: 'main', class: 'narrow' }, h('h1', {}, T.signIn), h('p', {}, T.signInIntro), login, h('details', {}, h('summary', {}, T.setup), setup));
  root.replaceChildren(h('header', { class: 'top' }, h('p', { class: 'brand' }, T.product), languageLinks()), main, liveRegion());
  if (message) announce(message, 'error');
  (login.querySelector('input') as HTMLInputElement).focus();
}

function parseHash(): { id: string; params: URLSearchParams } {
  const raw = location.hash.replace(/^#\/?/, '');
  const q = raw.indexOf('?');
  const id = (q < 0 ? raw : raw.slice(0, q)) || 'overview';
  return { id, params: new URLSearchParams(q < 0 ? '' : raw.slice(q + 1)) };
}

function showShell(user: ConsoleUser): void {
  const pages = PAGES.filter((p) => p.roles.includes(user.role));
  const links = new Map<string, HTMLAnchorElement>();
  const menu = h(
    'ul',
    {},
    ...pages.map((p) => {
      const a = h('a', { href: `#/${p.id}` }, p.title[lang]);
      links.set(p.id, a);
      return h('li', {}, a);
    }),
  );
  // On a phone the menu folds behind a button (the page's <h1> says where one is); on a desktop it is always shown.
  const toggle = h('button', { type: 'button', class: 'menu-toggle', 'aria-expanded': 'false', 'aria-controls': 'menu-list' }, T.menuButton);
  menu.id = 'menu-list';
  const nav = h('nav', { class: 'menu', 'aria-label': T.menu }, toggle, menu);
  const fold = (open: boolean) => {
    toggle.setAttribute('aria-expanded', String(open));
    nav.classList.toggle('open', open);
  };
  toggle.addEventListener('click', () => fold(toggle.getAttribute('aria-expanded') !== 'true'));
  const logout = h('button', { type: 'button' }, T.logout);
  logout.addEventListener('click', () => {
    api
      .send('POST', '/api/v1/console/logout')
      .catch(() => undefined)
      .finally(() => {
        api.csrf = '';
        history.replaceState(null, '', location.pathname + location.search);
        showLogin();
        announce(T.loggedOut);
      });
  });
  const main = h('main', { id: 'main' });
  root.replaceChildren(
    h('a', { class: 'skip', href: '#main' }, T.skip),
    h(
      'header',
      { class: 'top' },
      h('p', { class: 'brand' }, T.product),
      h('p', { class: 'who' }, T.signedInAs(user.username, T.roles[user.role]), ' ', logout),
      languageLinks(),
    ),
    nav,
    main,
    liveRegion(),
  );
  // The skip link moves focus without changing the route.
  root.querySelector('a.skip')?.addEventListener('click', (e) => {
    e.preventDefault();
    main.querySelector('h1')?.focus();
  });
  api.onSessionEnd = () => showLogin(T.sessionEnded);
  let first = true;
  const route = () => {
    const { id, params } = parseHash();
    const page = pages.find((p) => p.id === id);
    for (const [pid, a] of links) {
      if (pid === id) a.setAttribute('aria-current', 'page');
      else a.removeAttribute('aria-current');
    }
    fold(false);
    void render(main, page, user, params, !first);
    first = false;
  };
  window.onhashchange = route;
  route();
}

async function render(main: HTMLElement, page: ConsolePage | undefined, user: ConsoleUser, params: URLSearchParams, focus: boolean): Promise<void> {
  current?.abort();
  const controller = new AbortController();
  current = controller;
  const title = page ? page.title[lang] : T.notFound;
  document.title = `${title} · ${T.product}`;
  const heading = h('h1', { tabindex: '-1' }, title);
  main.replaceChildren(heading);
  if (focus) heading.focus();
  if (!page) return;
  const ctx: PageContext = {
    lang,
    api,
    user,
    params,
    signal: controller.signal,
    announce,
    setParams(next) {
      const merged = new URLSearchParams(params);
      for (const [k, v] of Object.entries(next)) {
        if (v === undefined || v === '') merged.delete(k);
        else merged.set(k, v);
      }
      const q = merged.toString();
      history.replaceState(null, '', `${location.pathname}${location.search}#/${page.id}${q ? `?${q}` : ''}`);
    },
  };
  const busy = h('p', { class: 'loading' }, T.loading);
  main.append(busy);
  main.setAttribute('aria-busy', 'true');
  try {
    await page.render(main, ctx);
  } catch (err) {
    if (controller.signal.aborted) return;
    if (err instanceof ApiError && err.status === 403) main.append(h('p', { class: 'error' }, T.forbidden));
    else if (!(err instanceof ApiError && err.status === 401)) main.append(h('p', { class: 'error' }, errorText(err, lang)));
  } finally {
    busy.remove();
    main.removeAttribute('aria-busy');
  }
}

async function boot(): Promise<void> {
  try {
    const me = await api.get<{ user: ConsoleUser; csrfToken: string }>('/api/v1/console/me');
    api.csrf = me.csrfToken;
    showShell(me.user);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin();
    else {
      showLogin();
      announce(errorText(err, lang), 'error');
    }
  }
}

void boot();
