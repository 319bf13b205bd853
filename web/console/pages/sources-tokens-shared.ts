// What the sources and tokens pages share: a secret shown once (with a copy button and a warning), and an inline
// confirmation step for an action that cannot be undone. Focus moves into each panel so keyboard and screen-reader users
// land on it.
import type { Lang } from '../../shared/dom.ts';
import { button, h } from '../ui.ts';

const TEXT = {
  en: {
    copy: (what: string) => `Copy ${what}`,
    copied: (what: string) => `${what} copied to the clipboard.`,
    copyFailed: 'The browser did not allow copying: select the text and copy it by hand.',
    hide: 'I have saved it: hide',
    cancel: 'Cancel',
  },
  it: {
    copy: (what: string) => `Copia ${what}`,
    copied: (what: string) => `${what}: copiato negli appunti.`,
    copyFailed: 'Il browser non ha permesso di copiare: selezionare il testo e copiarlo a mano.',
    hide: 'L’ho salvato: nascondi',
    cancel: 'Annulla',
  },
} satisfies Record<Lang, unknown>;

export interface Secret {
  label: string;
  value: string;
  hint?: string;
}

let seq = 0;

async function copy(value: string, field: HTMLInputElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(value);
    return true;
  } catch {
    // Without the clipboard API (an insecure origin, a denied permission), the selection is the fallback.
    field.focus();
    field.select();
    return false;
  }
}

/**
 * A panel that shows secrets once: each in a read-only field with its own copy button, under a warning that it will not
 * be shown again. `slot` receives the panel (replacing what it held); focus moves to its heading.
 */
export function showSecretOnce(
  slot: HTMLElement,
  lang: Lang,
  spec: { title: string; warning: string; secrets: readonly Secret[] },
  announce: (message: string, kind?: 'ok' | 'error') => void,
): void {
  const T = TEXT[lang];
  const headingId = `secret-heading-${++seq}`;
  const heading = h('h2', { id: headingId, tabindex: '-1' }, spec.title);
  const rows = spec.secrets.map((s) => {
    const id = `secret-${++seq}`;
    const field = h('input', { id, type: 'text', readonly: '', value: s.value, autocomplete: 'off', spellcheck: 'false', class: 'secret-value' });
    const copyButton = button(T.copy(s.label));
    copyButton.addEventListener('click', () => {
      void copy(s.value, field).then((ok) => announce(ok ? T.copied(s.label) : T.copyFailed, ok ? 'ok' : 'error'));
    });
    const parts: Node[] = [h('label', { for: id }, s.label), h('div', { class: 'secret-row' }, field, copyButton)];
    if (s.hint) {
      field.setAttribute('aria-describedby', `${id}-hint`);
      parts.push(h('p', { class: 'hint', id: `${id}-hint` }, s.hint));
    }
    return h('div', { class: 'field secret-field' }, ...parts);
  });
  const hide = button(T.hide);
  const panel = h('section', { class: 'card secret-once', 'aria-labelledby': headingId }, heading, h('p', { class: 'warning' }, spec.warning), ...rows, hide);
  hide.addEventListener('click', () => panel.remove());
  slot.replaceChildren(panel);
  heading.focus();
}

/**
 * An inline confirmation: what will happen, optional extra controls (e.g. a checkbox), a confirm and a cancel button.
 * `onConfirm` runs with the panel's buttons disabled; the panel goes away when it succeeds or is cancelled.
 */
export function confirmStep(
  slot: HTMLElement,
  lang: Lang,
  spec: { title: string; body: string; confirm: string; extra?: readonly Node[]; danger?: boolean },
  onConfirm: () => Promise<void>,
  report: (err: unknown) => void,
): void {
  const T = TEXT[lang];
  const headingId = `confirm-heading-${++seq}`;
  const heading = h('h2', { id: headingId, tabindex: '-1' }, spec.title);
  const yes = button(spec.confirm, { class: spec.danger === false ? 'primary' : 'danger' });
  const no = button(T.cancel);
  const panel = h(
    'section',
    { class: 'card confirm-step', role: 'group', 'aria-labelledby': headingId },
    heading,
    h('p', {}, spec.body),
    ...(spec.extra ?? []),
    h('div', { class: 'actions' }, yes, no),
  );
  no.addEventListener('click', () => panel.remove());
  yes.addEventListener('click', () => {
    yes.disabled = no.disabled = true;
    onConfirm()
      .then(() => panel.remove())
      .catch((err: unknown) => {
        yes.disabled = no.disabled = false;
        report(err);
      });
  });
  slot.replaceChildren(panel);
  heading.focus();
}
