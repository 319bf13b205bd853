// What a console page is: a title per language, the roles that see it in the menu, and a render function that fills
// the page's <main> through the public API only.
import type { Lang } from '../shared/dom.ts';
import type { Api } from './api.ts';

export type Role = 'admin' | 'dpo' | 'analyst' | 'service';

export interface ConsoleUser {
  id: string;
  username: string;
  role: Role;
}

export interface PageContext {
  lang: Lang;
  api: Api;
  user: ConsoleUser;
  /** The part of the location hash after `?`: a page's own state (e.g. `#/profiles?identity=…`), kept in the address. */
  params: URLSearchParams;
  /** Changes the page's state in the address (replacing the history entry) without rendering again. */
  setParams(params: Record<string, string | undefined>): void;
  /** Says something to screen readers and sighted users alike (the shared live region). */
  announce(message: string, kind?: 'ok' | 'error'): void;
  /** Set when the user leaves the page: timers and pollers stop on it. */
  signal: AbortSignal;
}

export interface ConsolePage {
  /** The hash path: `#/<id>`. */
  id: string;
  title: Record<Lang, string>;
  /** Who sees it in the menu (the API still decides what each route answers). */
  roles: readonly Role[];
  /** Fills `main` (which already holds the page's <h1>). */
  render(main: HTMLElement, ctx: PageContext): Promise<void> | void;
}
