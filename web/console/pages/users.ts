// Console users: everyone changes their own password here; admins also list users, create them with a role, disable
// them and reset their passwords (POST/GET /api/v1/console/users…, docs/console.md).
import type { Lang } from '../../shared/dom.ts';
import { ApiError } from '../api.ts';
import type { ConsolePage, PageContext, Role } from '../page.ts';
import { button, dateTime, errorText, field, form, h, input, sectionWith, select, table } from '../ui.ts';

/** A section of this page (its own class, for the page's stylesheet). */
const card = sectionWith('users-card');

interface UserRow {
  id: string;
  username: string;
  role: Role;
  createdAt: string;
  disabledAt: string | null;
  /** Present where the server suspends console users on an exfiltration alert. */
  suspendedAt?: string | null;
}

const en = {
  own: 'Your password',
  ownIntro: (name: string) => `Signed in as ${name}. Changing the password ends your other sessions.`,
  current: 'Current password',
  newPassword: 'New password',
  repeat: 'New password again',
  passwordHint: 'At least 12 characters; a few unusual words make a good one.',
  change: 'Change my password',
  changed: 'Your password is changed; your other sessions have ended.',
  mismatch: 'The two new passwords differ.',
  wrongCurrent: 'The current password is wrong.',
  users: 'Console users',
  caption: 'Console users and their roles',
  username: 'User name',
  role: 'Role',
  created: 'Created',
  state: 'State',
  actions: 'Actions',
  active: 'active',
  disabled: (at: string) => `disabled (${at})`,
  suspended: (at: string) => `suspended (${at})`,
  roles: { admin: 'admin', dpo: 'DPO', analyst: 'analyst', service: 'service' } as Record<Role, string>,
  disable: 'Disable',
  disableOf: (name: string) => `Disable ${name}`,
  disableAsk: (name: string) => `Disable ${name}? Their sessions end at once and they can no longer sign in.`,
  disableYes: 'Yes, disable',
  disabledNow: (name: string) => `${name} is disabled.`,
  reset: 'Reset password',
  resetOf: (name: string) => `Reset password of ${name}`,
  resetFor: (name: string) => `New password for ${name}`,
  resetButton: 'Set the new password',
  resetDone: (name: string) => `The password of ${name} is set; their sessions have ended.`,
  cancel: 'Cancel',
  create: 'Add a console user',
  createIntro: 'Give the person their user name and initial password by a safe channel; they can change it here.',
  usernameHint: 'An e-mail address or a user name, without spaces.',
  initial: 'Initial password',
  createButton: 'Add the user',
  createdNow: (name: string) => `${name} can now sign in.`,
};

type Words = typeof en;

const it: Words = {
  own: 'La tua password',
  ownIntro: (name: string) => `Accesso come ${name}. Cambiando la password terminano le altre sessioni.`,
  current: 'Password attuale',
  newPassword: 'Nuova password',
  repeat: 'Ripeti la nuova password',
  passwordHint: 'Almeno 12 caratteri; qualche parola insolita ne fa una buona.',
  change: 'Cambia la mia password',
  changed: 'La password è cambiata; le altre sessioni sono terminate.',
  mismatch: 'Le due nuove password non coincidono.',
  wrongCurrent: 'La password attuale è errata.',
  users: 'Utenti della console',
  caption: 'Utenti della console e i loro ruoli',
  username: 'Nome utente',
  role: 'Ruolo',
  created: 'Creato',
  state: 'Stato',
  actions: 'Azioni',
  active: 'attivo',
  disabled: (at: string) => `disattivato (${at})`,
  suspended: (at: string) => `sospeso (${at})`,
  roles: { admin: 'amministratore', dpo: 'DPO', analyst: 'analista', service: 'servizio' },
  disable: 'Disattiva',
  disableOf: (name: string) => `Disattiva ${name}`,
  disableAsk: (name: string) => `Disattivare ${name}? Le sue sessioni terminano subito e non potrà più accedere.`,
  disableYes: 'Sì, disattiva',
  disabledNow: (name: string) => `${name} è disattivato.`,
  reset: 'Reimposta la password',
  resetOf: (name: string) => `Reimposta la password di ${name}`,
  resetFor: (name: string) => `Nuova password per ${name}`,
  resetButton: 'Imposta la nuova password',
  resetDone: (name: string) => `La password di ${name} è impostata; le sue sessioni sono terminate.`,
  cancel: 'Annulla',
  create: 'Aggiungi un utente della console',
  createIntro: 'Comunicare nome utente e password iniziale alla persona per un canale sicuro; potrà cambiarla qui.',
  usernameHint: 'Un indirizzo e-mail o un nome utente, senza spazi.',
  initial: 'Password iniziale',
  createButton: 'Aggiungi l’utente',
  createdNow: (name: string) => `${name} può ora accedere.`,
};

const TEXT: Record<Lang, Words> = { en, it };
const ROLES: readonly Role[] = ['analyst', 'dpo', 'admin'];
const password = (name: string, autocomplete: string) => input(name, { type: 'password', autocomplete, required: '', minlength: '12', maxlength: '256' });

function ownSection(ctx: PageContext, T: Words): HTMLElement {
  const f = form(
    T.own,
    [
      h('input', { type: 'text', name: 'username', autocomplete: 'username', value: ctx.user.username, hidden: '' }),
      field(T.current, input('currentPassword', { type: 'password', autocomplete: 'current-password', required: '', maxlength: '256' })),
      field(T.newPassword, password('newPassword', 'new-password'), T.passwordHint),
      field(T.repeat, password('repeat', 'new-password')),
      h('button', { type: 'submit', class: 'primary' }, T.change),
    ],
    async (data, el) => {
      if (data.get('newPassword') !== data.get('repeat')) {
        ctx.announce(T.mismatch, 'error');
        return;
      }
      await ctx.api.send('POST', '/api/v1/console/password', { currentPassword: String(data.get('currentPassword')), newPassword: String(data.get('newPassword')) });
      el.reset();
      ctx.announce(T.changed);
    },
    (err) => ctx.announce(err instanceof ApiError && err.status === 403 && err.code !== 'FIDUCIA_CSRF' ? T.wrongCurrent : errorText(err, ctx.lang), 'error'),
  );
  return card(T.own, h('p', {}, T.ownIntro(ctx.user.username)), f);
}

interface Admin {
  ctx: PageContext;
  T: Words;
  /** Where a confirmation or the reset form for one user appears. */
  slot: HTMLElement;
  reload(): Promise<void>;
}

function stateOf(u: UserRow, lang: Lang, T: Words): string {
  if (u.disabledAt) return T.disabled(dateTime(lang, u.disabledAt));
  if (u.suspendedAt) return T.suspended(dateTime(lang, u.suspendedAt));
  return T.active;
}

function askDisable(a: Admin, u: UserRow, back: HTMLElement): void {
  const { T, ctx } = a;
  const question = h('p', { tabindex: '-1' }, T.disableAsk(u.username));
  const yes = button(T.disableYes, { class: 'danger' });
  const no = button(T.cancel);
  no.addEventListener('click', () => {
    a.slot.replaceChildren();
    back.focus();
  });
  yes.addEventListener('click', () => {
    yes.disabled = true;
    ctx.api
      .send('POST', `/api/v1/console/users/${encodeURIComponent(u.id)}/disable`)
      .then(async () => {
        ctx.announce(T.disabledNow(u.username));
        await a.reload();
      })
      .catch((err: unknown) => {
        yes.disabled = false;
        ctx.announce(errorText(err, ctx.lang), 'error');
      });
  });
  a.slot.replaceChildren(h('div', { class: 'card users-confirm' }, question, h('div', { class: 'users-buttons' }, yes, no)));
  question.focus();
}

function askReset(a: Admin, u: UserRow, back: HTMLElement): void {
  const { T, ctx } = a;
  const cancel = button(T.cancel);
  cancel.addEventListener('click', () => {
    a.slot.replaceChildren();
    back.focus();
  });
  const f = form(
    T.resetFor(u.username),
    [field(T.resetFor(u.username), password('password', 'new-password'), T.passwordHint), h('button', { type: 'submit', class: 'primary' }, T.resetButton), cancel],
    async (data) => {
      await ctx.api.send('POST', `/api/v1/console/users/${encodeURIComponent(u.id)}/password`, { password: String(data.get('password')) });
      ctx.announce(T.resetDone(u.username));
      a.slot.replaceChildren();
      back.focus();
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  a.slot.replaceChildren(h('div', { class: 'card users-confirm' }, f));
  (f.querySelector('input') as HTMLInputElement).focus();
}

function usersSection(a: Admin, users: readonly UserRow[]): HTMLElement {
  const { T, ctx } = a;
  const rows = users.map((u) => {
    const actions = h('div', { class: 'users-buttons' });
    if (!u.disabledAt) {
      const reset = button(T.reset, { 'aria-label': T.resetOf(u.username) });
      reset.addEventListener('click', () => askReset(a, u, reset));
      const disable = button(T.disable, { class: 'danger', 'aria-label': T.disableOf(u.username) });
      disable.addEventListener('click', () => askDisable(a, u, disable));
      actions.append(reset, disable);
    }
    return [u.username, T.roles[u.role] ?? u.role, dateTime(ctx.lang, u.createdAt), stateOf(u, ctx.lang, T), actions];
  });
  return card(T.users, table(T.caption, [T.username, T.role, T.created, T.state, T.actions], rows), a.slot);
}

function createSection(a: Admin): HTMLElement {
  const { T, ctx } = a;
  const f = form(
    T.create,
    [
      field(T.username, input('username', { required: '', maxlength: '254', autocomplete: 'off', spellcheck: 'false', pattern: '\\s*\\S+\\s*' }), T.usernameHint),
      field(T.role, select('role', ROLES.map((r) => [r, T.roles[r]] as const), 'analyst')),
      field(T.initial, password('password', 'new-password'), T.passwordHint),
      h('button', { type: 'submit', class: 'primary' }, T.createButton),
    ],
    async (data) => {
      const username = String(data.get('username')).trim();
      await ctx.api.send('POST', '/api/v1/console/users', { username, role: String(data.get('role')), password: String(data.get('password')) });
      ctx.announce(T.createdNow(username));
      await a.reload();
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  return card(T.create, h('p', {}, T.createIntro), f);
}

async function render(main: HTMLElement, ctx: PageContext): Promise<void> {
  const T = TEXT[ctx.lang];
  main.append(ownSection(ctx, T));
  if (ctx.user.role !== 'admin') return;
  const adminPart = h('div', {});
  const a: Admin = {
    ctx,
    T,
    slot: h('div', {}),
    async reload() {
      const { users } = await ctx.api.get<{ users: UserRow[] }>('/api/v1/console/users');
      if (ctx.signal.aborted) return;
      a.slot = h('div', {});
      adminPart.replaceChildren(usersSection(a, users), createSection(a));
    },
  };
  await a.reload();
  main.append(adminPart);
}

export const usersPage: ConsolePage = {
  id: 'users',
  title: { en: 'Users and passwords', it: 'Utenti e password' },
  // Everyone changes their own password here; the list and the changes to other users are for admins (the API's rule).
  roles: ['admin', 'dpo', 'analyst'],
  render,
};
