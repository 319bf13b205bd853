// Building blocks the console's pages share: tables with headers, labelled fields, dates in the page's language,
// sections. Text always goes in as text, never as HTML.
import { h, type Lang } from '../shared/dom.ts';
import { ApiError } from './api.ts';

export { h };

type Cell = Node | string | number | null | undefined;

/** A table with a caption (its accessible name) and column headers; wrapped so a wide table scrolls inside itself on a phone. */
export function table(caption: string, headers: readonly string[], rows: readonly (readonly Cell[])[], empty?: string): HTMLElement {
  const cell = (c: Cell) => (c === null || c === undefined ? '—' : typeof c === 'number' ? String(c) : c);
  const body =
    rows.length === 0 && empty
      ? [h('tr', {}, h('td', { colspan: String(headers.length) }, empty))]
      : rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, cell(c)))));
  return h(
    'div',
    { class: 'table-wrap', role: 'region', 'aria-label': caption, tabindex: '0' },
    h('table', {}, h('caption', {}, caption), h('thead', {}, h('tr', {}, ...headers.map((x) => h('th', { scope: 'col' }, x)))), h('tbody', {}, ...body)),
  );
}

let fieldSeq = 0;

/** A labelled control: `<label for>` and, when given, a hint tied to it by aria-describedby. */
export function field(label: string, control: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, hint?: string): HTMLElement {
  const id = control.id || `f${++fieldSeq}`;
  control.id = id;
  const parts: Node[] = [h('label', { for: id }, label), control];
  if (hint) {
    const hintId = `${id}-hint`;
    control.setAttribute('aria-describedby', hintId);
    parts.push(h('p', { class: 'hint', id: hintId }, hint));
  }
  return h('div', { class: 'field' }, ...parts);
}

export function input(name: string, attrs: Record<string, string> = {}): HTMLInputElement {
  return h('input', { name, type: 'text', ...attrs });
}

export function select(name: string, options: readonly (readonly [value: string, label: string])[], value?: string): HTMLSelectElement {
  const s = h('select', { name }, ...options.map(([v, l]) => h('option', { value: v }, l)));
  if (value !== undefined) s.value = value;
  return s;
}

export function button(label: string, attrs: Record<string, string> = {}): HTMLButtonElement {
  return h('button', { type: 'button', ...attrs }, label);
}

export function section(title: string, ...children: Node[]): HTMLElement {
  return h('section', { class: 'card' }, h('h2', {}, title), ...children);
}

/** `section` with a page's own class beside `card`, for the page's stylesheet. */
export function sectionWith(cls: string): (title: string, ...children: Node[]) => HTMLElement {
  return (title, ...children) => {
    const s = section(title, ...children);
    s.classList.add(cls);
    return s;
  };
}

/** A definition list from label/value pairs. */
export function facts(pairs: readonly (readonly [string, Cell])[]): HTMLElement {
  return h('dl', {}, ...pairs.flatMap(([k, v]) => [h('dt', {}, k), h('dd', {}, v === null || v === undefined ? '—' : typeof v === 'number' ? String(v) : v)]));
}

export function dateTime(lang: Lang, iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined || iso === '') return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang === 'it' ? 'it-IT' : 'en-GB', { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}

export function day(lang: Lang, iso: string | number): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return new Intl.DateTimeFormat(lang === 'it' ? 'it-IT' : 'en-GB', { dateStyle: 'medium' }).format(d);
}

export function number(lang: Lang, n: number): string {
  return new Intl.NumberFormat(lang === 'it' ? 'it-IT' : 'en-GB').format(n);
}

/** An error as the person should read it: the API's message and its code (for support), or a network failure. */
export function errorText(err: unknown, lang: Lang): string {
  if (err instanceof ApiError) return `${err.message} (${err.code})`;
  return lang === 'it' ? 'Fiducia non risponde: controllare la connessione.' : 'Fiducia is not answering: check the connection.';
}

/** A form whose submit runs `onSubmit`, disabling its buttons meanwhile; errors go to the page's live region. */
export function form(
  label: string,
  children: readonly Node[],
  onSubmit: (data: FormData, form: HTMLFormElement) => Promise<void>,
  report: (err: unknown) => void,
): HTMLFormElement {
  const f = h('form', { 'aria-label': label, novalidate: '' }, ...children);
  f.addEventListener('submit', (e) => {
    e.preventDefault();
    if (!f.reportValidity()) return;
    const buttons = [...f.querySelectorAll('button')];
    for (const b of buttons) b.disabled = true;
    onSubmit(new FormData(f), f)
      .catch(report)
      .finally(() => {
        for (const b of buttons) b.disabled = false;
      });
  });
  return f;
}
