// Browser globals the web bundles share: the widget's API, its configuration, and Google's dataLayer.
export {};

export type Choices = Record<string, boolean>;

export interface FiduciaApi {
  /** Effective choices per purpose: consent purposes as chosen (GPC applied), other purposes true. Empty until the configuration is loaded. */
  get(): Choices;
  /** Changes some consent purposes and records the choice (method `api` unless given). */
  set(choices: Choices, method?: 'banner' | 'preference_center' | 'api'): void;
  /** `change`: called with the effective choices once they are known and after every change. */
  on(event: 'change', listener: (choices: Choices) => void): void;
  /** Opens the preferences. */
  open(): void;
  /** The receipt id of the last recorded choice, once the server answered. */
  receipt(): string | undefined;
  /**
   * Asks for one consent purpose in context, when a feature needs it: resolves `true` if it is granted. A purpose already
   * decided under a valid notice (banner, preferences, API, GPC, an earlier ask) resolves at once, without a question; so do
   * purposes that need no consent (`true`) and sale/share purposes under GPC (`false`). Dismissing (Escape) resolves
   * `false` and records nothing. Rejects for a purpose the configuration does not have.
   */
  ask(purpose: string, options?: { reason?: string }): Promise<boolean>;
}

export interface FiduciaOptions {
  writeKey?: string;
  /** The signed-in user's `userHash` (from the shop's server), so a choice is recorded for the user, not only this browser. */
  userHash?: string;
  /** Base URL of Fiducia; default: where widget.js was loaded from. */
  endpoint?: string;
  lang?: string;
  /** Google Consent Mode v2: consent type → purpose(s) that must all be granted; `true` for the default mapping. */
  gcm?: Record<string, string | string[]> | boolean;
  /** `false` hides the floating button (use `fiducia.open()` or `[data-fiducia-open]` instead). */
  button?: boolean;
  /** Where "Privacy center" links to. */
  policyUrl?: string;
  /** Consent purposes the banner leaves out, to be asked in context with `Fiducia.ask` (or in the preferences). */
  inContext?: string[];
}

declare global {
  interface Navigator {
    globalPrivacyControl?: boolean;
  }
  interface Window {
    fiducia?: FiduciaApi;
    /** The same API as `fiducia` (`Fiducia.ask(…)` reads better in a shop's code). */
    Fiducia?: FiduciaApi;
    fiduciaConfig?: FiduciaOptions;
    dataLayer?: unknown[];
    gtag?: (...args: unknown[]) => void;
  }
}
