// Sources and their write keys (docs/security.md "Sources and their keys"): list, create, rotate a key, revoke. A new key
// is shown once; browser keys are public by nature and listed, server keys are stored only as hashes and never shown
// again. Every source links to its live debugger.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, errorText, field, form, h, input, section, select, table } from '../ui.ts';
import { confirmStep, showSecretOnce, type Secret } from './sources-tokens-shared.ts';

interface Source {
  id: string;
  name: string;
  kind: 'browser' | 'server';
  writeKey: string | null;
  createdAt: string;
  revokedAt: string | null;
}
interface Created {
  id: string;
  kind: 'browser' | 'server';
  writeKey: string;
  verificationSecret?: string;
}

const TEXT = {
  en: {
    intro: 'A source is one place that sends data to Fiducia (a website, an app, a shop’s server). Each has a write key.',
    kindsTitle: 'Browser keys and server keys',
    browserKind: 'Browser source',
    browserText:
      'Its write key goes into web pages and apps, so it is public: it can only send about the visitor of that browser. A userId it sends counts only with a userHash, which your server computes with the source’s verification secret (keep that secret on your servers).',
    serverKind: 'Server source',
    serverText:
      'Its write key stays on your servers and pipelines. What it sends is taken as the shop’s word: its userId, email and phone link to profiles. Fiducia keeps only a hash of it, so it is shown once and never again.',
    createTitle: 'New source',
    name: 'Name',
    nameHint: 'For people: e.g. “shop website” or “order system”.',
    kind: 'Kind',
    kinds: { browser: 'browser (public key, for web pages and apps)', server: 'server (secret key, for your servers)' },
    kindShort: { browser: 'browser', server: 'server' },
    create: 'Create source',
    listTitle: 'Sources',
    caption: 'Sources and their write keys',
    headers: ['Name', 'Kind', 'Write key', 'Created', 'Status', 'Actions'],
    hiddenKey: 'not shown: stored as a hash',
    active: 'active',
    revokedOn: (d: string) => `revoked on ${d}`,
    none: 'There is no source yet.',
    debuggerLink: (name: string) => `Live debugger of ${name}`,
    debugger: 'Live debugger',
    rotate: 'Rotate key',
    rotateOf: (name: string) => `Rotate key of ${name}`,
    revoke: 'Revoke',
    revokeOf: (name: string) => `Revoke ${name}`,
    created: (name: string) => `Source “${name}” created.`,
    rotated: (name: string) => `New key issued for “${name}”.`,
    revoked: (name: string) => `Source “${name}” revoked.`,
    newKeyTitle: (name: string) => `The keys of “${name}”`,
    onceWarning: 'Copy them now: they will not be shown again. Whoever holds a key can send data as this source.',
    writeKey: 'write key',
    writeKeyHint: { browser: 'Goes into your web pages and apps.', server: 'Keep it on your servers only.' },
    verificationSecret: 'verification secret',
    verificationHint: 'For your servers only: they compute each signed-in user’s userHash with it.',
    rotateTitle: (name: string) => `Rotate the key of “${name}”?`,
    rotateBody:
      'A new write key is issued and the current one stops working at once (within 30 seconds on other Fiducia processes): every page or server that sends with it needs the new one.',
    keepSecret: 'Keep the verification secret (pages already carry userHash values made with it)',
    rotateConfirm: 'Issue a new key',
    revokeTitle: (name: string) => `Revoke “${name}”?`,
    revokeBody: 'The source and its keys stop working for good: whatever still sends with them is refused. This cannot be undone. Its debugger lines stay readable until they are pruned.',
    revokeConfirm: 'Revoke the source',
  },
  it: {
    intro: 'Una sorgente è un punto che invia dati a Fiducia (un sito, un’app, il server di un negozio). Ognuna ha una chiave di scrittura.',
    kindsTitle: 'Chiavi browser e chiavi server',
    browserKind: 'Sorgente browser',
    browserText:
      'La sua chiave di scrittura va nelle pagine web e nelle app, quindi è pubblica: può inviare dati solo sul visitatore di quel browser. Uno userId inviato da essa vale solo con uno userHash, che il vostro server calcola con il segreto di verifica della sorgente (da tenere sui vostri server).',
    serverKind: 'Sorgente server',
    serverText:
      'La sua chiave di scrittura resta sui vostri server e nelle pipeline. Ciò che invia vale come parola del negozio: userId, email e telefono collegano i profili. Fiducia ne conserva solo un hash, perciò viene mostrata una sola volta.',
    createTitle: 'Nuova sorgente',
    name: 'Nome',
    nameHint: 'Per le persone: ad es. “sito del negozio” o “sistema ordini”.',
    kind: 'Tipo',
    kinds: { browser: 'browser (chiave pubblica, per pagine web e app)', server: 'server (chiave segreta, per i vostri server)' },
    kindShort: { browser: 'browser', server: 'server' },
    create: 'Crea la sorgente',
    listTitle: 'Sorgenti',
    caption: 'Sorgenti e chiavi di scrittura',
    headers: ['Nome', 'Tipo', 'Chiave di scrittura', 'Creata', 'Stato', 'Azioni'],
    hiddenKey: 'non mostrata: conservata come hash',
    active: 'attiva',
    revokedOn: (d: string) => `revocata il ${d}`,
    none: 'Non esiste ancora alcuna sorgente.',
    debuggerLink: (name: string) => `Debugger in tempo reale di ${name}`,
    debugger: 'Debugger',
    rotate: 'Nuova chiave',
    rotateOf: (name: string) => `Nuova chiave per ${name}`,
    revoke: 'Revoca',
    revokeOf: (name: string) => `Revoca ${name}`,
    created: (name: string) => `Sorgente “${name}” creata.`,
    rotated: (name: string) => `Nuova chiave emessa per “${name}”.`,
    revoked: (name: string) => `Sorgente “${name}” revocata.`,
    newKeyTitle: (name: string) => `Le chiavi di “${name}”`,
    onceWarning: 'Copiarle ora: non verranno più mostrate. Chi possiede una chiave può inviare dati come questa sorgente.',
    writeKey: 'chiave di scrittura',
    writeKeyHint: { browser: 'Va nelle vostre pagine web e app.', server: 'Da tenere solo sui vostri server.' },
    verificationSecret: 'segreto di verifica',
    verificationHint: 'Solo per i vostri server: con esso calcolano lo userHash di ogni utente autenticato.',
    rotateTitle: (name: string) => `Emettere una nuova chiave per “${name}”?`,
    rotateBody:
      'Viene emessa una nuova chiave di scrittura e quella attuale smette subito di funzionare (entro 30 secondi sugli altri processi di Fiducia): ogni pagina o server che la usa ha bisogno di quella nuova.',
    keepSecret: 'Mantieni il segreto di verifica (le pagine hanno già valori userHash calcolati con esso)',
    rotateConfirm: 'Emetti una nuova chiave',
    revokeTitle: (name: string) => `Revocare “${name}”?`,
    revokeBody: 'La sorgente e le sue chiavi smettono di funzionare per sempre: ciò che le usa ancora viene rifiutato. Non si può annullare. Le righe del debugger restano leggibili finché non vengono eliminate.',
    revokeConfirm: 'Revoca la sorgente',
  },
} satisfies Record<Lang, unknown>;
type T = (typeof TEXT)[Lang];

function secretsOf(t: T, created: Created): Secret[] {
  const out: Secret[] = [{ label: t.writeKey, value: created.writeKey, hint: t.writeKeyHint[created.kind] }];
  if (created.verificationSecret) out.push({ label: t.verificationSecret, value: created.verificationSecret, hint: t.verificationHint });
  return out;
}

function kindsSection(t: T): HTMLElement {
  return section(t.kindsTitle, h('h3', {}, t.browserKind), h('p', {}, t.browserText), h('h3', {}, t.serverKind), h('p', {}, t.serverText));
}

interface Env {
  ctx: PageContext;
  t: T;
  slot: HTMLElement;
  reload: () => Promise<void>;
  report: (err: unknown) => void;
}

function showKeys(env: Env, name: string, created: Created): void {
  showSecretOnce(env.slot, env.ctx.lang, { title: env.t.newKeyTitle(name), warning: env.t.onceWarning, secrets: secretsOf(env.t, created) }, env.ctx.announce);
}

function askRotate(env: Env, s: Source): void {
  const { ctx, t } = env;
  const keep = h('input', { type: 'checkbox', name: 'keepVerificationSecret', id: `keep-${s.id}` });
  const extra = s.kind === 'browser' ? [h('div', { class: 'check' }, keep, h('label', { for: keep.id }, t.keepSecret))] : [];
  confirmStep(
    env.slot,
    ctx.lang,
    { title: t.rotateTitle(s.name), body: t.rotateBody, confirm: t.rotateConfirm, extra, danger: true },
    async () => {
      const body = s.kind === 'browser' ? { keepVerificationSecret: keep.checked } : {};
      const created = await ctx.api.send<Created>('POST', `/api/v1/sources/${encodeURIComponent(s.id)}/rotate`, body);
      await env.reload();
      showKeys(env, s.name, created);
      ctx.announce(t.rotated(s.name));
    },
    env.report,
  );
}

function askRevoke(env: Env, s: Source): void {
  const { ctx, t } = env;
  confirmStep(
    env.slot,
    ctx.lang,
    { title: t.revokeTitle(s.name), body: t.revokeBody, confirm: t.revokeConfirm },
    async () => {
      await ctx.api.send('DELETE', `/api/v1/sources/${encodeURIComponent(s.id)}`);
      await env.reload();
      ctx.announce(t.revoked(s.name));
    },
    env.report,
  );
}

function sourceRow(env: Env, s: Source): (Node | string)[] {
  const { ctx, t } = env;
  const actions = h('div', { class: 'actions' }, h('a', { href: `#/debugger?source=${encodeURIComponent(s.id)}`, 'aria-label': t.debuggerLink(s.name) }, t.debugger));
  if (s.revokedAt === null) {
    const rotate = button(t.rotate, { 'aria-label': t.rotateOf(s.name) });
    rotate.addEventListener('click', () => askRotate(env, s));
    const revoke = button(t.revoke, { class: 'danger', 'aria-label': t.revokeOf(s.name) });
    revoke.addEventListener('click', () => askRevoke(env, s));
    actions.append(rotate, revoke);
  }
  // A revoked source's key works no more (a revoked browser source's is not listed either).
  const key = s.writeKey !== null ? h('code', { class: 'src-key' }, s.writeKey) : s.revokedAt === null ? h('span', { class: 'hint' }, t.hiddenKey) : '—';
  const status = s.revokedAt === null ? h('span', { class: 'badge' }, t.active) : h('span', { class: 'badge warn' }, t.revokedOn(dateTime(ctx.lang, s.revokedAt)));
  return [s.name, t.kindShort[s.kind], key, dateTime(ctx.lang, s.createdAt), status, actions];
}

function createForm(env: Env): HTMLFormElement {
  const { ctx, t } = env;
  const kinds = select('kind', [['browser', t.kinds.browser], ['server', t.kinds.server]], 'server');
  return form(
    t.createTitle,
    [field(t.name, input('name', { required: '', maxlength: '100', autocomplete: 'off' }), t.nameHint), field(t.kind, kinds), h('button', { type: 'submit', class: 'primary' }, t.create)],
    async (data, f) => {
      const name = String(data.get('name')).trim();
      const created = await ctx.api.send<Created>('POST', '/api/v1/sources', { name, kind: String(data.get('kind')) });
      f.reset();
      await env.reload();
      showKeys(env, name, created);
      ctx.announce(t.created(name));
    },
    env.report,
  );
}

export const sourcesPage: ConsolePage = {
  id: 'sources',
  title: { en: 'Sources and write keys', it: 'Sorgenti e chiavi di scrittura' },
  // Every /api/v1/sources route is admin only.
  roles: ['admin'],
  async render(main, ctx) {
    const t = TEXT[ctx.lang];
    const slot = h('div', { class: 'src-slot' });
    const listBox = h('div', { class: 'src-list' });
    const env: Env = {
      ctx,
      t,
      slot,
      report: (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
      reload: async () => {
        const { sources } = await ctx.api.get<{ sources: Source[] }>('/api/v1/sources');
        if (ctx.signal.aborted) return;
        listBox.replaceChildren(table(t.caption, t.headers, sources.map((s) => sourceRow(env, s)), t.none));
      },
    };
    await env.reload();
    main.append(h('p', {}, t.intro), slot, section(t.listTitle, listBox), section(t.createTitle, createForm(env)), kindsSection(t));
  },
};
