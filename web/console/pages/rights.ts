// The Rights requests page: the queue of data-subject requests, overdue first and then by due date, with the actions
// the rights API offers (process, extend, reject, lift a restriction, download the package) and staff-entered requests.
import type { Lang } from '../../shared/dom.ts';
import type { ConsolePage, PageContext } from '../page.ts';
import { button, dateTime, day, errorText, facts, field, form, h, input, section, select, table } from '../ui.ts';

const TYPES = ['access', 'portability', 'rectification', 'erasure', 'restriction', 'objection'] as const;
const STATUSES = ['received', 'verified', 'in_progress', 'completed', 'rejected'] as const;
/** The rejection reasons staff may give (the others are set by Fiducia itself). */
const STAFF_REJECTIONS = ['manifestly_unfounded', 'excessive', 'identity_not_confirmed', 'not_applicable', 'other'] as const;

const TEXT = {
  en: {
    intro: 'Requests from people about their data. Overdue requests come first, then by due date. Every step is recorded in the audit log.',
    types: { access: 'Access (Art. 15)', portability: 'Portability (Art. 20)', rectification: 'Rectification (Art. 16)', erasure: 'Erasure (Art. 17)', restriction: 'Restriction (Art. 18)', objection: 'Objection (Art. 21)' } as Record<string, string>,
    statuses: { received: 'awaiting verification', verified: 'verified', in_progress: 'in progress', completed: 'completed', rejected: 'rejected' } as Record<string, string>,
    steps: { received: 'received', verified: 'verified', started: 'started', waiting: 'waiting', rows_deleted: 'data deleted', completed: 'completed', rejected: 'rejected', extended: 'deadline extended', restriction_lifted: 'restriction lifted' } as Record<string, string>,
    waiting: { legal_hold: 'waiting for a legal hold to be released', needs_values: 'waiting for the corrected values', key_destruction: 'waiting for the key destruction to be retried' } as Record<string, string>,
    rejections: { manifestly_unfounded: 'manifestly unfounded', excessive: 'excessive', identity_not_confirmed: 'identity not confirmed', not_applicable: 'not applicable', other: 'other', verification_expired: 'verification expired', too_many_attempts: 'too many attempts', mail_failed: 'e-mail could not be sent' } as Record<string, string>,
    channels: { staff: 'entered by staff', self_service: 'privacy center' } as Record<string, string>,
    filters: 'Filters',
    status: 'Status',
    type: 'Type',
    all: 'All',
    overdueOnly: 'Overdue only',
    apply: 'Show',
    queue: 'Requests',
    received: 'Received',
    due: 'Due',
    overdue: 'overdue',
    identity: 'Identified by',
    actions: 'Actions',
    open: 'Open',
    openLabel: (type: string, due: string) => `Open the ${type} request due ${due}`,
    none: 'No requests match.',
    more: 'More requests',
    request: 'Request',
    id: 'Request id',
    channel: 'Channel',
    language: 'Language',
    subject: 'Pseudonymous id',
    verified: 'Verified',
    closed: 'Closed',
    extension: 'Extension',
    extended: (m: number, reason: string) => `${m} month(s): ${reason}`,
    reason: 'Reason',
    outcome: 'Outcome',
    history: 'History',
    at: 'When',
    step: 'Step',
    actor: 'By',
    package: 'Package',
    expires: (d: string) => `Downloadable until ${d}.`,
    download: (f: string) => `Download (${f.toUpperCase()})`,
    process: 'Carry out now',
    processValues: 'Corrected values (rectification), one per line: name: value',
    processHint: 'An empty value removes the field. Leave empty for other requests.',
    extend: 'Extend the deadline',
    months: 'Months',
    extendReason: 'Reason for the extension (told to the person)',
    reject: 'Reject',
    rejectReason: 'Reason for rejecting',
    note: 'Note (optional)',
    lift: 'Lift the restriction',
    liftReason: 'Reason for lifting the restriction',
    done: { process: 'The request was carried out', extend: 'The deadline was extended', reject: 'The request was rejected', lift: 'The restriction was lifted' } as Record<string, string>,
    nowStatus: (what: string, status: string) => `${what}: now ${status}.`,
    create: 'New request',
    createIntro: 'For a request that reached you by letter, phone or e-mail, after you have checked who the person is. It is carried out at once.',
    kind: 'Identifier type',
    kinds: { userId: 'User id', anonymousId: 'Anonymous id', email: 'E-mail address', phone: 'Phone number' },
    value: 'Identifier',
    requestLanguage: 'Language of the answer',
    langs: { it: 'Italian', en: 'English' },
    details: 'Details (optional)',
    receivedOn: 'Received on (if earlier than today)',
    purposes: 'Purposes objected to (objection; none ticked: the direct-marketing ones)',
    traits: 'Corrected values (rectification), one per line: name: value',
    suppress: 'Also drop later events with the same identifiers (erasure)',
    created: (type: string, status: string, due: string) => `${type} request created: ${status}, due ${due}.`,
    badValues: 'Write the values one per line as name: value.',
    outcomeWords: { subjectFound: 'person found', identities: 'identifiers', traits: 'profile fields', events: 'events', consents: 'consent choices', unreadable: 'unreadable items', expiresAt: 'package available until', suppressed: 'later events suppressed', keysDestroyed: 'keys destroyed', updated: 'fields corrected', added: 'fields added', removed: 'fields removed', refused: 'fields refused', restricted: 'processing restricted', liftedAt: 'restriction lifted on', liftReason: 'reason for lifting', purposes: 'purposes', note: 'note' } as Record<string, string>,
    yes: 'yes',
    no: 'no',
  },
  it: {
    intro: "Richieste delle persone sui propri dati. Prima quelle scadute, poi per scadenza. Ogni passo è registrato nel registro di audit.",
    types: { access: 'Accesso (art. 15)', portability: 'Portabilità (art. 20)', rectification: 'Rettifica (art. 16)', erasure: 'Cancellazione (art. 17)', restriction: 'Limitazione (art. 18)', objection: 'Opposizione (art. 21)' } as Record<string, string>,
    statuses: { received: 'in attesa di verifica', verified: 'verificata', in_progress: 'in lavorazione', completed: 'eseguita', rejected: 'respinta' } as Record<string, string>,
    steps: { received: 'ricevuta', verified: 'verificata', started: 'avviata', waiting: 'in attesa', rows_deleted: 'dati cancellati', completed: 'eseguita', rejected: 'respinta', extended: 'termine prorogato', restriction_lifted: 'limitazione revocata' } as Record<string, string>,
    waiting: { legal_hold: 'in attesa della revoca di un blocco legale', needs_values: 'in attesa dei valori corretti', key_destruction: 'in attesa di ritentare la distruzione della chiave' } as Record<string, string>,
    rejections: { manifestly_unfounded: 'manifestamente infondata', excessive: 'eccessiva', identity_not_confirmed: 'identità non confermata', not_applicable: 'non applicabile', other: 'altro', verification_expired: 'verifica scaduta', too_many_attempts: 'troppi tentativi', mail_failed: "impossibile inviare l'e-mail" } as Record<string, string>,
    channels: { staff: 'inserita dal personale', self_service: 'centro privacy' } as Record<string, string>,
    filters: 'Filtri',
    status: 'Stato',
    type: 'Tipo',
    all: 'Tutti',
    overdueOnly: 'Solo scadute',
    apply: 'Mostra',
    queue: 'Richieste',
    received: 'Ricevuta',
    due: 'Scadenza',
    overdue: 'scaduta',
    identity: 'Identificata da',
    actions: 'Azioni',
    open: 'Apri',
    openLabel: (type: string, due: string) => `Apri la richiesta di ${type} con scadenza ${due}`,
    none: 'Nessuna richiesta corrisponde.',
    more: 'Altre richieste',
    request: 'Richiesta',
    id: 'Id della richiesta',
    channel: 'Canale',
    language: 'Lingua',
    subject: 'Id pseudonimo',
    verified: 'Verificata',
    closed: 'Chiusa',
    extension: 'Proroga',
    extended: (m: number, reason: string) => `${m} mesi: ${reason}`,
    reason: 'Motivo',
    outcome: 'Esito',
    history: 'Cronologia',
    at: 'Quando',
    step: 'Passo',
    actor: 'Da',
    package: 'Pacchetto',
    expires: (d: string) => `Scaricabile fino al ${d}.`,
    download: (f: string) => `Scarica (${f.toUpperCase()})`,
    process: 'Esegui ora',
    processValues: 'Valori corretti (rettifica), uno per riga: nome: valore',
    processHint: 'Un valore vuoto elimina il campo. Lasciare vuoto per le altre richieste.',
    extend: 'Proroga il termine',
    months: 'Mesi',
    extendReason: 'Motivo della proroga (comunicato alla persona)',
    reject: 'Respingi',
    rejectReason: 'Motivo del rifiuto',
    note: 'Nota (facoltativa)',
    lift: 'Revoca la limitazione',
    liftReason: 'Motivo della revoca della limitazione',
    done: { process: 'La richiesta è stata eseguita', extend: 'Il termine è stato prorogato', reject: 'La richiesta è stata respinta', lift: 'La limitazione è stata revocata' } as Record<string, string>,
    nowStatus: (what: string, status: string) => `${what}: ora è ${status}.`,
    create: 'Nuova richiesta',
    createIntro: "Per una richiesta arrivata per lettera, telefono o e-mail, dopo aver verificato chi è la persona. Viene eseguita subito.",
    kind: 'Tipo di identificativo',
    kinds: { userId: 'Id utente', anonymousId: 'Id anonimo', email: 'Indirizzo e-mail', phone: 'Numero di telefono' },
    value: 'Identificativo',
    requestLanguage: 'Lingua della risposta',
    langs: { it: 'Italiano', en: 'Inglese' },
    details: 'Dettagli (facoltativi)',
    receivedOn: 'Ricevuta il (se prima di oggi)',
    purposes: 'Finalità a cui si oppone (opposizione; nessuna spuntata: quelle di marketing diretto)',
    traits: 'Valori corretti (rettifica), uno per riga: nome: valore',
    suppress: 'Scartare anche gli eventi successivi con gli stessi identificativi (cancellazione)',
    created: (type: string, status: string, due: string) => `Richiesta di ${type} creata: ${status}, scadenza ${due}.`,
    badValues: 'Scrivere i valori uno per riga come nome: valore.',
    outcomeWords: { subjectFound: 'persona trovata', identities: 'identificativi', traits: 'campi del profilo', events: 'eventi', consents: 'scelte di consenso', unreadable: 'elementi illeggibili', expiresAt: 'pacchetto disponibile fino al', suppressed: 'eventi successivi scartati', keysDestroyed: 'chiavi distrutte', updated: 'campi corretti', added: 'campi aggiunti', removed: 'campi eliminati', refused: 'campi rifiutati', restricted: 'trattamento limitato', liftedAt: 'limitazione revocata il', liftReason: 'motivo della revoca', purposes: 'finalità', note: 'nota' } as Record<string, string>,
    yes: 'sì',
    no: 'no',
  },
} satisfies Record<Lang, unknown>;

type Words = (typeof TEXT)[Lang];

export interface RightsRequest {
  id: string;
  type: string;
  status: string;
  statusReason: string | null;
  waiting: { reason: string; holdReason?: string } | null;
  channel: string;
  language: string;
  identityKind: string | null;
  subjectId: string | null;
  receivedAt: string;
  verifiedAt: string | null;
  dueAt: string;
  overdue: boolean;
  extension: { at: string; months: number; reason: string } | null;
  closedAt: string | null;
  outcome: Record<string, unknown>;
  package: { kind: string; expiresAt: string; formats: string[] } | null;
  history?: { at: string; status: string; step: string; reason: string | null; actor: string }[];
}

const isFinal = (r: RightsRequest) => r.status === 'completed' || r.status === 'rejected';
const base = (id: string) => `/api/v1/rights-requests/${encodeURIComponent(id)}`;

/** Overdue first, then the nearest due date; ties by id (time-ordered), so the order is stable. */
export function queueOrder(a: RightsRequest, b: RightsRequest): number {
  if (a.overdue !== b.overdue) return a.overdue ? -1 : 1;
  return Date.parse(a.dueAt) - Date.parse(b.dueAt) || a.id.localeCompare(b.id);
}

/** `name: value` lines to an object; a value that parses as JSON is taken as such, an empty one removes the field. */
export function parseValues(text: string): Record<string, unknown> | null {
  const out: Record<string, unknown> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) return null;
    const name = line.slice(0, colon).trim();
    const raw = line.slice(colon + 1).trim();
    if (name === '') return null;
    let value: unknown = raw;
    if (raw === '') value = null;
    else {
      try {
        value = JSON.parse(raw);
      } catch {
        value = raw;
      }
    }
    out[name] = value;
  }
  return out;
}

function statusText(T: Words, r: RightsRequest): string {
  const s = T.statuses[r.status] ?? r.status;
  if (r.waiting) return `${s} — ${T.waiting[r.waiting.reason] ?? r.waiting.reason}`;
  if (r.status === 'rejected' && r.statusReason) return `${s} — ${T.rejections[r.statusReason] ?? r.statusReason}`;
  return s;
}

function dueCell(lang: Lang, T: Words, r: RightsRequest): Node {
  const cell = h('span', {}, day(lang, r.dueAt));
  if (r.overdue) cell.append(' ', h('span', { class: 'badge warn' }, T.overdue));
  return cell;
}

function downloads(ctx: PageContext, T: Words, r: RightsRequest): HTMLElement | null {
  if (!r.package) return null;
  const links = r.package.formats.map((f) =>
    h('a', { href: ctx.api.url(`${base(r.id)}/export`, { format: f, lang: ctx.lang }), target: '_blank', rel: 'noopener', class: 'download' }, T.download(f)),
  );
  return h('div', { class: 'package' }, h('p', {}, T.expires(dateTime(ctx.lang, r.package.expiresAt))), h('p', { class: 'links' }, ...links));
}

const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

/** What carrying out the request did, in words: counts, yes/no, dates; anything else as compact JSON. */
function outcomeView(lang: Lang, T: Words, outcome: Record<string, unknown>): HTMLElement {
  const value = (v: unknown): string => {
    if (typeof v === 'boolean') return v ? T.yes : T.no;
    if (typeof v === 'number') return String(v);
    if (typeof v === 'string') return ISO_INSTANT.test(v) ? dateTime(lang, v) : (T.rejections[v] ?? v);
    // Field names and counts: a list in words, "—" when empty.
    if (Array.isArray(v)) return v.length === 0 ? '—' : v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(', ');
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v);
      return entries.length === 0 ? '—' : entries.map(([k, x]) => `${k}: ${typeof x === 'string' || typeof x === 'number' ? x : JSON.stringify(x)}`).join(', ');
    }
    return JSON.stringify(v);
  };
  return facts(Object.entries(outcome).map(([k, v]) => [T.outcomeWords[k] ?? k, value(v)] as const));
}

/** The request's facts, its package and its history. */
function requestFacts(ctx: PageContext, T: Words, r: RightsRequest): Node[] {
  const L = ctx.lang;
  const out: Node[] = [
    facts([
      [T.type, T.types[r.type] ?? r.type],
      [T.status, statusText(T, r)],
      [T.id, h('code', {}, r.id)],
      [T.channel, T.channels[r.channel] ?? r.channel],
      [T.language, r.language === 'it' || r.language === 'en' ? T.langs[r.language] : r.language],
      [T.identity, r.identityKind ? ((T.kinds as Record<string, string>)[r.identityKind] ?? r.identityKind) : null],
      [T.subject, r.subjectId ? h('code', {}, r.subjectId) : null],
      [T.received, dateTime(L, r.receivedAt)],
      [T.verified, dateTime(L, r.verifiedAt)],
      [T.due, dueCell(L, T, r)],
      [T.extension, r.extension ? T.extended(r.extension.months, r.extension.reason) : null],
      [T.closed, dateTime(L, r.closedAt)],
    ]),
  ];
  if (Object.keys(r.outcome).length > 0) out.push(h('h3', {}, T.outcome), outcomeView(L, T, r.outcome));
  const pkg = downloads(ctx, T, r);
  if (pkg) out.push(h('h3', {}, T.package), pkg);
  if (r.history) {
    const rows = r.history.map((x) => [dateTime(L, x.at), T.steps[x.step] ?? x.step, T.statuses[x.status] ?? x.status, x.reason ? (T.rejections[x.reason] ?? x.reason) : null, x.actor]);
    out.push(table(T.history, [T.at, T.step, T.status, T.reason, T.actor], rows));
  }
  return out;
}

type Act = (action: string, path: string, body: unknown) => Promise<void>;

/** The forms of the actions this request's state allows. */
function actionForms(ctx: PageContext, T: Words, r: RightsRequest, act: Act): Node[] {
  const report = (err: unknown) => ctx.announce(errorText(err, ctx.lang), 'error');
  const out: Node[] = [];
  if (r.status === 'verified' || r.status === 'in_progress') {
    const values = h('textarea', { name: 'traits', rows: '3', maxlength: '8000' });
    const children: Node[] = r.type === 'rectification' ? [field(T.processValues, values, T.processHint)] : [];
    children.push(h('button', { type: 'submit', class: 'primary' }, T.process));
    out.push(
      form(T.process, children, async (data) => {
        const traits = r.type === 'rectification' ? parseValues(String(data.get('traits') ?? '')) : {};
        if (traits === null) return ctx.announce(T.badValues, 'error');
        await act('process', `${base(r.id)}/process`, Object.keys(traits).length > 0 ? { traits } : {});
      }, report),
    );
  }
  if (!isFinal(r) && !r.extension && !r.overdue) {
    const months = select('months', [['1', '1'], ['2', '2']], '2');
    const reason = h('textarea', { name: 'reason', required: '', rows: '2', maxlength: '2000' });
    out.push(
      form(T.extend, [field(T.months, months), field(T.extendReason, reason), h('button', { type: 'submit' }, T.extend)], (data) =>
        act('extend', `${base(r.id)}/extend`, { months: Number(data.get('months')), reason: String(data.get('reason')).trim() }), report),
    );
  }
  if (!isFinal(r)) {
    const reasons = select('reason', STAFF_REJECTIONS.map((x) => [x, T.rejections[x] ?? x] as const));
    const note = h('textarea', { name: 'note', rows: '2', maxlength: '2000' });
    out.push(
      form(T.reject, [field(T.rejectReason, reasons), field(T.note, note), h('button', { type: 'submit', class: 'danger' }, T.reject)], (data) => {
        const n = String(data.get('note') ?? '').trim();
        return act('reject', `${base(r.id)}/reject`, { reason: String(data.get('reason')), ...(n ? { note: n } : {}) });
      }, report),
    );
  }
  if (r.type === 'restriction' && r.status === 'completed' && r.outcome['restricted'] === true) {
    const reason = h('textarea', { name: 'reason', required: '', rows: '2', maxlength: '2000' });
    out.push(
      form(T.lift, [field(T.liftReason, reason), h('button', { type: 'submit' }, T.lift)], (data) => act('lift', `${base(r.id)}/lift-restriction`, { reason: String(data.get('reason')).trim() }), report),
    );
  }
  return out;
}

/** The list of requests: filters, the table, and the open request below it. */
class Queue {
  readonly T: Words;
  readonly tableBox = h('div', {});
  readonly detail = h('div', {});
  readonly more: HTMLButtonElement;
  requests: RightsRequest[] = [];
  next: string | null = null;
  query: Record<string, string | undefined> = {};

  constructor(readonly ctx: PageContext) {
    this.T = TEXT[ctx.lang];
    this.more = button(this.T.more, { hidden: '' });
    this.more.addEventListener('click', () => void this.load(true).catch((err: unknown) => this.ctx.announce(errorText(err, this.ctx.lang), 'error')));
  }

  async load(append = false): Promise<void> {
    const page = await this.ctx.api.get<{ requests: RightsRequest[]; next: string | null }>('/api/v1/rights-requests', { ...this.query, limit: 100, before: append ? (this.next ?? undefined) : undefined });
    this.requests = append ? [...this.requests, ...page.requests] : page.requests;
    this.next = page.next;
    this.more.hidden = this.next === null;
    this.draw();
  }

  draw(): void {
    const { T, ctx } = this;
    const rows = [...this.requests].sort(queueOrder).map((r) => {
      const open = button(T.open, { 'aria-label': T.openLabel(T.types[r.type] ?? r.type, day(ctx.lang, r.dueAt)), 'data-id': r.id });
      open.addEventListener('click', () => void this.open(r.id));
      return [T.types[r.type] ?? r.type, statusText(T, r), dateTime(ctx.lang, r.receivedAt), dueCell(ctx.lang, T, r), r.identityKind ? ((T.kinds as Record<string, string>)[r.identityKind] ?? r.identityKind) : null, open];
    });
    this.tableBox.replaceChildren(table(T.queue, [T.type, T.status, T.received, T.due, T.identity, T.actions], rows, T.none));
  }

  /** Shows one request with its history and the actions its state allows. */
  async open(id: string, focus = true): Promise<void> {
    const { T, ctx } = this;
    try {
      const r = await ctx.api.get<RightsRequest>(base(id));
      const act: Act = async (action, path, body) => {
        const updated = await ctx.api.send<RightsRequest>('POST', path, body);
        this.replace(updated);
        await this.open(updated.id, false);
        ctx.announce(T.nowStatus(T.done[action] ?? action, statusText(T, updated)));
      };
      const heading = h('h2', { tabindex: '-1' }, `${T.request}: ${T.types[r.type] ?? r.type}`);
      this.detail.replaceChildren(h('section', { class: 'card rights-request', 'aria-label': T.request }, heading, ...requestFacts(ctx, T, r), ...actionForms(ctx, T, r, act)));
      if (focus) heading.focus();
    } catch (err) {
      ctx.announce(errorText(err, ctx.lang), 'error');
    }
  }

  /** The row of an updated request, in place (or added at the top of the queue's order). */
  replace(r: RightsRequest): void {
    const i = this.requests.findIndex((x) => x.id === r.id);
    if (i >= 0) this.requests[i] = r;
    else this.requests.unshift(r);
    this.draw();
  }
}

function filtersForm(q: Queue): HTMLFormElement {
  const { T, ctx } = q;
  const status = select('status', [['', T.all], ...STATUSES.map((s) => [s, T.statuses[s] ?? s] as const)], ctx.params.get('status') ?? '');
  const type = select('type', [['', T.all], ...TYPES.map((t) => [t, T.types[t] ?? t] as const)], ctx.params.get('type') ?? '');
  const overdue = h('input', { type: 'checkbox', name: 'overdue', value: 'true' });
  overdue.checked = ctx.params.get('overdue') === 'true';
  const read = () => ({ status: status.value || undefined, type: type.value || undefined, overdue: overdue.checked ? 'true' : undefined });
  q.query = read();
  return form(
    T.filters,
    [field(T.status, status), field(T.type, type), h('label', { class: 'check' }, overdue, ' ', T.overdueOnly), h('button', { type: 'submit' }, T.apply)],
    async () => {
      q.query = read();
      ctx.setParams(q.query);
      await q.load();
      ctx.announce(`${T.queue}: ${q.requests.length}`);
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
}

function createForm(q: Queue, purposes: readonly { key: string; name: string }[]): HTMLElement {
  const { T, ctx } = q;
  const type = select('type', TYPES.map((t) => [t, T.types[t] ?? t] as const), 'access');
  const boxes = purposes.map((p) => h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'purposes', value: p.key }), ' ', p.name));
  const objection = h('fieldset', { class: 'only-objection' }, h('legend', {}, T.purposes), ...boxes);
  const rectification = field(T.traits, h('textarea', { name: 'traits', rows: '3', maxlength: '8000' }));
  const erasure = h('label', { class: 'check' }, h('input', { type: 'checkbox', name: 'suppress', value: 'true' }), ' ', T.suppress);
  const sync = () => {
    objection.hidden = type.value !== 'objection';
    rectification.hidden = type.value !== 'rectification';
    erasure.hidden = type.value !== 'erasure';
  };
  type.addEventListener('change', sync);
  sync();
  const f = form(
    T.create,
    [
      field(T.type, type),
      field(T.kind, select('kind', Object.entries(T.kinds))),
      field(T.value, input('value', { required: '', maxlength: '500', autocomplete: 'off', spellcheck: 'false' })),
      field(T.requestLanguage, select('language', [['it', T.langs.it], ['en', T.langs.en]], ctx.lang)),
      field(T.receivedOn, input('receivedAt', { type: 'date' })),
      field(T.details, h('textarea', { name: 'details', rows: '2', maxlength: '4000' })),
      objection,
      rectification,
      erasure,
      h('button', { type: 'submit', class: 'primary' }, T.create),
    ],
    async (data, el) => {
      const body = createBody(data, type.value);
      if (!body) return ctx.announce(T.badValues, 'error');
      const made = await ctx.api.send<{ id: string; status: string; dueAt: string }>('POST', '/api/v1/rights-requests', body);
      el.reset();
      sync();
      const r = await ctx.api.get<RightsRequest>(base(made.id));
      q.replace(r);
      await q.open(r.id, false);
      ctx.announce(T.created(T.types[r.type] ?? r.type, statusText(T, r), day(ctx.lang, r.dueAt)));
    },
    (err) => ctx.announce(errorText(err, ctx.lang), 'error'),
  );
  return section(T.create, h('p', {}, T.createIntro), f);
}

/** The POST body of a staff request: only the fields its type uses; null when the rectification values do not parse. */
function createBody(data: FormData, type: string): Record<string, unknown> | null {
  const body: Record<string, unknown> = {
    type,
    identity: `${String(data.get('kind'))}:${String(data.get('value')).trim()}`,
    language: String(data.get('language')),
  };
  const details = String(data.get('details') ?? '').trim();
  if (details) body['details'] = details;
  const receivedAt = String(data.get('receivedAt') ?? '');
  if (receivedAt) body['receivedAt'] = new Date(`${receivedAt}T00:00:00`).toISOString();
  if (type === 'objection') {
    const purposes = data.getAll('purposes').map(String);
    if (purposes.length > 0) body['purposes'] = purposes;
  }
  if (type === 'rectification') {
    const traits = parseValues(String(data.get('traits') ?? ''));
    if (!traits) return null;
    body['traits'] = traits;
  }
  if (type === 'erasure' && data.get('suppress') === 'true') body['suppress'] = true;
  return body;
}

export const rightsPage: ConsolePage = {
  id: 'rights',
  title: { en: 'Rights requests', it: 'Richieste degli interessati' },
  // The rights API answers admin and dpo.
  roles: ['admin', 'dpo'],
  async render(main, ctx) {
    const q = new Queue(ctx);
    const filters = filtersForm(q);
    const [, notice] = await Promise.all([q.load(), ctx.api.get<{ purposes: { key: string; name: string }[] }>('/api/v1/ropa/purposes', { lang: ctx.lang })]);
    main.append(h('div', { class: 'page-rights' }, h('p', {}, q.T.intro), section(q.T.queue, filters, q.tableBox, q.more), q.detail, createForm(q, notice.purposes)));
  },
};
