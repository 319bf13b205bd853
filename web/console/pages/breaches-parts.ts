// What the breach register's list and detail share: the API's breach view, the 72-hour clock in words (kept current
// while the page is open), texts given in two languages, and times from the browser's date-time fields.
import type { Lang } from '../../shared/dom.ts';
import { field, h } from '../ui.ts';
import type { BreachWords } from './breaches-text.ts';

export type Localized = Partial<Record<Lang, string>>;
export type Status = 'open' | 'notified_authority' | 'subjects_notified' | 'not_required' | 'closed';
export type Nature = 'confidentiality' | 'integrity' | 'availability';
export type Encryption = 'keys_safe' | 'keys_compromised' | 'not_encrypted' | 'unknown';
export type Reason = 'no_risk' | 'no_high_risk' | 'encrypted' | 'subsequent_measures' | 'public_communication';

export interface BreachView {
  id: string;
  status: Status;
  nature: Nature[];
  description: Localized;
  categories: string[];
  approxSubjects: number | null;
  approxRecords: number | null;
  consequences: Localized | null;
  measuresTaken: Localized | null;
  measuresProposed: Localized | null;
  adviceToSubjects: Localized | null;
  encryption: Encryption;
  contact: { name: string; email: string; phone?: string };
  awareAt: string;
  occurredAt: string | null;
  clock: { deadline: string; running: boolean; remainingMs: number | null; overdue: boolean; notifiedLate: boolean | null };
  authority: { notifiedAt: string | null; reference: string | null; delayReason: Localized | null };
  encryptionExemption: 'may_apply' | 'does_not_apply' | 'to_assess';
  notRequiredReason: Reason | null;
  missing: string[];
  subjects: { named: number; notified: number; notifiedAt: string | null; byOutcome?: Record<string, number> };
  history?: { at: string; actor: string; action: string; status: Status; fields: string[]; note: string | null }[];
}

/** The free texts of a breach: each may be given in Italian, English or both. */
export const TEXT_FIELDS = ['description', 'consequences', 'measuresTaken', 'measuresProposed', 'adviceToSubjects'] as const;

/** The text in `lang`, else the other language's marked with its language; null when there is none. */
export function pick(text: Localized | null | undefined, lang: Lang, T: BreachWords): string | null {
  if (!text) return null;
  const own = text[lang];
  if (own) return own;
  const other: Lang = lang === 'it' ? 'en' : 'it';
  const theirs = text[other];
  return theirs ? `${theirs} (${other === 'it' ? T.inItalian : T.inEnglish})` : null;
}

/** A fieldset of two textareas, `<name>.it` and `<name>.en`, the page's language first. */
export function twoLanguages(name: string, legend: string, lang: Lang, T: BreachWords, hint?: string): HTMLFieldSetElement {
  const area = (l: Lang) => h('textarea', { name: `${name}.${l}`, maxlength: '4000', rows: '3', lang: l });
  const order: Lang[] = lang === 'it' ? ['it', 'en'] : ['en', 'it'];
  const parts: Node[] = [h('legend', {}, legend)];
  if (hint) parts.push(h('p', { class: 'hint' }, hint));
  parts.push(h('div', { class: 'breach-langs' }, ...order.map((l) => field(l === 'it' ? T.inItalian : T.inEnglish, area(l)))));
  return h('fieldset', { class: 'breach-fieldset' }, ...parts);
}

/** The `{it, en}` a two-language fieldset holds; undefined when both are empty. */
export function localizedFrom(data: FormData, name: string): Localized | undefined {
  const out: Localized = {};
  for (const l of ['it', 'en'] as const) {
    const v = String(data.get(`${name}.${l}`) ?? '').trim();
    if (v) out[l] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/** A `datetime-local` value (the browser's local time) as an RFC 3339 instant; undefined when empty or not a time. */
export function instantFrom(value: FormDataEntryValue | null): string | undefined {
  const s = String(value ?? '');
  if (!s) return undefined;
  const t = new Date(s);
  return Number.isNaN(t.getTime()) ? undefined : t.toISOString();
}

/** Now, as a `datetime-local` field shows it. */
export function localNow(): string {
  const d = new Date();
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}

function durationText(ms: number, T: BreachWords): string {
  const minutes = Math.floor(Math.abs(ms) / 60_000);
  return T.duration(Math.floor(minutes / 60), minutes % 60);
}

/** The clock in words at `now` (server time): time left, overdue by, or how the notification went. */
export function clockText(b: BreachView, now: number, T: BreachWords): { text: string; late: boolean } {
  if (!b.clock.running) {
    if (b.clock.notifiedLate === null) return { text: T.stopped, late: false };
    return { text: b.clock.notifiedLate ? T.notifiedLate : T.notifiedOnTime, late: b.clock.notifiedLate };
  }
  const left = Date.parse(b.clock.deadline) - now;
  return left >= 0 ? { text: T.left(durationText(left, T)), late: false } : { text: T.overdue(durationText(left, T)), late: true };
}

/**
 * Clocks shown on the page, kept current every 30 seconds until the page is left. Times are the server's: `skew` is
 * the server's clock minus the browser's, as measured when the breaches were read.
 */
export class Clocks {
  readonly #shown: { el: HTMLElement; breach: BreachView }[] = [];

  constructor(
    private readonly T: BreachWords,
    private readonly skew: number,
  ) {}

  /** A badge with the breach's clock. */
  badge(breach: BreachView): HTMLElement {
    const el = h('span', { class: 'badge breach-clock' });
    this.#shown.push({ el, breach });
    this.#paint(el, breach);
    return el;
  }

  start(signal: AbortSignal): void {
    const timer = setInterval(() => {
      for (const { el, breach } of this.#shown) this.#paint(el, breach);
    }, 30_000);
    signal.addEventListener('abort', () => clearInterval(timer), { once: true });
  }

  #paint(el: HTMLElement, breach: BreachView): void {
    const { text, late } = clockText(breach, Date.now() + this.skew, this.T);
    el.textContent = text;
    el.classList.toggle('warn', late);
  }
}

/** The server's clock minus the browser's, from a breach view read just now (or the list's `now`). */
export function skewFrom(serverNow: number | undefined, breach?: BreachView): number {
  if (serverNow !== undefined) return serverNow - Date.now();
  if (breach?.clock.remainingMs !== null && breach?.clock.remainingMs !== undefined) return Date.parse(breach.clock.deadline) - breach.clock.remainingMs - Date.now();
  return 0;
}

/** Data categories by key, with their names in both languages (from the record of processing). */
export type CategoryNames = Map<string, Localized>;

export async function categoryNames(get: <T>(path: string) => Promise<T>): Promise<CategoryNames> {
  const ropa = await get<{ activities: { dataCategories: { key: string; name: Localized }[] }[] }>('/api/v1/ropa');
  const out: CategoryNames = new Map();
  for (const a of ropa.activities) for (const c of a.dataCategories) out.set(c.key, c.name);
  return out;
}

export function categoryName(names: CategoryNames, key: string, lang: Lang): string {
  const n = names.get(key);
  return n?.[lang] ?? n?.[lang === 'it' ? 'en' : 'it'] ?? key;
}
