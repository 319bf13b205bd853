// API tokens: list (suspended ones marked, docs/exfiltration.md), create with a role (the secret shown once), revoke with
// a confirmation, and for a suspended token reinstate it and list the subjects it read (pseudonymous ids only).
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, field, form, h, input, number, section, select, table } from '../ui.ts';
import { confirmStep, showSecretOnce } from './sources-tokens-shared.ts';

type Role = 'admin' | 'dpo' | 'analyst' | 'service';
interface Token {
  id: string;
  name: string;
  role: string;
  purposes: string[];
  createdAt: string;
  revokedAt: string | null;
  suspendedAt: string | null;
  suspendedReason: string | null;
}
interface Purpose {
  key: string;
  name: string;
}
interface SubjectsPage {
  since: string;
  subjects: { subjectId: string; reads: Record<string, number>; firstAt: string; lastAt: string }[];
  segmentPages: { segment: string; purpose: string | null; members: number; at: string }[];
  entries: number;
  next: string | null;
}

const ROLES: readonly Role[] = ['analyst', 'dpo', 'service', 'admin'];

const TEXT = {
  en: {
    intro: 'API tokens let programs and people call Fiducia’s API with a role. A token is shown once when created; Fiducia keeps only its hash.',
    listTitle: 'API tokens',
    caption: 'API tokens',
    headers: ['Name', 'Role', 'Purposes', 'Created', 'Status', 'Actions'],
    none: 'There is no token.',
    roles: { admin: 'admin', dpo: 'DPO', analyst: 'analyst', service: 'service' } as Record<string, string>,
    roleHelp: {
      admin: 'admin — everything, including tokens and sources',
      dpo: 'DPO — rights requests, audit log, record of processing',
      analyst: 'analyst — segments and counts, the live debugger; no one’s profile',
      service: 'service — a program reading profiles for the purposes it is bound to',
    } as Record<Role, string>,
    active: 'active',
    revokedOn: (d: string) => `revoked on ${d}`,
    suspendedOn: (d: string) => `suspended on ${d}`,
    reasons: { exfiltration: 'it read too many different people in a short time (exfiltration detection)' } as Record<string, string>,
    revoke: 'Revoke',
    revokeOf: (n: string) => `Revoke ${n}`,
    reinstate: 'Reinstate',
    reinstateOf: (n: string) => `Reinstate ${n}`,
    subjects: 'Subjects read',
    subjectsOf: (n: string) => `Subjects read by ${n}`,
    createTitle: 'New token',
    name: 'Name',
    nameHint: 'Who or what uses it: e.g. “recommendation service”.',
    role: 'Role',
    purposes: 'Purposes (service tokens only; at least one)',
    needPurpose: 'A service token needs at least one purpose.',
    create: 'Create token',
    created: (n: string) => `Token “${n}” created.`,
    secretTitle: (n: string) => `The token “${n}”`,
    onceWarning: 'Copy it now: it will not be shown again. Whoever holds it acts with its role.',
    secretLabel: 'token',
    revokeTitle: (n: string) => `Revoke “${n}”?`,
    revokeBody: 'Every request with this token is refused from now on. This cannot be undone.',
    revokeConfirm: 'Revoke the token',
    revoked: (n: string) => `Token “${n}” revoked.`,
    reinstateTitle: (n: string) => `Reinstate “${n}”?`,
    reinstateBody: 'Exfiltration detection suspended this token. Reinstate it only once you know why it read so many people; if it should not come back, revoke it instead.',
    reinstateConfirm: 'Reinstate the token',
    reinstated: (n: string) => `Token “${n}” reinstated.`,
    subjectsTitle: (n: string) => `Subjects read by “${n}”`,
    subjectsIntro: (d: string) => `Pseudonymous subject ids shown to this token since ${d}, from the audit log (this listing is audited too).`,
    subjectsCaption: 'Subjects read',
    subjectsHeaders: ['Subject (pseudonymous id)', 'Reads', 'First', 'Last'],
    noSubjects: 'No subject was read by this token in this period.',
    segmentsCaption: 'Segment member pages listed',
    segmentsHeaders: ['Segment', 'Purpose', 'Members', 'When'],
    more: 'Show more',
    actions: {
      'profile.read': 'profile read',
      'profile.events': 'events read',
      'rights.package.read': 'rights package read',
      'segment.members': 'segment members',
    } as Record<string, string>,
  },
  it: {
    intro: 'I token API permettono a programmi e persone di usare l’API di Fiducia con un ruolo. Un token viene mostrato una sola volta alla creazione; Fiducia ne conserva solo l’hash.',
    listTitle: 'Token API',
    caption: 'Token API',
    headers: ['Nome', 'Ruolo', 'Finalità', 'Creato', 'Stato', 'Azioni'],
    none: 'Non esiste alcun token.',
    roles: { admin: 'amministratore', dpo: 'DPO', analyst: 'analista', service: 'servizio' } as Record<string, string>,
    roleHelp: {
      admin: 'amministratore — tutto, compresi token e sorgenti',
      dpo: 'DPO — richieste degli interessati, registro di audit, registro dei trattamenti',
      analyst: 'analista — segmenti e conteggi, debugger in tempo reale; nessun profilo',
      service: 'servizio — un programma che legge profili per le finalità a cui è legato',
    } as Record<Role, string>,
    active: 'attivo',
    revokedOn: (d: string) => `revocato il ${d}`,
    suspendedOn: (d: string) => `sospeso il ${d}`,
    reasons: { exfiltration: 'ha letto troppe persone diverse in poco tempo (rilevamento di esfiltrazione)' } as Record<string, string>,
    revoke: 'Revoca',
    revokeOf: (n: string) => `Revoca ${n}`,
    reinstate: 'Riattiva',
    reinstateOf: (n: string) => `Riattiva ${n}`,
    subjects: 'Interessati letti',
    subjectsOf: (n: string) => `Interessati letti da ${n}`,
    createTitle: 'Nuovo token',
    name: 'Nome',
    nameHint: 'Chi o che cosa lo usa: ad es. “servizio di raccomandazioni”.',
    role: 'Ruolo',
    purposes: 'Finalità (solo token di servizio; almeno una)',
    needPurpose: 'Un token di servizio ha bisogno di almeno una finalità.',
    create: 'Crea il token',
    created: (n: string) => `Token “${n}” creato.`,
    secretTitle: (n: string) => `Il token “${n}”`,
    onceWarning: 'Copiarlo ora: non verrà più mostrato. Chi lo possiede agisce con il suo ruolo.',
    secretLabel: 'token',
    revokeTitle: (n: string) => `Revocare “${n}”?`,
    revokeBody: 'Da ora ogni richiesta con questo token viene rifiutata. Non si può annullare.',
    revokeConfirm: 'Revoca il token',
    revoked: (n: string) => `Token “${n}” revocato.`,
    reinstateTitle: (n: string) => `Riattivare “${n}”?`,
    reinstateBody: 'Il rilevamento di esfiltrazione ha sospeso questo token. Riattivarlo solo dopo aver capito perché ha letto tante persone; se non deve tornare attivo, revocarlo.',
    reinstateConfirm: 'Riattiva il token',
    reinstated: (n: string) => `Token “${n}” riattivato.`,
    subjectsTitle: (n: string) => `Interessati letti da “${n}”`,
    subjectsIntro: (d: string) => `Id pseudonimi degli interessati mostrati a questo token dal ${d}, dal registro di audit (anche questa consultazione è registrata).`,
    subjectsCaption: 'Interessati letti',
    subjectsHeaders: ['Interessato (id pseudonimo)', 'Letture', 'Prima', 'Ultima'],
    noSubjects: 'Nessun interessato letto da questo token nel periodo.',
    segmentsCaption: 'Pagine di membri di segmenti elencate',
    segmentsHeaders: ['Segmento', 'Finalità', 'Membri', 'Quando'],
    more: 'Mostra altri',
    actions: {
      'profile.read': 'profilo letto',
      'profile.events': 'eventi letti',
      'rights.package.read': 'pacchetto di una richiesta letto',
      'segment.members': 'membri di un segmento',
    } as Record<string, string>,
  },
} satisfies Record<Lang, unknown>;
type T = (typeof TEXT)[Lang];

interface Env {
  ctx: PageContext;
  t: T;
  slot: HTMLElement;
  purposes: Map<string, string>;
  reload: () => Promise<void>;
  report: (err: unknown) => void;
}

const path = (id: string, rest = '') => `/api/v1/tokens/${encodeURIComponent(id)}${rest}`;

function readsText(env: Env, reads: Record<string, number>): string {
  return Object.entries(reads)
    .map(([action, n]) => `${env.t.actions[action] ?? action}: ${number(env.ctx.lang, n)}`)
    .join(', ');
}

/** The subjects a token read, a page at a time (each page is audited by the API). */
async function showSubjects(env: Env, tok: Token): Promise<void> {
  const { ctx, t } = env;
  const headingId = `subjects-${tok.id}`;
  const heading = h('h2', { id: headingId, tabindex: '-1' }, t.subjectsTitle(tok.name));
  const panel = h('section', { class: 'card tok-subjects', 'aria-labelledby': headingId }, heading);
  const load = async (cursor?: string) => {
    const page = await ctx.api.get<SubjectsPage>(path(tok.id, '/subjects-read'), { cursor });
    if (!cursor) panel.append(h('p', {}, t.subjectsIntro(dateTime(ctx.lang, page.since))));
    const rows = page.subjects.map((s) => [h('code', {}, s.subjectId), readsText(env, s.reads), dateTime(ctx.lang, s.firstAt), dateTime(ctx.lang, s.lastAt)]);
    panel.append(table(t.subjectsCaption, t.subjectsHeaders, rows, t.noSubjects));
    if (page.segmentPages.length > 0) {
      const segs = page.segmentPages.map((p) => [p.segment, p.purpose === null ? null : (env.purposes.get(p.purpose) ?? p.purpose), number(ctx.lang, p.members), dateTime(ctx.lang, p.at)]);
      panel.append(table(t.segmentsCaption, t.segmentsHeaders, segs));
    }
    if (page.next !== null) {
      const more = button(t.more);
      const next = page.next;
      more.addEventListener('click', () => {
        more.remove();
        load(next).catch(env.report);
      });
      panel.append(more);
    }
  };
  await load();
  env.slot.replaceChildren(panel);
  heading.focus();
}

function askRevoke(env: Env, tok: Token): void {
  const { ctx, t } = env;
  confirmStep(env.slot, ctx.lang, { title: t.revokeTitle(tok.name), body: t.revokeBody, confirm: t.revokeConfirm }, async () => {
    await ctx.api.send('DELETE', path(tok.id));
    await env.reload();
    ctx.announce(t.revoked(tok.name));
  }, env.report);
}

function askReinstate(env: Env, tok: Token): void {
  const { ctx, t } = env;
  confirmStep(env.slot, ctx.lang, { title: t.reinstateTitle(tok.name), body: t.reinstateBody, confirm: t.reinstateConfirm, danger: false }, async () => {
    await ctx.api.send('POST', path(tok.id, '/reinstate'));
    await env.reload();
    ctx.announce(t.reinstated(tok.name));
  }, env.report);
}

function statusOf(env: Env, tok: Token): Node {
  const { ctx, t } = env;
  if (tok.revokedAt !== null) return h('span', { class: 'badge' }, t.revokedOn(dateTime(ctx.lang, tok.revokedAt)));
  if (tok.suspendedAt === null) return h('span', { class: 'badge' }, t.active);
  const why = tok.suspendedReason === null ? '' : (t.reasons[tok.suspendedReason] ?? tok.suspendedReason);
  return h('span', { class: 'tok-suspended' }, h('span', { class: 'badge warn' }, t.suspendedOn(dateTime(ctx.lang, tok.suspendedAt))), why ? ` ${why}` : '');
}

function tokenRow(env: Env, tok: Token): (Node | string | null)[] {
  const { t } = env;
  const actions = h('div', { class: 'actions' });
  const act = (label: string, aria: string, cls: string, run: () => void) => {
    const b = button(label, { 'aria-label': aria, ...(cls ? { class: cls } : {}) });
    b.addEventListener('click', run);
    actions.append(b);
  };
  if (tok.revokedAt === null && tok.suspendedAt !== null) {
    act(t.reinstate, t.reinstateOf(tok.name), 'primary', () => askReinstate(env, tok));
    act(t.subjects, t.subjectsOf(tok.name), '', () => void showSubjects(env, tok).catch(env.report));
  }
  if (tok.revokedAt === null) act(t.revoke, t.revokeOf(tok.name), 'danger', () => askRevoke(env, tok));
  const purposes = tok.purposes.length === 0 ? null : tok.purposes.map((p) => env.purposes.get(p) ?? p).join(', ');
  return [tok.name, t.roles[tok.role] ?? tok.role, purposes, dateTime(env.ctx.lang, tok.createdAt), statusOf(env, tok), actions];
}

function createForm(env: Env): HTMLFormElement {
  const { ctx, t } = env;
  const role = select('role', ROLES.map((r) => [r, t.roleHelp[r]] as const), 'analyst');
  const boxes = [...env.purposes].map(([key, name]) => {
    const id = `tok-purpose-${key}`;
    return h('div', { class: 'check' }, h('input', { type: 'checkbox', name: 'purposes', value: key, id }), h('label', { for: id }, name));
  });
  const purposes = h('fieldset', { class: 'tok-purposes' }, h('legend', {}, t.purposes), ...boxes);
  const sync = () => (purposes.hidden = role.value !== 'service');
  role.addEventListener('change', sync);
  sync();
  return form(
    t.createTitle,
    [field(t.name, input('name', { required: '', maxlength: '100', autocomplete: 'off' }), t.nameHint), field(t.role, role), purposes, h('button', { type: 'submit', class: 'primary' }, t.create)],
    async (data, f) => {
      const name = String(data.get('name')).trim();
      const chosen = role.value as Role;
      const picked = data.getAll('purposes').map(String);
      if (chosen === 'service' && picked.length === 0) return ctx.announce(t.needPurpose, 'error');
      const created = await ctx.api.send<{ id: string; token: string }>('POST', '/api/v1/tokens', { name, role: chosen, ...(chosen === 'service' ? { purposes: picked } : {}) });
      f.reset();
      sync();
      await env.reload();
      showSecretOnce(env.slot, ctx.lang, { title: t.secretTitle(name), warning: t.onceWarning, secrets: [{ label: t.secretLabel, value: created.token }] }, ctx.announce);
      ctx.announce(t.created(name));
    },
    env.report,
  );
}

async function purposeNames(ctx: PageContext): Promise<Map<string, string>> {
  try {
    const r = await ctx.api.get<{ purposes: Purpose[] }>('/api/v1/ropa/purposes', { lang: ctx.lang });
    return new Map(r.purposes.map((p) => [p.key, p.name]));
  } catch {
    return new Map();
  }
}

export const tokensPage: ConsolePage = {
  id: 'tokens',
  title: { en: 'API tokens', it: 'Token API' },
  // Listing, creating, revoking and reinstating tokens are admin only (dpo may list what a token read, not the tokens).
  roles: ['admin'],
  async render(main, ctx) {
    const t = TEXT[ctx.lang];
    const slot = h('div', { class: 'tok-slot' });
    const listBox = h('div', { class: 'tok-list' });
    const env: Env = {
      ctx,
      t,
      slot,
      purposes: await purposeNames(ctx),
      report: (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
      reload: async () => {
        const { tokens } = await ctx.api.get<{ tokens: Token[] }>('/api/v1/tokens');
        if (ctx.signal.aborted) return;
        listBox.replaceChildren(table(t.caption, t.headers, tokens.map((tok) => tokenRow(env, tok)), t.none));
      },
    };
    await env.reload();
    main.append(h('p', {}, t.intro), slot, section(t.listTitle, listBox), section(t.createTitle, createForm(env)));
  },
};
