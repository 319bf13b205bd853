// Exfiltration alerts: the audit log's `exfiltration.alert` entries, the tokens (and, where the API reports it, the
// console users) they suspended, reinstating them, and the subjects a token read (pseudonymous ids only).
import type { Lang } from '../../shared/dom.ts';
import { ApiError } from '../api.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, field, h, number, sectionWith, select, table } from '../ui.ts';

/** A section of this page (its own class, for the page's stylesheet). */
const card = sectionWith('alerts-card');

interface AuditEntry {
  index: number;
  at: string;
  counts: Record<string, number>;
  details: Record<string, string | number | boolean | null>;
}
interface Token {
  id: string;
  name: string;
  role: string;
  revokedAt: string | null;
  suspendedAt: string | null;
  suspendedReason: string | null;
}
interface ConsoleUserRow {
  id: string;
  username: string;
  role: string;
  disabledAt: string | null;
  suspendedAt: string | null;
  suspendedReason: string | null;
}
interface SubjectsPage {
  since: string;
  subjects: { subjectId: string; reads: Record<string, number>; firstAt: string; lastAt: string }[];
  entries: number;
  next: string | null;
}

const en = {
  alerts: 'Exfiltration alerts',
  intro: 'An alert is raised when one token or console user is shown more distinct people within a window than the configured threshold.',
  caption: 'Alerts, newest first (from the audit log)',
  when: 'When',
  who: 'Who',
  role: 'Role',
  window: 'Window',
  subjects: 'People read / threshold',
  response: 'Response',
  actions: 'Actions',
  none: 'No alert has been raised.',
  more: 'Only the 100 newest alerts are shown; the audit page lists them all.',
  token: (name: string) => `Token “${name}”`,
  user: (name: string) => `Console user ${name}`,
  unknownUser: 'a console user',
  responses: { suspended: 'suspended', alerted: 'alert only', suspend_refused: 'not suspended (last admin token)' } as Record<string, string>,
  roles: { admin: 'admin', dpo: 'DPO', analyst: 'analyst', service: 'service', user: 'console user', unknown: 'unknown' } as Record<string, string>,
  seconds: (s: number) => (s % 86400 === 0 ? `${s / 86400} d` : s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`),
  read: 'Subjects read',
  readOf: (who: string) => `Subjects read by ${who}`,
  suspended: 'Suspended tokens',
  suspendedCaption: 'Tokens suspended by exfiltration detection',
  name: 'Name',
  since: 'Suspended at',
  reason: 'Reason',
  reasons: { exfiltration: 'exfiltration detection' } as Record<string, string>,
  noSuspended: 'No token is suspended.',
  noSuspendedUsers: 'No console user is suspended.',
  adminOnly: 'Only admins see the list of tokens and reinstate them.',
  reinstate: 'Reinstate',
  reinstateOf: (who: string) => `Reinstate ${who}`,
  reinstated: (who: string) => `${who} is active again.`,
  suspendedUsers: 'Suspended console users',
  suspendedUsersCaption: 'Console users suspended by exfiltration detection',
  period: 'Period',
  periods: [
    ['1', 'the last 24 hours'],
    ['7', 'the last 7 days'],
    ['30', 'the last 30 days'],
  ] as readonly (readonly [string, string])[],
  show: 'Show',
  subjectId: 'Subject id (pseudonymous)',
  reads: 'Reads',
  first: 'First',
  last: 'Last',
  noneRead: 'No subject read in this period.',
  nextPage: 'Show more',
  readWords: { 'profile.read': 'profile', 'profile.events': 'events', 'rights.package.read': 'rights package', 'segment.members': 'segment members' } as Record<string, string>,
};

type Words = typeof en;

const it: Words = {
  alerts: 'Allarmi di esfiltrazione',
  intro: 'Un allarme scatta quando a un token o a un utente della console vengono mostrate, in una finestra di tempo, più persone distinte della soglia configurata.',
  caption: 'Allarmi, dal più recente (dal registro di audit)',
  when: 'Quando',
  who: 'Chi',
  role: 'Ruolo',
  window: 'Finestra',
  subjects: 'Persone lette / soglia',
  response: 'Risposta',
  actions: 'Azioni',
  none: 'Nessun allarme.',
  more: 'Sono mostrati solo i 100 allarmi più recenti; la pagina di audit li elenca tutti.',
  token: (name: string) => `Token «${name}»`,
  user: (name: string) => `Utente della console ${name}`,
  unknownUser: 'un utente della console',
  responses: { suspended: 'sospeso', alerted: 'solo allarme', suspend_refused: 'non sospeso (ultimo token di amministrazione)' },
  roles: { admin: 'amministratore', dpo: 'DPO', analyst: 'analista', service: 'servizio', user: 'utente della console', unknown: 'sconosciuto' },
  seconds: (s: number) => (s % 86400 === 0 ? `${s / 86400} g` : s % 3600 === 0 ? `${s / 3600} h` : s % 60 === 0 ? `${s / 60} min` : `${s} s`),
  read: 'Interessati letti',
  readOf: (who: string) => `Interessati letti da ${who}`,
  suspended: 'Token sospesi',
  suspendedCaption: 'Token sospesi dal rilevamento di esfiltrazione',
  name: 'Nome',
  since: 'Sospeso il',
  reason: 'Motivo',
  reasons: { exfiltration: 'rilevamento di esfiltrazione' },
  noSuspended: 'Nessun token è sospeso.',
  noSuspendedUsers: 'Nessun utente della console è sospeso.',
  adminOnly: 'Solo gli amministratori vedono l’elenco dei token e li riattivano.',
  reinstate: 'Riattiva',
  reinstateOf: (who: string) => `Riattiva ${who}`,
  reinstated: (who: string) => `${who} è di nuovo attivo.`,
  suspendedUsers: 'Utenti della console sospesi',
  suspendedUsersCaption: 'Utenti della console sospesi dal rilevamento di esfiltrazione',
  period: 'Periodo',
  periods: [
    ['1', 'ultime 24 ore'],
    ['7', 'ultimi 7 giorni'],
    ['30', 'ultimi 30 giorni'],
  ],
  show: 'Mostra',
  subjectId: 'Identificativo dell’interessato (pseudonimo)',
  reads: 'Letture',
  first: 'Prima',
  last: 'Ultima',
  noneRead: 'Nessun interessato letto in questo periodo.',
  nextPage: 'Mostra altri',
  readWords: { 'profile.read': 'profilo', 'profile.events': 'eventi', 'rights.package.read': 'pacchetto dei diritti', 'segment.members': 'membri del segmento' },
};

const TEXT: Record<Lang, Words> = { en, it };

interface State {
  ctx: PageContext;
  T: Words;
  tokens: Map<string, Token> | null;
  users: Map<string, ConsoleUserRow> | null;
  /** Where the subjects a token read are shown. */
  slot: HTMLElement;
  rerender(): Promise<void>;
}

/** Reads a list an admin-only route gives; null when the caller's role may not (403). */
async function adminList<T>(ctx: PageContext, path: string, key: string): Promise<T[] | null> {
  if (ctx.user.role !== 'admin') return null;
  try {
    return (await ctx.api.get<Record<string, T[]>>(path))[key] ?? [];
  } catch (err) {
    if (err instanceof ApiError && (err.status === 403 || err.status === 404)) return null;
    throw err;
  }
}

function principalName(s: State, principal: string): string {
  if (principal.startsWith('user:')) {
    const u = s.users?.get(principal.slice(5));
    return s.T.user(u ? u.username : s.T.unknownUser);
  }
  const t = s.tokens?.get(principal);
  return t ? s.T.token(t.name) : s.T.token(principal);
}

/** The subjects-read listing of a token id or of a `user:<id>` principal. */
const subjectsReadPath = (principal: string): string =>
  principal.startsWith('user:')
    ? `/api/v1/console/users/${encodeURIComponent(principal.slice(5))}/subjects-read`
    : `/api/v1/tokens/${encodeURIComponent(principal)}/subjects-read`;

function readButton(s: State, tokenId: string, who: string): HTMLButtonElement {
  const b = button(s.T.read, { 'aria-label': s.T.readOf(who) });
  b.addEventListener('click', () => void showSubjectsRead(s, tokenId, who));
  return b;
}

function alertsSection(s: State, entries: readonly AuditEntry[], more: boolean): HTMLElement {
  const { T, ctx } = s;
  const rows = entries.map((e) => {
    const d = e.details;
    const principal = String(d.principal ?? '');
    const who = principalName(s, principal);
    const role = String(d.role ?? 'unknown');
    const window = typeof d.windowSeconds === 'number' ? T.seconds(d.windowSeconds) : null;
    const threshold = typeof d.threshold === 'number' ? number(ctx.lang, d.threshold) : '—';
    return [
      dateTime(ctx.lang, e.at),
      who,
      T.roles[role] ?? role,
      window,
      `${number(ctx.lang, e.counts.subjects ?? 0)} / ${threshold}`,
      T.responses[String(d.response)] ?? String(d.response),
      principal ? readButton(s, principal, who) : null,
    ];
  });
  const parts: Node[] = [h('p', {}, T.intro), table(T.caption, [T.when, T.who, T.role, T.window, T.subjects, T.response, T.actions], rows, T.none)];
  if (more) parts.push(h('p', { class: 'hint' }, T.more));
  return card(T.alerts, ...parts);
}

function reinstateButton(s: State, who: string, path: string): HTMLButtonElement {
  const b = button(s.T.reinstate, { 'aria-label': s.T.reinstateOf(who) });
  b.addEventListener('click', () => {
    b.disabled = true;
    s.ctx.api
      .send('POST', path)
      .then(async () => {
        s.ctx.announce(s.T.reinstated(who));
        await s.rerender();
      })
      .catch((err: unknown) => {
        b.disabled = false;
        s.ctx.announce(errorText(err, s.ctx.lang), 'error');
      });
  });
  return b;
}

function suspendedSection(s: State): HTMLElement {
  const { T, ctx } = s;
  if (!s.tokens) return card(T.suspended, h('p', {}, T.adminOnly));
  const suspended = [...s.tokens.values()].filter((t) => t.suspendedAt !== null && t.revokedAt === null);
  const rows = suspended.map((t) => {
    const who = T.token(t.name);
    return [
      t.name,
      T.roles[t.role] ?? t.role,
      dateTime(ctx.lang, t.suspendedAt),
      t.suspendedReason ? (T.reasons[t.suspendedReason] ?? t.suspendedReason) : null,
      h('div', { class: 'alerts-actions' }, reinstateButton(s, who, `/api/v1/tokens/${encodeURIComponent(t.id)}/reinstate`), readButton(s, t.id, who)),
    ];
  });
  return card(T.suspended, table(T.suspendedCaption, [T.name, T.role, T.since, T.reason, T.actions], rows, T.noSuspended));
}

/** Console users suspended by detection (admins only: the users list is theirs). */
function suspendedUsersSection(s: State): HTMLElement | null {
  const { T, ctx } = s;
  if (!s.users) return null;
  const rows = [...s.users.values()]
    .filter((u) => u.suspendedAt && !u.disabledAt)
    .map((u) => {
      const who = T.user(u.username);
      return [
        u.username,
        T.roles[u.role] ?? u.role,
        dateTime(ctx.lang, u.suspendedAt),
        u.suspendedReason ? (T.reasons[u.suspendedReason] ?? u.suspendedReason) : null,
        h('div', { class: 'alerts-actions' }, reinstateButton(s, who, `/api/v1/console/users/${encodeURIComponent(u.id)}/reinstate`), readButton(s, `user:${u.id}`, who)),
      ];
    });
  return card(T.suspendedUsers, table(T.suspendedUsersCaption, [T.name, T.role, T.since, T.reason, T.actions], rows, T.noSuspendedUsers));
}

function readsText(reads: Record<string, number>, lang: Lang, T: Words): string {
  return Object.entries(reads)
    .map(([action, n]) => `${T.readWords[action] ?? action}: ${number(lang, n)}`)
    .join(', ');
}

async function showSubjectsRead(s: State, tokenId: string, who: string): Promise<void> {
  const { T, ctx } = s;
  const days = select('days', T.periods.map(([v, l]) => [v, l] as const), '7');
  const go = button(T.show);
  const body = h('tbody', {});
  const more = button(T.nextPage);
  more.hidden = true;
  const tableEl = h('div', { class: 'table-wrap', role: 'region', 'aria-label': T.readOf(who), tabindex: '0' }, h('table', {}, h('caption', {}, T.readOf(who)), h('thead', {}, h('tr', {}, ...[T.subjectId, T.reads, T.first, T.last].map((x) => h('th', { scope: 'col' }, x)))), body));
  const heading = h('h2', { tabindex: '-1' }, T.readOf(who));
  let cursor: string | null = null;
  const load = async (fresh: boolean) => {
    const since = new Date(Date.now() - Number(days.value) * 86_400_000).toISOString();
    const page = await ctx.api.get<SubjectsPage>(subjectsReadPath(tokenId), { since, cursor: fresh ? undefined : (cursor ?? undefined) });
    if (fresh) body.replaceChildren();
    for (const r of page.subjects) body.append(h('tr', {}, h('td', {}, h('code', {}, r.subjectId)), h('td', {}, readsText(r.reads, ctx.lang, T)), h('td', {}, dateTime(ctx.lang, r.firstAt)), h('td', {}, dateTime(ctx.lang, r.lastAt))));
    if (body.children.length === 0) body.append(h('tr', {}, h('td', { colspan: '4' }, T.noneRead)));
    cursor = page.next;
    more.hidden = cursor === null;
  };
  const report = (err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error');
  go.addEventListener('click', () => void load(true).catch(report));
  more.addEventListener('click', () => void load(false).catch(report));
  s.slot.replaceChildren(h('section', { class: 'card alerts-card' }, heading, h('div', { class: 'alerts-row' }, field(T.period, days), go), tableEl, more));
  try {
    await load(true);
    heading.focus();
  } catch (err) {
    report(err);
  }
}

async function render(main: HTMLElement, ctx: PageContext): Promise<void> {
  const T = TEXT[ctx.lang];
  const heading = main.querySelector('h1');
  const [audit, tokens, users] = await Promise.all([
    ctx.api.get<{ entries: AuditEntry[]; next: number | null }>('/api/v1/audit', { action: 'exfiltration.alert', limit: 100 }),
    adminList<Token>(ctx, '/api/v1/tokens', 'tokens'),
    adminList<ConsoleUserRow>(ctx, '/api/v1/console/users', 'users'),
  ]);
  if (ctx.signal.aborted) return;
  const s: State = {
    ctx,
    T,
    tokens: tokens && new Map(tokens.map((t) => [t.id, t])),
    users: users && new Map(users.map((u) => [u.id, u])),
    slot: h('div', {}),
    async rerender() {
      main.replaceChildren(...(heading ? [heading] : []));
      await render(main, ctx).catch((err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error'));
    },
  };
  const parts = [alertsSection(s, audit.entries, audit.next !== null), suspendedSection(s), suspendedUsersSection(s), s.slot];
  main.append(...parts.filter((p): p is HTMLElement => p !== null));
}

export const alertsPage: ConsolePage = {
  id: 'alerts',
  title: { en: 'Alerts', it: 'Allarmi' },
  // The audit log and the subjects a token read answer admin and dpo; the token list and reinstating, admin only.
  roles: ['admin', 'dpo'],
  render,
};
